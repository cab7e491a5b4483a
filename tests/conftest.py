"""Shared fixtures. Everything runs offline on CPU with the built-in model or tiny
pipelines built here from configs (random weights, real diffusers classes)."""

import os
import shutil

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from cinedraft import Engine, Settings  # noqa: E402
from cinedraft_training.scenes import grammar_words  # noqa: E402
from cinedraft_training.tokenizer import build_tokenizer  # noqa: E402

from .qwen_layout import save_qwen  # noqa: E402


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """One engine for the session: the built-in model is loaded once."""
    home = tmp_path_factory.mktemp("home")
    return Engine(Settings(home=home, offline=True, device="cpu"))


# Stable Diffusion's noise schedule (SD 1.x/2.x/XL scheduler configs), for every tiny SD model.
SD_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)


def _clip(vocab: int, hidden: int = 32, projection: bool = False, positions: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=positions,
        projection_dim=hidden,
        bos_token_id=vocab - 2,
        eos_token_id=vocab - 1,
        pad_token_id=vocab - 1,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def _vae(flow: bool = False):
    """A tiny AutoencoderKL; ``flow``: as the flow-matching pipelines (FLUX, SD 3) have it,
    without quant convs and with a latent shift."""
    from diffusers import AutoencoderKL

    flow_only = dict(
        use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035
    )
    return AutoencoderKL(
        block_out_channels=(16, 32),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8,
        sample_size=32,
        **(flow_only if flow else {}),
    )


def _sdxl_unet(cross_attention_dim: int, time_ids: int, pooled: int = 32, in_channels: int = 4):
    """A tiny SDXL UNet: text_time conditioning on the pooled text (``pooled``) and
    ``time_ids`` embeddings of 8 (the base has 6 ids, the refiner 5: its aesthetic score);
    ``in_channels`` 8 for InstructPix2Pix (the noise and the source image's latents)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=pooled + time_ids * 8,
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=16,
    )


def _sd_unet(in_channels: int = 4):
    """A tiny SD 1.x UNet; 8 input channels for InstructPix2Pix (noise + source latents)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=16,
        attention_head_dim=4,
    )


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    """A Stable Diffusion 1.x-architecture pipeline folder (not the shipped one)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    unet = _sd_unet()
    pipe = StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=_clip(len(tokenizer)),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(**SD_BETAS),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    path = tmp_path_factory.mktemp("models") / "tiny-sd"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_edit_models(tmp_path_factory):
    """Instruction-edit pipeline folders (random weights): InstructPix2Pix (an SD 1.x UNet
    with 8 input channels), SDXL InstructPix2Pix, FLUX.1 Kontext and Qwen-Image-Edit (and its
    2509 "Plus" pipeline), as {"name": path}."""
    from diffusers import (
        EulerAncestralDiscreteScheduler,
        EulerDiscreteScheduler,
        FluxKontextPipeline,
        StableDiffusionInstructPix2PixPipeline,
        StableDiffusionXLInstructPix2PixPipeline,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    root = tmp_path_factory.mktemp("models")
    pipes = {
        "ip2p": StableDiffusionInstructPix2PixPipeline(
            vae=_vae(),
            text_encoder=_clip(len(tokenizer)),
            tokenizer=tokenizer,
            unet=_sd_unet(in_channels=8),
            scheduler=EulerAncestralDiscreteScheduler(**SD_BETAS),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        ),
        "sdxl-ip2p": StableDiffusionXLInstructPix2PixPipeline(
            vae=_vae(),
            text_encoder=_clip(len(tokenizer)),
            text_encoder_2=_clip(len(tokenizer), projection=True),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=_sdxl_unet(cross_attention_dim=64, time_ids=6, in_channels=8),
            scheduler=EulerDiscreteScheduler(**SD_BETAS),
        ),
        "kontext": FluxKontextPipeline(**_tiny_flux(True).components),
    }
    folders = {}
    for name, pipe in pipes.items():
        folders[name] = root / f"tiny-{name}"
        pipe.save_pretrained(folders[name], safe_serialization=True)
    for name, pipeline in (
        ("qwen-edit", "QwenImageEditPipeline"),
        ("qwen-edit-plus", "QwenImageEditPlusPipeline"),
    ):
        folders[name] = save_qwen(root / f"tiny-{name}", pipeline)
    return folders


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory):
    """A Stable Diffusion XL-architecture pipeline folder: two text encoders, text_time."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    unet = _sdxl_unet(cross_attention_dim=64, time_ids=6)  # two encoders: 32 + 32
    pipe = StableDiffusionXLPipeline(
        vae=_vae(),
        text_encoder=_clip(len(tokenizer)),
        text_encoder_2=_clip(len(tokenizer), projection=True),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_BETAS),
    )
    path = tmp_path_factory.mktemp("models") / "tiny-sdxl"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def _t5(vocab: int, umt5: bool = False):
    from transformers import T5Config, T5EncoderModel, UMT5EncoderModel

    config = T5Config(
        vocab_size=vocab,
        d_model=32,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=vocab - 1,
        eos_token_id=vocab - 1,
        decoder_start_token_id=0,
    )
    return (UMT5EncoderModel if umt5 else T5EncoderModel)(config)


