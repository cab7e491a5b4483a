"""Text-to-image for any diffusers pipeline, through the tiers.

:meth:`ImageEngine.generate_image` (``Engine.generate_image``) reads top to bottom:

1. pick the model and tier, fill the request's blanks from the tier;
2. expand the prompt into one prompt and one seed per image;
3. sample the base images in batches (progress per step);
4. for tiers with a rendering pipeline: upscale, refine, cleanup; measure drift vs the draft;
5. store each image in the library (watermark, embedded record, C2PA signature, row).

Steps 1-4 are :meth:`ImageEngine.render_images`, which :meth:`ImageEngine.rerender` reuses to
re-run a stored record and compare pixels.
"""

from __future__ import annotations

import io
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..config import Settings
from ..errors import InputError
from ..ids import new_asset_id
from ..library import Asset, Library, watermark
from ..record import ImageRecord, Parent, read_record
from ..quality.metrics import drift_ssim
from ..render.cleanup import CleanupReport, clean_adaptive, dehalo, within_range
from ..media.metadata import encode_image
from ..render.refine import keep_colour, refine_image, refine_tiled, tile_grid
from ..render.upscale import ModelUpscaler, upscale_lanczos
from ..request import (
    ImageOutput,
    ImageRequest,
    Overrides,
    Progress,
    Rerender,
    Result,
    no_progress,
)
from ..tiers import QWEN_NEGATIVE, REFINER_SWITCH, SDXL, Family, Tier, tier_for
from .. import templates
from ..prompt_tags import without_tags
from ..weighting import unescaped
from .adapters import (
    Adapter,
    adapters_of,
    applied,
    changed,
    request_fields,
    speed_recipe,
)
from .calls import accepted, step_callbacks, takes
from .guard import Guard
from .models import LoadedModel, ModelCache, software_versions
from .prompts import (
    compel_texts,
    refiner_embeddings,
    unread_words,
    weighted_embeddings,
)
from .schedulers import is_flow, make_scheduler, sampler_label, schedule_label

BATCH = 8  # images per pipeline call


def _round8(x: float) -> int:
    return max(8, int(round(x / 8)) * 8)


def base_size(native: tuple[int, int], aspect: float) -> tuple[int, int]:
    """The model's native pixel area at the given aspect ratio, multiples of 8."""
    area = native[0] * native[1]
    return _round8(math.sqrt(area * aspect)), _round8(math.sqrt(area / aspect))


@dataclass(frozen=True)
class Part:
    """Some of one request's images, by prompt and seed (a cluster worker renders a part;
    the head split the request with :func:`prompts_and_seeds`), and the draft a promotion
    starts from when it is not in this machine's library."""

    prompts: list[str]
    seeds: list[int]
    parent: Asset | None = None


def _clip_skip(model: LoadedModel, asked: int | None) -> int | None:
    """The Clip skip a request's images are encoded with: A1111's number, for the CLIP-only
    SD 1.x/2.x families; None where it changes nothing (1, or 2 on SDXL, which reads its
    encoders' next-to-last layer already, as A1111 and ComfyUI do)."""
    family = model.family
    if asked is None or asked == 1 or (asked == 2 and family.compel == "CompelForSDXL"):
        return None
    if family.compel != "CompelForSD":
        raise InputError(
            f"clip skip {asked} is for SD 1.x and 2.x models, not {family.name} ones (SDXL "
            "reads its text encoders' next-to-last layer already: clip skip 2 there)"
        )
    layers = model.pipe.text_encoder.config.num_hidden_layers
    if asked > layers:
        raise InputError(f"clip skip {asked}: {model.ref}'s text encoder has {layers} layers")
    return asked


def prompts_and_seeds(request: ImageRequest, wildcards: Path | None) -> tuple[list[str], list[int]]:
    """Step 2: one prompt (adapter tags taken out) and one seed per image of ``request``; a
    template's wildcards are files in ``wildcards``."""
    text = without_tags(request.prompt)
    if request.template:
        prompts = templates.expand(text, request.count, wildcards)
    else:
        prompts = [text] * request.count
    if not all(p.strip() for p in prompts):
        raise InputError(f"the prompt {request.prompt!r} leaves an empty prompt")
    seed0 = secrets.randbelow(2**32) if request.seed is None else request.seed
    return prompts, [seed0 + i for i in range(request.count)]


