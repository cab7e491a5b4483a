"""Settings, read from ``CINEDRAFT_*`` environment variables (or passed in code).

Built by the caller (the CLI's ``main``, a test, the server's ``create_app``), never at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where cinedraft keeps things and which models and device it uses."""

    model_config = SettingsConfigDict(env_prefix="CINEDRAFT_", extra="forbid")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".cinedraft",
        description="Root folder for cinedraft's files; the library lives in HOME/library.",
    )
    library: Path | None = Field(
        None, description="Library folder (database, files, signing keys); default HOME/library."
    )
    policy: Path | None = Field(
        None,
        description="The usage policy (protected names: block, flag, allow); default "
        "HOME/policy.toml when it exists, else none. See docs/policy.md.",
    )
    audit_retention_days: int | None = Field(
        None,
        ge=1,
        description="Keep audit entries this many days; older ones are pruned as new ones "
        "are written, the chain anchored so the rest still verifies. Unset: kept forever.",
    )
    provenance: bool = Field(
        True, description="Sign every output with C2PA and watermark it with its asset id."
    )
    models: Path | None = Field(
        None,
        description="Models folder (default HOME/models): `--model NAME` finds NAME there, a "
        "diffusers folder or NAME.safetensors; `cinedraft models` lists it.",
    )
    wildcards: Path | None = Field(
        None,
        description="Wildcard files for templates (default HOME/wildcards): `__colours__` is "
        "every line of colours.txt there, as in A1111's Dynamic Prompts extension.",
    )
    styles: Path | None = Field(
        None,
        description="Prompt styles (`--style NAME`), in A1111's styles.csv format; default "
        "HOME/styles.csv.",
    )
    single_file_configs: Path | None = Field(
        None,
        description="Component configs for single-file checkpoints: one diffusers-layout "
        "folder per architecture (sd15, sd2, sd2-base, sdxl, sdxl-refiner); default: the "
        "published base models' configs shipped with cinedraft.",
    )
    text_encoder: str | None = Field(
        None,
        description="Where a FLUX or SD 3 transformer kept alone as one file (as ComfyUI keeps "
        "them) gets its text encoders, tokenizers and VAE: a diffusers folder or hub id of "
        "the same model, or the text encoder and VAE files, comma-separated (clip_l, t5xxl, "
        "ae; their configs and tokenizers from the official repo's small files in the HF "
        "cache); default: the model's official repo in the HF cache.",
    )
    model: str = Field(
        "builtin",
        description="Default model: 'builtin', a local diffusers folder, a single-file "
        ".safetensors checkpoint (SD 1.x/2.x/XL), or a hub id.",
    )
    draft_model: str | None = Field(
        None, description="Model for the draft tier, if not `model` (e.g. an SDXL-Turbo)."
    )
    production_model: str | None = Field(
        None, description="Model for the production tier, if not `model`."
    )
    refiner: str | None = Field(
        None,
        description="An SDXL refiner (a StableDiffusionXLImg2ImgPipeline folder): production "
        "on SDXL models hands it the last fifth of the denoising, as the SDXL docs show.",
    )
    video_model: str = Field(
        "builtin",
        description="Default video model: 'builtin', a local diffusers folder or a hub id "
        "(AnimateDiff, LTX-Video, Wan, CogVideoX, ModelScope pipelines).",
    )
    variant: str | None = Field(
        None,
        pattern=r"^[a-z0-9_]{1,16}$",
        description="Weights variant to load (fp16, bf16...) where a folder has several; "
        "by default the full-precision files, or the one variant a folder holds.",
    )
    safety_checker: bool = Field(
        True,
        description="Run the safety checker a model ships (the SD 1.x/2.x layouts): an image "
        "it flags is stored black, and flagged in its record. Off: not loaded (recorded).",
    )
    cpu_offload: bool = Field(
        False,
        description="Keep weights on the CPU and move each component to the GPU only "
        "while it runs (diffusers model CPU offload): large models on small GPUs, slower.",
    )
    vae_tiling: bool = Field(
        False,
        description="Decode latents in tiles: large frames in less memory.",
    )
    vae_slicing: bool = Field(
        False,
        description="Decode one image or frame at a time: long clips in less memory.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where pipelines run; 'auto' picks CUDA, then MPS, then CPU."
    )
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="Weights dtype; 'auto' is float32 on CPU, the family's choice on GPU."
    )
    offline: bool = Field(
        False,
        description="Never download: load only local folders and the HF cache. "
        "HF_HUB_OFFLINE=1 has the same effect.",
    )
    cache_size: int = Field(2, ge=1, description="Loaded pipelines kept in memory.")
    upscaler: Path | None = Field(
        None,
        description="Real-ESRGAN-style upscaler weights (.safetensors, RRDBNet or SRVGG) for "
        "the production tier; unset: Lanczos + unsharp mask, no weights.",
    )

    @property
    def library_root(self) -> Path:
        return self.library or self.home / "library"

    @property
    def policy_file(self) -> Path | None:
        """The policy in force: the setting's (which must then be readable), else
        HOME/policy.toml if there is one."""
        default = self.home / "policy.toml"
        return self.policy or (default if default.exists() else None)

    @property
    def models_root(self) -> Path:
        return self.models or self.home / "models"

    @property
    def wildcards_root(self) -> Path:
        return self.wildcards or self.home / "wildcards"

    @property
    def styles_file(self) -> Path:
        return self.styles or self.home / "styles.csv"

    def model_for(self, tier: str) -> str:
        """The model a tier uses unless the request names one."""
        override = {"draft": self.draft_model, "production": self.production_model}.get(tier)
        return override or self.model
