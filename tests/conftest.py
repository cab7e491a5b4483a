"""Shared fixtures. Everything runs offline on CPU with the built-in model or tiny
pipelines built here from configs (random weights, real diffusers classes)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from cinedraft import Engine, Settings  # noqa: E402
from cinedraft.builtin.scenes import grammar_words  # noqa: E402
from cinedraft.builtin.tokenizer import build_tokenizer  # noqa: E402


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """One engine for the session: the built-in model is loaded once."""
    home = tmp_path_factory.mktemp("home")
    return Engine(Settings(home=home, offline=True, device="cpu"))


def _clip(vocab: int, hidden: int = 32, projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=32, projection_dim=hidden,
        bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8, sample_size=32,
    )


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    """A Stable Diffusion 1.x-architecture pipeline folder (not the shipped one)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        norm_num_groups=16, attention_head_dim=4,
    )
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=_clip(len(tokenizer)), tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    path = tmp_path_factory.mktemp("models") / "tiny-sd"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory):
    """A Stable Diffusion XL-architecture pipeline folder: two text encoders, text_time."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=16,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=_clip(len(tokenizer)),
        text_encoder_2=_clip(len(tokenizer), projection=True), tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet,
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    )
    path = tmp_path_factory.mktemp("models") / "tiny-sdxl"
    pipe.save_pretrained(path, safe_serialization=True)
    return path