@dataclass
class Rendered:
    """One image made by steps 1-4, not yet stored."""

    image: Image.Image
    record: ImageRecord
    drift: float | None


@dataclass(frozen=True)
class Plan:
    """What every image of one request shares, fixed in step 1."""

    request: ImageRequest
    model: LoadedModel
    tier: Tier
    base: tuple[int, int]  # the size sampled
    out: tuple[int, int]  # the size delivered
    parent: Asset | None  # the draft a promotion starts from
    adapters: list[Adapter]  # LoRAs, embeddings and VAE applied for the request
    refiner: LoadedModel | None = None  # SDXL's refiner, for the last steps of production
    clip_skip: int | None = None  # A1111's Clip skip where it changes what is read (2+)


class ImageEngine:
    """The image flow (see the module docstring) over the parts the :class:`Engine` facade
    shares with the video flow: settings, device, loaded-model cache, library, upscaler."""

    def __init__(
        self,
        settings: Settings,
        models: ModelCache,
        library: Library,
        device: torch.device,
        upscaler: ModelUpscaler | None,
        guard: Guard,
    ):
        self.settings, self.models, self.library = settings, models, library
        self.device, self.upscaler, self.guard = device, upscaler, guard

    def generate_image(
        self,
        request: ImageRequest,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ) -> Result:
        """Generate ``request.count`` images and store them; see the module docstring.
        ``record_extra`` is added to every record (the server names the job)."""
        progress = on_progress or no_progress
        started = time.perf_counter()
        rendered = self.render_images(request, progress)
        # 5. Store, all in one batch (two commits for the request, not two per image), and
        # say so in the audit trail.
        outputs = self.store(rendered, record_extra or {})
        self.audit(request, outputs)
        progress("save", len(outputs), len(outputs))
        seconds = time.perf_counter() - started
        return Result(
            request=request,
            outputs=outputs,
            seconds=seconds,
            seconds_per_image=seconds / len(outputs),
        )

    def render_images(
        self,
        request: ImageRequest,
        progress: Progress,
        tier: Tier | None = None,
        part: Part | None = None,
    ) -> list[Rendered]:
        """Steps 0-4: the images and their records, nothing written. ``tier`` replaces the
        named tier's preset (the clarity lab varies one field at a time); ``part``: only
        these images of the request (a cluster worker's share, see :class:`Part`)."""
        # 0. The usage policy, on every prompt the request can make, adapter tags and all
        # (a block stops here).
        # A cluster worker's share is checked as the prompts the head made of the template.
        verdict = self.guard.check(
            "generate", request.prompt, request, request.template, part and part.prompts
        )
        # 1. Model, adapters (LoRAs, embeddings, VAE), tier, sizes.
        plan = self.plan(request, tier, part.parent if part else None, progress)
        if plan.model.family.instruct:
            raise InputError(
                f"{plan.model.ref} is an instruction-edit model ({plan.model.family.name}): it "
                f'changes an image, it does not make one from text: `refine ID "the change" '
                f"--model {plan.model.ref}`"
            )
        # 2. One prompt and one seed per image (adapter tags taken out of the prompt).
        if part:
            prompts, seeds = part.prompts, part.seeds
        else:
            prompts, seeds = prompts_and_seeds(request, self.settings.wildcards_root)
        with applied(plan.model, plan.adapters):
            # 3. Base images.
            own = plan.model.own_scheduler
            plan.model.pipe.scheduler = make_scheduler(plan.tier.scheduler, own)
            t0 = time.perf_counter()
            images, flagged = self._sample(plan, prompts, seeds, progress)
            t_base = round((time.perf_counter() - t0) / len(images), 4)
            # 4. Rendering pipeline, drift against the draft.
            rendered = []
            for image, prompt, seed, flag in zip(images, prompts, seeds, flagged):
                item = self.finish(plan, image, prompt, seed, {"base": t_base}, progress)
                if plan.model.safety is not None:
                    ran = {} if flag is None else {"flagged": flag}
                    item.record.safety = {"checker": plan.model.safety} | ran
                policy = verdict.about(prompt, seen_as=without_tags)
                item.record.policy = self.guard.faces(policy, [item.image])
                rendered.append(item)
        return rendered

    def plan(
        self,
        request: ImageRequest,
        tier: Tier | None,
        parent: Asset | None,
        progress: Progress = no_progress,
    ) -> Plan:
        adapters = adapters_of(request, self.settings.models_root)
        ref = request.model or self.settings.model_for(request.tier)
        model = self.models.get(ref, progress=progress)
        tier = (tier or tier_for(model.family, request.tier)).with_overrides(
            steps=request.steps,
            guidance=request.guidance,
            scheduler=request.scheduler,
            refine_tiled=request.tiled_refine,
        )
        flow = is_flow(model.own_scheduler)
        tier, adapters = speed_recipe(tier, adapters, request, model.family.name, flow)
        out_w = request.width or model.native_size[0] * tier.upscale
        out_h = request.height or model.native_size[1] * tier.upscale
        base = (out_w, out_h) if tier.upscale == 1 else base_size(model.native_size, out_w / out_h)
        if parent is None and request.parent:
            parent = self.library.get(request.parent)
        if parent is not None:  # keep the draft's composition: the same base size, or
            # on another model its own area at the draft's aspect (the seed carries no
            # composition across models, but the framing does)
            draft = read_record(parent.record, ImageRecord, "a generated image")
            if draft.model == model.ref:
                base = (draft.base_width, draft.base_height)
            elif not request.width and not request.height:
                aspect = draft.base_width / draft.base_height
                base = base_size(model.native_size, aspect)
                out_w, out_h = base[0] * tier.upscale, base[1] * tier.upscale
        refiner = None
        if self.settings.refiner and tier.name == "production" and model.family.pipelines == SDXL:
            refiner = self.models.get(self.settings.refiner, kind="refiner")
        skip = _clip_skip(model, request.clip_skip)
        return Plan(request, model, tier, base, (out_w, out_h), parent, adapters, refiner, skip)

    def finish(
        self,
        plan: Plan,
        image: Image.Image,
        prompt: str,
        seed: int,
        timings: dict[str, float],
        progress: Progress,
    ) -> Rendered:
        """Step 4 for one base image: the tier's rendering pipeline, its record, its drift."""
        image, cleanup, tiles = self._render(plan, image, prompt, seed, timings, progress)
        record = self.make_record(plan, prompt, seed, image, timings)
        if tiles:
            record.render["refine_tiles"] = tiles
        if cleanup is not None:
            record.cleanup = asdict(cleanup)
        drift = None
        if plan.parent is not None:
            with Image.open(plan.parent.path) as draft:
                drift = drift_ssim(draft.convert("RGB"), image)
            record.drift_ssim = round(drift, 4)
        return Rendered(image, record, drift)

    def store(self, items: list[Rendered], record_extra: dict) -> list[ImageOutput]:
        """Step 5: watermark, sign and store rendered images in one batch;
        ``record_extra`` is added to every record."""
        assets = self.library.add_images(
            [
                (
                    item.image,
                    item.record.to_dict() | record_extra,
                    item.record.render["format"],
                    item.record.render["quality"],
                )
                for item in items
            ]
        )
        return [output_of(asset, item.drift) for item, asset in zip(items, assets)]

    def promote(
        self,
        asset_id: str,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
        overrides: Overrides | None = None,
        size: tuple[int, int] | None = None,
        tiled_refine: bool | None = None,
        negative_prompt: str | None = None,
    ) -> Result:
        """Re-render a draft at the production tier from its prompt and seed. The model is
        the one ``overrides`` names, else the production tier's (``production_model``), else
        the draft's own; steps, guidance and scheduler default to the tier's;
        ``tiled_refine``: as :attr:`ImageRequest.tiled_refine`; ``negative_prompt``: the
        draft's unless given."""
        request = self.promote_request(asset_id, overrides, size, tiled_refine, negative_prompt)
        return self.generate_image(request, on_progress, record_extra)

    def promote_request(
        self,
        asset_id: str,
        overrides: Overrides | None = None,
        size: tuple[int, int] | None = None,
        tiled_refine: bool | None = None,
        negative_prompt: str | None = None,
    ) -> ImageRequest:
        """The production request :meth:`promote` runs (arguments as there); a refusal when
        ``asset_id`` cannot be promoted."""
        draft = read_record(
            self.library.get(asset_id).record,
            ImageRecord,
            "a generated image; only those can be promoted",
        )
        if draft.edit:  # its prompt and seed would make the image before the edit
            raise InputError(
                f"{asset_id} is an edit turn: it is promoted from its pixels on one machine "
                "(`cinedraft promote`), not re-sampled from its prompt and seed"
            )
        if draft.tier == "production":  # it would be listed as a draft of itself
            source = next((p.id for p in draft.parents if p.role == "draft"), None)
            instead = f"promote its draft {source}" if source else "generate a draft"
            raise InputError(
                f"{asset_id} is already a production render: {instead}, or `rerender "
                f"{asset_id}` to make it again"
            )
        overrides = overrides or Overrides()
        width, height = size or (None, None)
        return ImageRequest(
            prompt=draft.prompt,
            negative_prompt=draft.negative_prompt if negative_prompt is None else negative_prompt,
            **request_fields(draft.adapters),
            model=overrides.model or self.settings.production_model or draft.model,
            tier="production",
            seed=draft.seed,
            parent=asset_id,
            steps=overrides.steps,
            guidance=overrides.guidance,
            scheduler=overrides.scheduler,
            clip_skip=draft.clip_skip,
            width=width,
            height=height,
            tiled_refine=tiled_refine,
        )

    def rerender(self, asset_id: str, on_progress: Progress | None = None) -> Rerender:
        """Run a stored record again; store the result and compare its pixels to the original.

        The comparison applies the original's own watermark and encoding to the fresh pixels,
        so a deterministic re-run compares equal byte for byte in pixel space.
        """
        progress = on_progress or no_progress
        original = self.library.get(asset_id)
        what = "a generated image; there is nothing to re-run"
        rec = read_record(original.record, ImageRecord, what)
        parent = next((p["id"] for p in original.parents if p["role"] == "draft"), None)
        request = ImageRequest(
            prompt=rec.prompt,
            negative_prompt=rec.negative_prompt,
            model=rec.model,
            tier=rec.tier,
            width=rec.width,
            height=rec.height,
            steps=rec.steps,
            guidance=rec.guidance,
            scheduler=rec.scheduler,
            clip_skip=rec.clip_skip,
            seed=rec.seed,
            parent=parent,
            tiled_refine=bool(rec.render.get("refine_tiled")),
            **request_fields(rec.adapters),
        )
        item = self.render_images(request, progress)[0]
        differ = changed(rec.adapters, item.record.adapters)
        if differ:
            raise InputError(f"cannot re-run {asset_id}: changed since: {'; '.join(differ)}")
        comparison = _compare_pixels(item.image, original, rec)
        item.record.parents.append(Parent(id=asset_id, role="rerender"))
        item.record.rerender_of = asset_id
        output = self.store([item], {})[0]
        self.audit(request, [output], "rerender")
        return Rerender(original=asset_id, output=output, **comparison)

    def audit(
        self, request: ImageRequest, outputs: list[ImageOutput], action: str | None = None
    ) -> None:
        """One audit entry for a request's stored outputs (``action``: by default generate
        or promote)."""
        ids, records = [o.asset_id for o in outputs], [o.record for o in outputs]
        self.audit_records(request, ids, records, action)

    def audit_records(
        self,
        request: ImageRequest,
        assets: list[str],
        records: list[dict],
        action: str | None = None,
    ) -> None:
        """:meth:`audit` from the stored assets' ids and records (a cluster head has those,
        even after a restart)."""
        self.guard.record(
            action or ("promote" if request.parent else "generate"),
            request,
            [hit for r in records for hit in (r.get("policy") or {}).get("hits", [])],
            assets=assets,
            model=records[0].get("model") if records else None,
            model_hash=records[0].get("model_hash") if records else None,
        )

    # ------------------------------------------------------------------ stages

    @torch.inference_mode()  # no autograd bookkeeping: 4 % of a 64 px draft's time
    def _sample(
        self, plan: Plan, prompts: list[str], seeds: list[int], progress: Progress
    ) -> tuple[list[Image.Image], list[bool | None]]:
        """Base images, ``BATCH`` per call, one CPU generator per image (device-independent),
        and for each whether the model's safety checker flagged it (None: no checker ran)."""
        pipe, tier = plan.model.pipe, plan.tier
        total = tier.steps * math.ceil(len(prompts) / BATCH)
        done = 0

        def on_step(step: int) -> None:
            nonlocal done
            done += 1
            progress("sample", done, total)

        images: list[Image.Image] = []
        flagged: list[bool | None] = []
        for start in range(0, len(prompts), BATCH):
            batch = prompts[start : start + BATCH]
            generators = [
                torch.Generator("cpu").manual_seed(s) for s in seeds[start : start + BATCH]
            ]
            kwargs = self.prompt_kwargs(plan, batch) | dict(
                width=plan.base[0],
                height=plan.base[1],
                num_inference_steps=tier.steps,
                generator=generators,
            )
            if plan.refiner is not None:  # the base stops early and hands over its latents
                kwargs |= {"denoising_end": REFINER_SWITCH, "output_type": "latent"}
            out = pipe(**accepted(pipe, kwargs | step_callbacks(pipe, on_step)))
            if plan.refiner is not None:
                out = self._refiner_pass(plan, batch, out.images, generators, on_step)
            images.extend(out.images)
            flags = getattr(out, "nsfw_content_detected", None) or [None] * len(batch)
            flagged.extend(bool(f) if f is not None else None for f in flags)
        return images, flagged

    def _refiner_pass(
        self,
        plan: Plan,
        prompts: list[str],
        latents: torch.Tensor,
        generators: list[torch.Generator],
        on_step: Callable[[int], None],
    ) -> object:
        """The SDXL refiner's share of the steps, from the base's latents (diffusers docs,
        "Stable Diffusion XL": ensemble of expert denoisers)."""
        refiner = plan.refiner.pipe
        refiner.scheduler = make_scheduler(plan.tier.scheduler, plan.refiner.own_scheduler)
        negative = without_tags(plan.request.negative_prompt)
        kwargs = dict(
            image=latents,
            num_inference_steps=plan.tier.steps,
            denoising_start=REFINER_SWITCH,
            guidance_scale=plan.tier.guidance,
            generator=generators,
        )
        if encoded := compel_texts([*prompts, negative], plan.model.family, plan.model.pipe):
            kwargs |= refiner_embeddings(refiner, encoded[:-1], encoded[-1])
        else:
            kwargs["prompt"] = [unescaped(p) for p in prompts]
            if negative:
                kwargs["negative_prompt"] = [unescaped(negative)] * len(prompts)
        return refiner(**accepted(refiner, kwargs | step_callbacks(refiner, on_step)))

    def _render(
        self,
        plan: Plan,
        image: Image.Image,
        prompt: str,
        seed: int,
        timings: dict[str, float],
        progress: Progress,
    ) -> tuple[Image.Image, CleanupReport | None, int]:
        """Upscale, refine and clean one image as the tier says; timings per stage. Returns
        the image, the cleanup report (what was measured and done), if any, and the number
        of tiles the refine took (0: one whole-image pass)."""
        tier, size = plan.tier, plan.out
        refine_size, tile = size, None
        if tier.refine_max_side and max(size) > tier.refine_max_side:
            if tier.refine_tiled:
                tile = tier.refine_max_side
            else:
                scale = tier.refine_max_side / max(size)
                refine_size = (_round8(size[0] * scale), _round8(size[1] * scale))
        # 0. The base render's halos off, before upscaling widens them.
        t0 = time.perf_counter()
        if tier.dehalo:
            image = dehalo(image)
        # 1. Upscale to the refine size (the output size unless the tier caps it).
        if tier.refine_strength > 0 and (image.width, image.height) != refine_size:
            image = self._upscale(image, refine_size, tier.sharpen)
        # 2. Refine, whole or in tiles.
        tiles = 0
        if tier.refine_strength > 0:
            image, tiles = self._refine(plan, image, prompt, seed, progress, tile)
        # 3. The rest of the way to the output size.
        if (image.width, image.height) != size:
            image = self._upscale(image, size, tier.sharpen)
        timings["upscale_refine"] = round(time.perf_counter() - t0, 4)
        # 4. Cleanup, as far as the measured artifacts call for.
        cleanup = None
        if tier.cleanup:
            t0 = time.perf_counter()
            image, cleanup = clean_adaptive(image)
            timings["cleanup"] = round(time.perf_counter() - t0, 4)
        return image, cleanup, tiles

    @torch.inference_mode()
    def _refine(
        self,
        plan: Plan,
        image: Image.Image,
        prompt: str,
        seed: int,
        progress: Progress,
        tile: int | None,
    ) -> tuple[Image.Image, int]:
        """An img2img pass at the tier's strength (its colour kept if the tier says so), in
        tiles of at most ``tile`` pixels when given; returns the image and the tile count."""
        model, tier = plan.model, plan.tier
        model.img2img.scheduler = make_scheduler(tier.scheduler, model.own_scheduler)
        per_tile = max(1, int(tier.refine_steps * tier.refine_strength))
        count = len(tile_grid(image.width, image.height, tile)) if tile else 1
        done = 0

        def on_step() -> None:
            nonlocal done
            done += 1
            progress("refine", min(done, per_tile * count), per_tile * count)

        how = dict(
            prompt_kwargs=accepted(model.img2img, self.prompt_kwargs(plan, [prompt])),
            strength=tier.refine_strength,
            steps=tier.refine_steps,
            seed=seed,
            on_step=on_step,
        )
        if tile:
            refined, tiles = refine_tiled(model.img2img, image, tile=tile, **how)
        else:
            refined, tiles = refine_image(model.img2img, image, **how), 0
        if tier.refine_keeps_colour:
            refined = keep_colour(refined, image)
        if tier.refine_within_range:
            refined = within_range(refined, image)
        return refined, tiles

    def _upscale(self, image: Image.Image, size: tuple[int, int], sharpen: float) -> Image.Image:
        """The configured super-resolution model, else Lanczos + unsharp (no weights)."""
        if self.upscaler is None or max(size[0] / image.width, size[1] / image.height) <= 1:
            return upscale_lanczos(image, size, sharpen)
        while image.width < size[0] or image.height < size[1]:
            image = self.upscaler.upscale(image)
        return image.resize(size, Image.Resampling.LANCZOS)

    def prompt_kwargs(self, plan: Plan, prompts: list[str]) -> dict:
        """The prompt and guidance arguments of a call: compel embeddings when a prompt is
        weighted, the family's own arguments, and the guidance and negative prompt the way
        the family takes them (true CFG beside FLUX's distilled guidance when there is a
        negative prompt; true CFG as the only guidance for Qwen-Image, against the authors'
        blank negative by default); a negative prompt the model would ignore is refused."""
        model, negative = plan.model, without_tags(plan.request.negative_prompt)
        family, guidance = model.family, plan.tier.guidance
        if negative:
            _check_negative(plan)
        if family.guidance_is_true_cfg and guidance > 1:
            negative = negative or QWEN_NEGATIVE
        skip = plan.clip_skip
        if encoded := compel_texts([*prompts, negative], family, model.pipe, bool(skip)):
            kwargs = weighted_embeddings(model.pipe, family, encoded[:-1], encoded[-1], skip)
        else:  # as written: brackets are text here, and so is what an escape stands for
            kwargs = {"prompt": [unescaped(p) for p in prompts]}
            if negative:
                kwargs["negative_prompt"] = [unescaped(negative)] * len(prompts)
        if family.guidance_is_true_cfg:
            kwargs["true_cfg_scale"] = guidance
        else:
            kwargs["guidance_scale"] = guidance
            if negative and family.true_cfg:
                kwargs["true_cfg_scale"] = family.true_cfg
        return kwargs | dict(family.call)

    def make_record(
        self,
        plan: Plan,
        prompt: str,
        seed: int,
        image: Image.Image,
        timings: dict[str, float],
    ) -> ImageRecord:
        """Everything needed to understand and reproduce this output."""
        model, tier, request = plan.model, plan.tier, plan.request
        return ImageRecord(
            asset_id=new_asset_id(),  # a cluster worker has no library
            prompt=prompt,
            template=request.prompt if request.template else None,
            negative_prompt=without_tags(request.negative_prompt),
            seed=seed,
            model=model.ref,
            model_path=str(model.path),
            model_hash=model.weights_hash,
            variant=model.variant,
            parts=model.parts,
            call=dict(model.family.call) or None,
            family=model.family.name,
            pipeline=type(model.pipe).__name__,
            scheduler=tier.scheduler,
            sampler=sampler_label(tier.scheduler, model.own_scheduler),
            schedule_type=schedule_label(tier.scheduler),
            clip_skip=plan.clip_skip,
            steps=tier.steps,
            guidance=tier.guidance,
            true_cfg_scale=_true_cfg(model.family, tier.guidance, request.negative_prompt),
            tier=tier.name,
            render=asdict(tier),
            width=image.width,
            height=image.height,
            base_width=plan.base[0],
            base_height=plan.base[1],
            parents=[Parent(id=request.parent, role="draft")] if request.parent else [],
            adapters=[a.to_record() for a in plan.adapters] or None,
            prompt_unread=unread_words(model.pipe, model.family, prompt),
            refiner=(
                {
                    "model": plan.refiner.ref,
                    "model_hash": plan.refiner.weights_hash,
                    "switch": REFINER_SWITCH,
                }
                if plan.refiner is not None
                else None
            ),
            device=str(self.device),
            dtype=str(model.pipe.dtype).removeprefix("torch."),
            timings=timings,
            versions=software_versions(),
        )