def _tiny_ltx(path, timestep_conditioning: bool = False):
    """An LTX-Video-architecture pipeline folder (text and image to video), random weights;
    ``timestep_conditioning``: the VAE of LTX-Video 0.9.1 and later."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    pipe = LTXPipeline(
        transformer=LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=32,
        ),
        vae=AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=timestep_conditioning,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=_t5(len(tokenizer)),
        tokenizer=tokenizer,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_ltx(tmp_path_factory):
    return _tiny_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx")


@pytest.fixture(scope="session")
def tiny_ltx_091(tmp_path_factory):
    return _tiny_ltx(tmp_path_factory.mktemp("models") / "tiny-ltx-0.9.1", True)


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory):
    """A Wan-architecture text-to-video pipeline folder, random weights."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    pipe = WanPipeline(
        vae=AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=_t5(len(tokenizer), umt5=True),
        tokenizer=tokenizer,
        transformer=WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        ),
    )
    path = tmp_path_factory.mktemp("models") / "tiny-wan"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


def flux_transformer(
    guidance_embeds: bool, head_dim: int = 16, heads: int = 2, rope: tuple = (4, 4, 8)
):
    """A FLUX.1 transformer of one block of each kind, ``heads`` x ``head_dim`` wide, fed by
    the tiny pipelines' 32-wide text encoders."""
    from diffusers import FluxTransformer2DModel

    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=head_dim,
        num_attention_heads=heads,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=list(rope),
        guidance_embeds=guidance_embeds,
    )


