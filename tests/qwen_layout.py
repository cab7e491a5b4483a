"""Tiny Qwen-Image and Qwen-Image-Edit pipeline folders in the layout Qwen's repos have, built
offline.

Qwen's own test models come from the hub; here the Qwen2.5-VL processor is made from parts:
a byte-level BPE tokenizer of the 256 byte symbols plus Qwen's chat and vision special tokens,
and the Qwen2-VL image processor sized down (the vision tower sees a few patches, not the
1024² source). The folder's ``processor/`` holds what the official one holds (tokenizer files,
the image and the video preprocessor configs) and ``model_index.json`` names it as
``["transformers", "Qwen2VLProcessor"]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cinedraft.engine.clip_vocab import byte_alphabet

SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
WIDTH = 16  # the text encoder's hidden size, which the transformer's joint attention takes


def tokenizer():
    from transformers import Qwen2Tokenizer

    tok = Qwen2Tokenizer(vocab={c: i for i, c in enumerate(byte_alphabet())}, merges=[])
    tok.add_tokens(list(SPECIAL), special_tokens=True)
    return tok


def _text_encoder(tok):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = dict(zip(SPECIAL, tok.convert_tokens_to_ids(list(SPECIAL)), strict=True))
    text = {
        "hidden_size": WIDTH,
        "intermediate_size": WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "vocab_size": len(tok),
        "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
    }
    vision = {"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2}
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision | {"out_hidden_size": WIDTH},
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
    )
    return Qwen2_5_VLForConditionalGeneration(config)


def save_qwen(path: Path, pipeline: str) -> Path:
    """A ``pipeline`` (QwenImagePipeline, QwenImageEditPipeline, QwenImageEditPlusPipeline)
    folder at ``path``, random weights: a two-block transformer, a VAE that downsamples 8x as
    Qwen's does; the edit pipelines with their processor."""
    import diffusers
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageTransformer2DModel,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    torch.manual_seed(0)
    tok = tokenizer()
    edit = pipeline != "QwenImagePipeline"
    pipe = getattr(diffusers, pipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=AutoencoderKLQwenImage(
            base_dim=8,
            z_dim=4,
            dim_mult=[1, 2, 4, 4],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * 4,
            latents_std=[1.0] * 4,
        ),
        text_encoder=_text_encoder(tok),
        tokenizer=tok,
        **({"processor": None} if edit else {}),  # written below as Qwen's repos have it
        transformer=QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=16,
            out_channels=4,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=3,
            joint_attention_dim=WIDTH,
            guidance_embeds=False,
            axes_dims_rope=(8, 4, 4),
        ),
    )
    pipe.save_pretrained(path, safe_serialization=True)
    if not edit:
        return path
    processor = path / "processor"
    tok.save_pretrained(processor)
    image = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=56 * 56)
    image.save_pretrained(processor)
    config = json.loads((processor / "preprocessor_config.json").read_text())
    config |= {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor",
    }
    (processor / "preprocessor_config.json").write_text(json.dumps(config, indent=2))
    video = config | {"video_processor_type": "Qwen2VLVideoProcessor"}
    (processor / "video_preprocessor_config.json").write_text(json.dumps(video, indent=2))
    index = json.loads((path / "model_index.json").read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    (path / "model_index.json").write_text(json.dumps(index, indent=2))
    return path
