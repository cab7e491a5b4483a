"""Writing a diffusers pipeline's weights in the original (LDM / A1111) single-file layout,
so tests can make tiny checkpoints laid out exactly as ``dreamshaper_8.safetensors`` or
``sd_xl_base_1.0.safetensors`` are: one file, ``model.diffusion_model.`` for the UNet,
``first_stage_model.`` for the VAE, ``cond_stage_model.`` (SD 1.x/2.x) or
``conditioner.embedders.N.`` (SDXL) for the text encoders.

The renames follow the original repositories' module names (CompVis/stable-diffusion's
``openaimodel.py`` UNet and ``model.py`` autoencoder, OpenCLIP's text transformer); diffusers'
``from_single_file`` reads them back, which is what the tests check.
"""

from __future__ import annotations

import re

import torch

RESNET = {  # diffusers ResnetBlock2D -> LDM ResBlock (UNet)
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def unet_to_ldm(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """A UNet2DConditionModel's weights under ``model.diffusion_model.``. LDM numbers its
    blocks flat: each level has ``layers`` input blocks and a downsampler, and ``layers + 1``
    output blocks, the last of which holds the upsampler."""
    layers = config["layers_per_block"]
    attends = ["CrossAttn" in t for t in config["up_block_types"]]
    out = {}
    for key, value in state.items():
        out["model.diffusion_model." + _unet_key(key, layers, attends)] = value
    return out


def _unet_key(key: str, n: int, up_attends: list[bool]) -> str:
    for hf, ldm in UNET_TOP.items():
        if key.startswith(hf + "."):
            return ldm + key[len(hf) :]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, part, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"input_blocks.{1 + i * (n + 1) + j}.{0 if part == 'resnets' else 1}." + (
            _resnet(rest) if part == "resnets" else rest
        )
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (n + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        part, j, rest = m[1], int(m[2]), m[3]
        if part == "attentions":
            return f"middle_block.1.{rest}"
        return f"middle_block.{2 * j}.{_resnet(rest)}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, part, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"output_blocks.{i * (n + 1) + j}.{0 if part == 'resnets' else 1}." + (
            _resnet(rest) if part == "resnets" else rest
        )
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
        i = int(m[1])
        return f"output_blocks.{i * (n + 1) + n}.{2 if up_attends[i] else 1}.{m[2]}"
    raise KeyError(f"no LDM name for UNet weight {key}")


def _resnet(rest: str) -> str:
    name, _, tail = rest.partition(".")
    return f"{RESNET[name]}.{tail}"


def vae_to_ldm(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    """An AutoencoderKL's weights under ``first_stage_model.``; LDM numbers the decoder's
    levels from the bottom and keeps the mid attention as 1x1 convolutions."""
    out = {}
    for key, value in state.items():
        key = key.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
        key = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", key)
        key = re.sub(
            r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", key
        )
        key = re.sub(
            r"decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.",
            lambda m: (
                f"decoder.up.{levels - 1 - int(m[1])}."
                + (f"block.{m[3]}." if m[2] == "resnets" else "upsample.")
            ),
            key,
        )
        key = re.sub(r"mid_block\.resnets\.(\d)\.", lambda m: f"mid.block_{int(m[1]) + 1}.", key)
        if "mid_block.attentions.0." in key:
            key = key.replace("mid_block.attentions.0.", "mid.attn_1.")
            for hf, ldm in (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v")):
                key = key.replace(f".{hf}.", f".{ldm}.")
            key = key.replace(".to_out.0.", ".proj_out.")
            if value.ndim == 2:
                value = value[:, :, None, None]
        out["first_stage_model." + key] = value
    return out


def clip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """OpenAI CLIP's text model (SD 1.x, SDXL's first encoder) keeps its transformers names
    (as they were when the checkpoints were made: under ``text_model.``)."""
    return {prefix + key: value for key, value in _wrapped(state).items()}


def _wrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers 5.6 took ``CLIPTextModel``'s weights out of ``text_model.``; checkpoints
    name them inside it."""
    return {
        key
        if key.startswith("text_model.") or key.startswith("text_projection")
        else "text_model." + key: value
        for key, value in state.items()
    }


def openclip_to_ldm(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A CLIP text model in OpenCLIP's names (SD 2.x, SDXL's second encoder): fused q/k/v
    projections, ``resblocks``, and ``text_projection`` as a [hidden, projection] matrix."""
    renames = (
        ("text_model.embeddings.token_embedding.weight", "token_embedding.weight"),
        ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
        ("text_model.final_layer_norm.", "ln_final."),
        ("text_model.encoder.layers.", "transformer.resblocks."),
        (".self_attn.out_proj.", ".attn.out_proj."),
        (".layer_norm1.", ".ln_1."),
        (".layer_norm2.", ".ln_2."),
        (".mlp.fc1.", ".mlp.c_fc."),
        (".mlp.fc2.", ".mlp.c_proj."),
    )
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in _wrapped(state).items():
        if key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
            continue
        if m := re.match(r"(.*)\.self_attn\.([qkv])_proj\.(weight|bias)", key):
            qkv.setdefault(f"{m[1]}.{m[3]}", {})[m[2]] = value
            continue
        for hf, ldm in renames:
            key = key.replace(hf, ldm)
        out[prefix + key] = value
    for layer_kind, parts in qkv.items():
        layer, kind = layer_kind.rsplit(".", 1)
        layer = layer.replace("text_model.encoder.layers.", "transformer.resblocks.")
        out[f"{prefix}{layer}.attn.in_proj_{kind}"] = torch.cat([parts[c] for c in "qkv"])
    return out


def flux_to_bfl(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A FluxTransformer2DModel's weights in Black Forest Labs' names (``flux1-dev.safetensors``
    as published): the reverse of diffusers' ``convert_flux_transformer_checkpoint_to_diffusers``
    (fused q/k/v, a single block's q/k/v/mlp in one ``linear1``, the final norm's scale and
    shift in the other order)."""
    renames = {
        "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
        "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
        "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
        "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
        "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
        "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
        "context_embedder": "txt_in",
        "x_embedder": "img_in",
        "proj_out": "final_layer.linear",
    }
    double = {
        "norm1.linear": "img_mod.lin",
        "norm1_context.linear": "txt_mod.lin",
        "attn.norm_q.weight": "img_attn.norm.query_norm.scale",
        "attn.norm_k.weight": "img_attn.norm.key_norm.scale",
        "attn.norm_added_q.weight": "txt_attn.norm.query_norm.scale",
        "attn.norm_added_k.weight": "txt_attn.norm.key_norm.scale",
        "ff.net.0.proj": "img_mlp.0",
        "ff.net.2": "img_mlp.2",
        "ff_context.net.0.proj": "txt_mlp.0",
        "ff_context.net.2": "txt_mlp.2",
        "attn.to_out.0": "img_attn.proj",
        "attn.to_add_out": "txt_attn.proj",
    }
    single = {
        "norm.linear": "modulation.lin",
        "attn.norm_q.weight": "norm.query_norm.scale",
        "attn.norm_k.weight": "norm.key_norm.scale",
        "proj_out": "linear2",
    }
    fused = {
        "transformer_blocks": (
            ("img_attn.qkv", ("attn.to_q", "attn.to_k", "attn.to_v")),
            ("txt_attn.qkv", ("attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj")),
        ),
        "single_transformer_blocks": (
            ("linear1", ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")),
        ),
    }
    out, done = {}, set()
    for key, value in state.items():
        if key.startswith("norm_out.linear."):
            shift, scale = value.chunk(2, dim=0)  # diffusers: scale, shift; BFL: shift, scale
            out["final_layer.adaLN_modulation.1." + key.rsplit(".", 1)[1]] = torch.cat(
                [scale, shift]
            )
            continue
        m = re.match(r"(transformer_blocks|single_transformer_blocks)\.(\d+)\.(.*)", key)
        if not m:
            stem, _, leaf = key.rpartition(".")
            out[f"{renames[stem]}.{leaf}"] = value
            continue
        kind, i, rest = m[1], m[2], m[3]
        prefix = f"{'double' if kind == 'transformer_blocks' else 'single'}_blocks.{i}."
        stem, _, leaf = rest.rpartition(".")
        for target, parts in fused[kind]:
            if stem in parts:
                if (kind, i, target, leaf) not in done:
                    done.add((kind, i, target, leaf))
                    out[prefix + f"{target}.{leaf}"] = torch.cat(
                        [state[f"{kind}.{i}.{p}.{leaf}"] for p in parts]
                    )
                break
        else:
            names = double if kind == "transformer_blocks" else single
            if rest in names:
                out[prefix + names[rest]] = value
            else:
                out[prefix + f"{names[stem]}.{leaf}"] = value
    return out