def _tiny_flux(guidance_embeds: bool):
    """A FLUX.1-architecture pipeline: dev has a guidance embedding, schnell has none."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    return FluxPipeline(
        transformer=flux_transformer(guidance_embeds),
        vae=_vae(flow=True),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=_clip(len(tokenizer)),
        tokenizer=tokenizer,
        text_encoder_2=_t5(len(tokenizer)),
        tokenizer_2=tokenizer,
    )


@pytest.fixture(scope="session")
def tiny_flux(tmp_path_factory):
    """FLUX.1-dev and FLUX.1-schnell folders (random weights), as {"dev": path, ...}."""
    root = tmp_path_factory.mktemp("models")
    folders = {}
    for name, embeds in (("dev", True), ("schnell", False)):
        folders[name] = root / f"tiny-flux-{name}"
        _tiny_flux(embeds).save_pretrained(folders[name], safe_serialization=True)
    return folders


@pytest.fixture(scope="session")
def tiny_pixart(tmp_path_factory):
    """A PixArt-Sigma pipeline folder: a text-to-image pipeline no cinedraft family names."""
    from diffusers import DDIMScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    pipe = PixArtSigmaPipeline(
        transformer=PixArtTransformer2DModel(
            sample_size=32,  # the size PixArt's resolution binning knows as 256 px
            num_layers=1,
            patch_size=2,
            attention_head_dim=8,
            num_attention_heads=2,
            caption_channels=32,
            in_channels=4,
            cross_attention_dim=16,
            out_channels=8,
            attention_bias=True,
            activation_fn="gelu-approximate",
            num_embeds_ada_norm=1000,
            norm_type="ada_norm_single",
            norm_elementwise_affine=False,
            norm_eps=1e-6,
        ),
        vae=_vae(),
        scheduler=DDIMScheduler(),
        text_encoder=_t5(len(tokenizer)),
        tokenizer=tokenizer,
    )
    path = tmp_path_factory.mktemp("models") / "tiny-pixart"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_sd_checked(tiny_sd, tmp_path_factory):
    """``tiny_sd`` in the official SD 1.5 layout: a ``safety_checker`` from diffusers' own
    ``stable_diffusion`` module and a ``feature_extractor``, as diffusers writes them. Its
    concept thresholds are set so that it flags every image (``flags=True``) or none."""
    import json
    import shutil

    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor

    def make(flags: bool):
        folder = tmp_path_factory.mktemp("models") / f"tiny-sd-checked-{flags}"
        shutil.copytree(tiny_sd, folder)
        torch.manual_seed(0)
        tiny = dict(
            hidden_size=16, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2
        )
        config = CLIPConfig(
            text_config=tiny | {"vocab_size": 99},
            vision_config=tiny | {"image_size": 32, "patch_size": 8},
            projection_dim=8,
        )
        checker = StableDiffusionSafetyChecker(config)
        with torch.no_grad():  # a cosine similarity is in [-1, 1]: -10 always, 10 never
            checker.concept_embeds_weights.fill_(-10.0 if flags else 10.0)
            checker.special_care_embeds_weights.fill_(10.0)
        checker.save_pretrained(folder / "safety_checker", safe_serialization=True)
        CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ).save_pretrained(folder / "feature_extractor")
        index = json.loads((folder / "model_index.json").read_text())
        index |= {
            "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
            "feature_extractor": ["transformers", "CLIPImageProcessor"],
            "requires_safety_checker": True,
        }
        (folder / "model_index.json").write_text(json.dumps(index))
        return folder

    return {flags: make(flags) for flags in (False, True)}


@pytest.fixture(scope="session")
def tiny_sd_adapters(tiny_sd, tmp_path_factory):
    """Files made for ``tiny_sd`` as users get them: a LoRA in diffusers' format and the same
    LoRA in kohya's (sd-scripts) key names, an A1111 textual-inversion embedding, and a
    diffusers VAE folder with other weights."""
    import shutil

    from diffusers import AutoencoderKL, StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("adapters")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    torch.manual_seed(1)
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    pipe.unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False)
    )
    state = get_peft_model_state_dict(pipe.unet)
    StableDiffusionPipeline.save_lora_weights(root / "diffusers", unet_lora_layers=state)
    kohya = {}
    for key, value in state.items():
        module, _, kind = key.rpartition(".lora_")
        name = "lora_unet_" + module.replace(".", "_")
        kohya[f"{name}.lora_{'down' if kind.startswith('A') else 'up'}.weight"] = value
        kohya[f"{name}.alpha"] = torch.tensor(4.0)
    save_file(kohya, str(root / "kohya-style.safetensors"))
    save_file({"emb_params": torch.randn(1, 32) * 2}, str(root / "shiny.safetensors"))
    vae = AutoencoderKL.from_pretrained(tiny_sd / "vae")
    with torch.no_grad():
        vae.decoder.conv_out.bias.add_(0.5)  # a brighter decoder
    vae.save_pretrained(root / "bright-vae", safe_serialization=True)
    shutil.copy(root / "diffusers" / "pytorch_lora_weights.safetensors", root / "lora.safetensors")
    return {
        "lora": root / "lora.safetensors",
        "kohya": root / "kohya-style.safetensors",
        "embedding": root / "shiny.safetensors",
        "vae": root / "bright-vae",
    }


@pytest.fixture(scope="session")
def tiny_sdxl_refiner(tmp_path_factory):
    """An SDXL refiner folder (StableDiffusionXLImg2ImgPipeline): the second text encoder
    only, aesthetic-score time ids, random weights, sized to follow ``tiny_sdxl``."""
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionXLImg2ImgPipeline,
    )

    torch.manual_seed(0)
    tokenizer = build_tokenizer(grammar_words())
    unet = _sdxl_unet(cross_attention_dim=32, time_ids=5)  # the refiner's aesthetic ids
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=_vae(),
        text_encoder=None,
        text_encoder_2=_clip(len(tokenizer), projection=True),
        tokenizer=None,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_BETAS),
        requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False,
    )
    path = tmp_path_factory.mktemp("models") / "tiny-sdxl-refiner"
    pipe.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture(scope="session")
def tiny_sd3(tmp_path_factory):
    """SD 3 and SD 3.5 folders (random weights): three text encoders, an MMDiT; SD 3.5's
    transformer normalises queries and keys (``qk_norm``), SD 3's does not."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )

    tokenizer = build_tokenizer(grammar_words())
    folders = {}
    for name, qk_norm in (("sd3", None), ("sd3.5", "rms_norm")):
        torch.manual_seed(0)
        pipe = StableDiffusion3Pipeline(
            transformer=SD3Transformer2DModel(
                sample_size=32,
                patch_size=1,
                in_channels=4,
                num_layers=1,
                attention_head_dim=8,
                num_attention_heads=4,
                caption_projection_dim=32,
                joint_attention_dim=32,
                pooled_projection_dim=64,
                out_channels=4,
                qk_norm=qk_norm,
            ),
            vae=_vae(flow=True),
            scheduler=FlowMatchEulerDiscreteScheduler(),
            text_encoder=_clip(len(tokenizer), projection=True),
            tokenizer=tokenizer,
            text_encoder_2=_clip(len(tokenizer), projection=True),
            tokenizer_2=tokenizer,
            text_encoder_3=_t5(len(tokenizer)),
            tokenizer_3=tokenizer,
        )
        folders[name] = tmp_path_factory.mktemp("models") / f"tiny-{name}"
        pipe.save_pretrained(folders[name], safe_serialization=True)
    return folders