def output_of(asset: Asset, drift: float | None = None) -> ImageOutput:
    """A stored image as the result of a request: its record with the file's facts."""
    return ImageOutput(
        asset_id=asset.id,
        path=asset.path,
        prompt=asset.prompt,
        seed=asset.seed,
        width=asset.width,
        height=asset.height,
        record=asset.record
        | {
            "file": {
                "path": asset.path,
                "sha256": asset.sha256,
                "bytes": asset.bytes,
                "mime": asset.mime,
            }
        },
        drift=drift,
    )


def _true_cfg(family: Family, guidance: float, negative: str | None) -> float | None:
    """The true-CFG scale a call of this family ran at, if one ran."""
    if family.guidance_is_true_cfg:
        return guidance if guidance > 1 else None
    return family.true_cfg if negative and family.true_cfg else None


def _check_negative(plan: Plan) -> None:
    """InputError when the model would take a negative prompt and ignore it."""
    model, family, tier = plan.model, plan.model.family, plan.tier
    if not takes(model.pipe, "negative_prompt"):
        raise InputError(f"{model.ref} ({type(model.pipe).__name__}) takes no negative prompt")
    if tier.guidance <= 1 and not family.true_cfg:
        raise InputError(
            f"{model.ref} ({family.name}) samples without classifier-free guidance at guidance "
            f"{tier.guidance:g}, so a negative prompt has no effect: drop --negative, or set "
            "--guidance above 1"
        )


def _compare_pixels(fresh: Image.Image, original: Asset, rec: ImageRecord) -> dict:
    """Fresh pixels through the original's watermark and codec, against the stored file."""
    mark = original.record.get("watermark") or {}  # the library's, not part of the record model
    if mark.get("method"):
        fresh = watermark.embed(fresh, mark["asset_id"])
    encoded = encode_image(fresh, original.record, rec.render["format"], rec.render["quality"])
    with Image.open(io.BytesIO(encoded)) as a, Image.open(original.path) as b:
        x = np.asarray(a.convert("RGB"), dtype=np.int16)
        y = np.asarray(b.convert("RGB"), dtype=np.int16)
    if x.shape != y.shape:
        return {"identical": False, "max_abs_diff": 255, "mean_abs_diff": 255.0, "psnr": 0.0}
    diff = np.abs(x - y)
    mse = float((diff.astype(np.float64) ** 2).mean())
    return {
        "identical": not diff.any(),
        "max_abs_diff": int(diff.max()),
        "mean_abs_diff": round(float(diff.mean()), 4),
        "psnr": float("inf") if mse == 0 else round(10 * math.log10(255**2 / mse), 2),
    }