@pytest.fixture(scope="session")
def tiny_single_files(tmp_path_factory):
    """Tiny SD 1.x, SD 2.x, SDXL and SDXL refiner single-file checkpoints in the original
    (LDM / A1111) layout, with text encoders sized for CLIP's real 49,408-token vocabulary,
    a folder of their component configs laid out as cinedraft's shipped ones, and the same
    models as diffusers folders (``{"configs": folder, "folders": folder, "sd15": file}``)."""
    from diffusers import (
        DDIMScheduler,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLImg2ImgPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from safetensors.torch import save_file

    from cinedraft.engine.clip_vocab import clip_tokenizer
    from tests.ldm_layout import clip_to_ldm, openclip_to_ldm, unet_to_ldm, vae_to_ldm

    # SDXL's two encoders differ in width (diffusers tells them apart by it), so they do here.
    root = tmp_path_factory.mktemp("single-files")
    # OpenCLIP's tokenizers (SD 2.x's, SDXL's second) pad with "!", as the published ones do.
    vocab, tokenizer, open_tokenizer = 49408, clip_tokenizer(), clip_tokenizer("!")

    def sd_unet(cross: int, linear: bool):  # SD 1.x/2.x's four levels, attention on three
        return UNet2DConditionModel(
            block_out_channels=(16, 16, 32, 32),
            layers_per_block=2,
            sample_size=16,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=cross,
            attention_head_dim=4,
            norm_num_groups=8,
            use_linear_projection=linear,
        )

    torch.manual_seed(0)
    pipes = {
        "sd15": StableDiffusionPipeline(
            vae=_vae(),
            text_encoder=_clip(vocab, positions=77),
            tokenizer=tokenizer,
            unet=sd_unet(32, False),
            scheduler=DDIMScheduler(**SD_BETAS),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        ),
        "sd2": StableDiffusionPipeline(
            vae=_vae(),
            text_encoder=_clip(vocab, positions=77),
            tokenizer=open_tokenizer,
            unet=sd_unet(32, True),
            scheduler=DDIMScheduler(prediction_type="v_prediction", **SD_BETAS),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        ),
        "sdxl": StableDiffusionXLPipeline(
            vae=_vae(),
            text_encoder=_clip(vocab, positions=77),
            text_encoder_2=_clip(vocab, hidden=48, projection=True, positions=77),
            tokenizer=tokenizer,
            tokenizer_2=open_tokenizer,
            unet=_sdxl_unet(cross_attention_dim=32 + 48, time_ids=6, pooled=48),
            scheduler=EulerDiscreteScheduler(**SD_BETAS),
        ),
        "sdxl-refiner": StableDiffusionXLImg2ImgPipeline(
            vae=_vae(),
            text_encoder=None,
            text_encoder_2=_clip(vocab, hidden=48, projection=True, positions=77),
            tokenizer=None,
            tokenizer_2=open_tokenizer,
            unet=_sdxl_unet(cross_attention_dim=48, time_ids=5, pooled=48),
            scheduler=EulerDiscreteScheduler(**SD_BETAS),
            requires_aesthetics_score=True,
            force_zeros_for_empty_prompt=False,
        ),
    }
    encoders = {  # (component, LDM prefix, OpenCLIP names?) as each release laid them out
        "sd15": [("text_encoder", "cond_stage_model.transformer.", False)],
        "sd2": [("text_encoder", "cond_stage_model.model.", True)],
        "sdxl": [
            ("text_encoder", "conditioner.embedders.0.transformer.", False),
            ("text_encoder_2", "conditioner.embedders.1.model.", True),
        ],
        "sdxl-refiner": [("text_encoder_2", "conditioner.embedders.0.model.", True)],
    }
    files = {"configs": root / "configs", "folders": root / "folders"}
    for name, pipe in pipes.items():
        pipe.save_pretrained(root / "folders" / name, safe_serialization=True)  # to compare
        folder = root / "configs" / name
        shutil.copytree(
            root / "folders" / name, folder, ignore=shutil.ignore_patterns("*.safetensors")
        )
        for tok in ("tokenizer", "tokenizer_2"):
            shutil.rmtree(folder / tok, ignore_errors=True)
        state = unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config))
        state |= vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels))
        for component, prefix, openclip in encoders[name]:
            weights = getattr(pipe, component).state_dict()
            state |= (openclip_to_ldm if openclip else clip_to_ldm)(weights, prefix)
        files[name] = root / f"tiny-{name}.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, files[name])
    return files
