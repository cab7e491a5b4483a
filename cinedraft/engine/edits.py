"""Edit turns: a stored image changed into a new asset, on any model.

:meth:`EditEngine.edit` reads top to bottom:

1. the source (an image asset id or a file, never a clip) and its thread state;
2. the route: ``refine`` with an instruction made only of exact adjustments ("warmer", "crop
   to 9:16") goes to :mod:`cinedraft.render.adjust`, no model; one that moves the object
   ("move it to the left") to :mod:`cinedraft.render.relocate`, no model; another goes to
   the model's instruction-edit pipeline when it is one, else it is refused naming what can
   be done; ``img2img``, ``inpaint``, ``outpaint`` go through diffusers' image-to-image and
   inpainting pipelines built from the loaded text-to-image model (``from_pipe``: the same
   components, no second copy);
3. the new pixels; a masked turn puts the source back outside its mask (exact, feathered
   inward), at the source's own size whatever size the model worked at;
4. the thread's new state and the *preserved* score against its original
   (:mod:`cinedraft.engine.threads`);
5. store as lossless PNG with lineage ``edit_of`` (so the C2PA manifest records
   ``c2pa.edited`` with the source as its ``parentOf`` ingredient), audit.

A masked turn keeps the source's pixels, the source's invisible watermark included, so it
embeds no new mark over them (its record says so); a global turn is marked as its own.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import secrets
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from ..builtin import EDIT_MODEL
from ..errors import InputError
from ..ids import new_asset_id
from ..library import Asset
from ..media.pixels import as_shown, shown_rgb
from ..record import AdjustRecord, ImageRecord, Parent
from ..render import adjust, masks, relocate
from ..render.phrasing import plain
from ..render.masks import Mask
from ..request import (
    EditRequest,
    EditResult,
    ImageRequest,
    Overrides,
    Progress,
    Result,
    no_progress,
)
from .calls import accepted, step_callbacks
from .image import ImageEngine, Plan, output_of
from .folders import BUILTIN_EDIT
from .models import MARKER, software_versions
from .schedulers import make_scheduler
from .threads import EDIT_ROLE, ThreadState

# How far from the source each operation goes unless asked: img2img keeps the composition
# (SDEdit's usual middle); inpaint draws the masked area anew; outpaint starts from the
# image's edges smeared outward and keeps some of that (at 1.0 the built-in model drew a
# second object in the new strip; at 0.85 it continued the backdrop).
DEFAULT_STRENGTH = {"img2img": 0.6, "inpaint": 1.0, "outpaint": 0.85}
CONTEXT = 0.5  # inpaint sees the mask's box grown by half its size on each side
OUTPAINT_FEATHER = 8  # px: the new area fades in from the mirrored edge the canvas started with
MODEL_FREE = ("exact", "move")  # routes that change pixels without a model


@dataclass
class Painted:
    """Step 3's output: the new pixels, their record, how they were routed, the thread state
    after any change of geometry, and the mask this turn painted (None: a global change)."""

    image: Image.Image
    record: ImageRecord | AdjustRecord
    route: str
    state: ThreadState
    mask: np.ndarray | None
    notes: list[str]


class EditEngine:
    """Edit turns over the image flow's model cache, library and guard."""

    def __init__(self, images: ImageEngine):
        self.images = images
        self.library, self.guard = images.library, images.guard

    def edit(
        self,
        request: EditRequest,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ) -> EditResult:
        """One edit turn, stored; see the module docstring."""
        progress = on_progress or no_progress
        started = time.perf_counter()
        if request.seed is None:  # drawn once, so the stored request makes the turn again
            request = request.model_copy(update={"seed": secrets.randbelow(2**32)})
        # 1. The source and where it stands in its thread.
        source = self._source(request)
        with Image.open(source.path) as im:
            pixels = shown_rgb(im)
        state = ThreadState.of(source).next_turn()
        text = request.instruction if request.operation == "refine" else request.prompt
        verdict = self.guard.check("edit", text or source.prompt or "", request)
        # 2-3. Route and paint.
        if request.operation == "refine":
            painted = self._refine(request, source, pixels, state, progress)
        else:
            painted = self._diffuse(request, source, pixels, state, progress)
        # 4. The thread after this turn, and what it kept of the original.
        state = painted.state if painted.mask is None else painted.state.painted(painted.mask)
        with Image.open(self.library.get(state.original).path) as im:
            preserved = state.preserved(painted.image, shown_rgb(im))
        record = painted.record
        record.parents = [Parent(id=source.id, role=EDIT_ROLE)]
        record.edit = _edit_fields(request, painted) | {
            "thread": state.to_record(),
            "preserved": preserved,
        }
        if isinstance(record, ImageRecord):
            record.policy = self.guard.faces(verdict.about(record.prompt), [painted.image])
        # 5. Store and audit.
        extra = dict(record_extra or {})
        mark = kept_mark(source) if painted.mask is not None else None
        item = (painted.image, record.to_dict() | extra, "png", 100)
        asset = self.library.add_images([item], keep_mark=mark)[0]
        output = output_of(asset)
        self.guard.record(
            "edit",
            request,
            ((output.record.get("policy") or {}).get("hits", [])),
            assets=[output.asset_id],
            model=output.record.get("model"),
            model_hash=output.record.get("model_hash"),
        )
        progress("save", 1, 1)
        return EditResult(
            request=request,
            output=output,
            route=painted.route,
            thread=state.original,
            turn=state.turn,
            preserved=preserved,
            notes=painted.notes,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _source(self, request: EditRequest) -> Asset:
        """The image the turn changes; a clip is refused naming what changes a clip."""
        source = self.library.resolve(request.source)
        if source.mime.startswith("video/"):
            raise InputError(
                f"{request.source} is a clip, and a turn changes an image: a clip's colour "
                'changes exactly on every frame with `edit grade CLIP "warmer"`, and what it '
                'shows with `video --remix CLIP "make the jar blue"`'
            )
        if not source.mime.startswith("image/"):
            raise InputError(f"{request.source} is not an image asset (it is {source.mime})")
        return source

    # ------------------------------------------------------------------ routes

    def _refine(
        self,
        request: EditRequest,
        source: Asset,
        pixels: Image.Image,
        state: ThreadState,
        progress: Progress,
    ) -> Painted:
        """An instruction: exact when it is only adjustments, a composite when it moves the
        object, else the model's instruction edit, else a refusal that says what can be
        done."""
        instruction = request.instruction or ""
        if not plain(instruction):  # "please", "thanks!": a model would be asked for nothing
            raise InputError(
                f"{instruction!r} asks for no change: say what should change "
                f"({', '.join(adjust.WORDS)}, or in words: make the jar blue)"
            )
        adjustments = adjust.parse(instruction)
        if adjustments is not None:
            return self._adjust(request, source, pixels, state, adjustments)
        scale = adjust.again(instruction)
        if scale is not None:  # "more", "too much": the turn that made the source, scaled
            return self._adjust(request, source, pixels, state, _again(source, instruction, scale))
        if adjust.undo(instruction):
            raise InputError(_undo(source, instruction))
        place = relocate.parse(instruction)
        if place is not None:
            return self._move(source, pixels, state, place, progress)
        plan = self._plan(request, source)
        if not plan.model.family.instruct and request.model is None and _builtin(plan):
            # the built-in image model's instructions go to the built-in edit model
            plan = self._plan(request.model_copy(update={"model": BUILTIN_EDIT}), source)
        said = _check_understood(plan, instruction)
        if not plan.model.family.instruct:
            raise InputError(
                f"{plan.model.ref} cannot do {request.instruction!r}: it is not an "
                "instruction-edit model. Exactly, without a model: "
                f'{", ".join(adjust.WORDS)}; "move it to the left|center|right". To redraw a '
                'part, `inpaint ID "what it shows" '
                "--region x,y,w,h`; or --model an instruction-edit model (InstructPix2Pix, "
                "FLUX.1 Kontext, Qwen-Image-Edit)"
            )
        image, work = self._instruct(
            plan, request.model_copy(update={"prompt": said}), pixels, progress
        )
        image, changed = masks.unchanged_restored(pixels, image)
        record = self._record(plan, request, image, work)
        # a local change keeps the rest exactly; a global one (relighting) is the model's
        restored = None if changed is None else round(1 - changed.area, 4)
        record.edit = {"restored": restored} if restored is not None else {}
        painted = None if changed is None else changed.pixels > 0
        return Painted(image, record, "instruct", state, painted, [])

    def _adjust(
        self,
        request: EditRequest,
        source: Asset,
        pixels: Image.Image,
        state: ThreadState,
        adjustments: list[adjust.Adjustment],
    ) -> Painted:
        """Exact adjustments: arithmetic on the pixels, no model, no drift."""
        image = adjust.apply(pixels, adjustments)
        for a in adjustments:  # the original's pixels move with a crop or a mirror
            if a.kind == "crop":
                state = state.cropped(adjust.crop_box(state.size, a.aspect))
            elif a.kind == "mirror":
                state = state.flipped()
        record = AdjustRecord(
            asset_id=new_asset_id(),
            width=image.width,
            height=image.height,
            prompt=source.prompt,
            edit={"adjustments": [a.to_record() for a in adjustments]},
            versions=software_versions(),
        )
        return Painted(image, record, "exact", state, None, [])

    def _move(
        self,
        source: Asset,
        pixels: Image.Image,
        state: ThreadState,
        place: str,
        progress: Progress,
    ) -> Painted:
        """The object moved sideways without a model (:mod:`cinedraft.render.relocate`): only
        its old place and its new one change."""
        moved = relocate.move(pixels, place, lambda done, total: progress("move", done, total))
        record = AdjustRecord(
            asset_id=new_asset_id(),
            width=pixels.width,
            height=pixels.height,
            prompt=source.prompt,
            edit={"move": moved.to_record()},
            versions=software_versions(),
        )
        return Painted(moved.image, record, "move", state, moved.painted, [])

    def _diffuse(
        self,
        request: EditRequest,
        source: Asset,
        pixels: Image.Image,
        state: ThreadState,
        progress: Progress,
    ) -> Painted:
        """img2img, inpaint or outpaint through the model's diffusers pipelines."""
        plan = self._plan(request, source)
        notes: list[str] = []
        edit: dict = {}
        painted = None  # img2img changes everything a little: no mask
        if request.operation == "img2img":
            image, work = self._img2img(plan, request, pixels, progress)
        elif request.operation == "inpaint":
            mask = self._mask(request, pixels.size)
            if mask.note:
                notes.append(mask.note)
            feather = masks.FEATHER if request.feather is None else request.feather
            image, work = self._inpaint(plan, request, pixels, mask, progress, feather)
            painted = mask.pixels > 0
            edit["mask"] = {"bbox": list(mask.bbox), "area": round(mask.area, 4)}
        else:
            margins = request.expand or masks.margins_for_aspect(
                pixels.size, masks.parse_aspect(request.aspect or "")
            )
            margins = {side: int(margins.get(side, 0)) for side in masks.SIDES}
            canvas, mask = masks.grow_canvas(pixels, margins)
            image, work = self._inpaint(plan, request, canvas, mask, progress, OUTPAINT_FEATHER)
            state = state.grown(margins)  # the new area counts as painted there
            painted = np.zeros((image.height, image.width), bool)
            edit["margins"] = margins
        record = self._record(plan, request, image, work)
        record.edit = edit
        return Painted(image, record, request.operation, state, painted, notes)

    # ------------------------------------------------------------------ pipelines

    def _plan(self, request: EditRequest, source: Asset) -> Plan:
        """The model (the request's, else the source's, else the draft tier's) and its
        draft tier with the request's overrides; edits are stored lossless."""
        model = request.model or _model_of(source) or None
        prompt = request.prompt or source.prompt or request.instruction or "an image"
        plan = self.images.plan(
            ImageRequest(
                prompt=prompt,
                negative_prompt=request.negative_prompt,
                model=model,
                steps=request.steps,
                guidance=request.guidance,
                scheduler=request.scheduler,
                seed=request.seed,
                clip_skip=_clip_skip_of(source, model),
            ),
            None,
            None,
        )
        return replace(plan, tier=replace(plan.tier, format="png", quality=100))

    @torch.inference_mode()  # no autograd bookkeeping: 4 % of a 64 px turn's time
    def _call(
        self,
        plan: Plan,
        pipe: DiffusionPipeline,
        request: EditRequest,
        kwargs: dict,
        progress: Progress,
    ) -> Image.Image:
        """One pipeline call at the tier's steps and guidance, progress per step."""
        strength = kwargs.get("strength", 1.0)
        # the pipeline runs int(steps * strength) steps: ask for enough to run the tier's
        steps = math.ceil(plan.tier.steps / strength)
        total = max(1, int(steps * strength))
        pipe.scheduler = make_scheduler(plan.tier.scheduler, plan.model.own_scheduler)
        prompt = request.prompt or request.instruction or plan.request.prompt
        call = self.images.prompt_kwargs(plan, [prompt]) | kwargs
        call |= dict(
            num_inference_steps=steps,
            generator=torch.Generator("cpu").manual_seed(request.seed),
        )
        on_step = step_callbacks(pipe, lambda i: progress("edit", min(i, total), total))
        return pipe(**accepted(pipe, call | on_step)).images[0]

    def _img2img(
        self, plan: Plan, request: EditRequest, pixels: Image.Image, progress: Progress
    ) -> tuple[Image.Image, tuple[int, int]]:
        work = work_size(pixels.size, plan.model.native_size)
        strength = request.strength or DEFAULT_STRENGTH["img2img"]
        image = self._call(
            plan,
            plan.model.img2img,
            request,
            dict(image=pixels.resize(work, Image.Resampling.LANCZOS), strength=strength),
            progress,
        )
        return image.resize(pixels.size, Image.Resampling.LANCZOS), work

    def _inpaint(
        self,
        plan: Plan,
        request: EditRequest,
        pixels: Image.Image,
        mask: Mask,
        progress: Progress,
        feather: int = masks.FEATHER,
    ) -> tuple[Image.Image, tuple[int, int]]:
        """The masked area redrawn: the model sees the mask's box with context around it (at
        least its native size), at most its native area; the result is composited back."""
        box = context_box(mask.bbox, pixels.size, plan.model.native_size)
        crop = pixels.crop(box)
        work = work_size(crop.size, plan.model.native_size)
        strength = request.strength or DEFAULT_STRENGTH[request.operation]
        painted = self._call(
            plan,
            plan.model.inpaint,
            request,
            dict(
                image=crop.resize(work, Image.Resampling.LANCZOS),
                mask_image=mask.image().crop(box).resize(work, Image.Resampling.NEAREST),
                width=work[0],
                height=work[1],
                strength=strength,
            ),
            progress,
        )
        full = pixels.copy()
        full.paste(painted.resize(crop.size, Image.Resampling.LANCZOS), box[:2])
        return masks.composite(pixels, full, mask, feather), work

    def _instruct(
        self, plan: Plan, request: EditRequest, pixels: Image.Image, progress: Progress
    ) -> tuple[Image.Image, tuple[int, int]]:
        """An instruction-edit pipeline (the loaded model is one) on the source."""
        work = work_size(pixels.size, plan.model.native_size)
        image = self._call(
            plan,
            plan.model.pipe,
            request,
            dict(
                image=pixels.resize(work, Image.Resampling.LANCZOS),
                width=work[0],
                height=work[1],
                max_area=work[0] * work[1],  # FLUX.1 Kontext scales to this area (1024² unset)
            ),
            progress,
        )
        return image.resize(pixels.size, Image.Resampling.LANCZOS), image.size

    def _mask(self, request: EditRequest, size: tuple[int, int]) -> Mask:
        """The region, or the mask file (a path, or a PNG data URL the studio drew)."""
        if request.region is not None:
            return masks.from_region(request.region, size)
        data = request.mask or ""
        name = "the drawn mask" if data.startswith(masks.DATA_URL) else data
        try:
            if data.startswith(masks.DATA_URL):
                data = io.BytesIO(base64.b64decode(data.removeprefix(masks.DATA_URL)))
            with Image.open(data) as im:
                return masks.from_file(as_shown(im), size)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InputError(f"cannot read {name}: {exc}") from None

    def _record(
        self, plan: Plan, request: EditRequest, image: Image.Image, work: tuple[int, int]
    ) -> ImageRecord:
        prompt = request.prompt or request.instruction or plan.request.prompt
        record = self.images.make_record(plan, prompt, request.seed, image, {})
        record.base_width, record.base_height = work
        ran = {"img2img": "img2img", "inpaint": "inpaint", "outpaint": "inpaint"}
        what = ran.get(request.operation)
        record.pipeline = type(getattr(plan.model, what) if what else plan.model.pipe).__name__
        return record

    # ------------------------------------------------------------------ promote

    def promote(
        self,
        asset_id: str,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
        overrides: Overrides | None = None,
    ) -> Result:
        """An edit turn at the production tier: its pixels through the tier's rendering
        pipeline (upscale, refine, cleanup), so the edit is kept (re-sampling from the prompt
        and seed would lose it); drift is measured against the turn."""
        progress = on_progress or no_progress
        started = time.perf_counter()
        source = self.library.get(asset_id)
        overrides = overrides or Overrides()
        model = (
            overrides.model or self.images.settings.production_model or _model_of(source) or None
        )
        seed = source.seed or 0
        request = ImageRequest(
            prompt=source.prompt or "an image",
            tier="production",
            model=model,
            steps=overrides.steps,
            guidance=overrides.guidance,
            scheduler=overrides.scheduler,
            seed=seed,
            clip_skip=_clip_skip_of(source, model),
        )
        plan = self.images.plan(request, None, None)
        native = plan.model.native_size
        if source.width * source.height > native[0] * native[1] * 1.25:
            raise InputError(
                f"{asset_id} is {source.width}x{source.height}, above {plan.model.ref}'s "
                f"draft size ({native[0]}x{native[1]}): it is production-sized already"
            )
        out = (source.width * plan.tier.upscale, source.height * plan.tier.upscale)
        plan = replace(plan, base=(source.width, source.height), out=out, parent=source)
        with Image.open(source.path) as im:
            pixels = shown_rgb(im)
        item = self.images.finish(plan, pixels, request.prompt, seed, {}, progress)
        item.record.parents = [Parent(id=asset_id, role="draft")]
        item.record.edit = {"promoted": asset_id}
        outputs = self.images.store([item], record_extra or {})
        self.images.audit(request.model_copy(update={"parent": asset_id}), outputs)
        seconds = time.perf_counter() - started
        return Result(request=request, outputs=outputs, seconds=seconds, seconds_per_image=seconds)


# ---------------------------------------------------------------------- helpers


def _round16(x: float) -> int:
    return max(16, int(round(x / 16)) * 16)


def work_size(size: tuple[int, int], native: tuple[int, int]) -> tuple[int, int]:
    """The size a model works on ``size`` pixels at: as they are (on the 16-pixel grid every
    family's VAE and patching accept) up to its native area, else its native area at their
    aspect."""
    w, h = size
    area = native[0] * native[1]
    if w * h <= area:
        return _round16(w), _round16(h)
    scale = math.sqrt(area / (w * h))
    return _round16(w * scale), _round16(h * scale)


def context_box(
    bbox: tuple[int, int, int, int], size: tuple[int, int], native: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)``: the mask's box grown by :data:`CONTEXT` of itself on
    each side and to at least the model's native size, inside the image."""
    x, y, w, h = bbox
    out = []
    for start, length, full, least in ((x, w, size[0], native[0]), (y, h, size[1], native[1])):
        grow = max(int(length * CONTEXT), 16)
        lo, hi = start - grow, start + length + grow
        if hi - lo < least:  # widen evenly to the native side
            extra = least - (hi - lo)
            lo, hi = lo - extra // 2, hi + extra - extra // 2
        if lo < 0:
            lo, hi = 0, hi - lo
        if hi > full:
            lo, hi = max(0, lo - (hi - full)), full
        out.append((lo, hi))
    (left, right), (top, bottom) = out
    return left, top, right, bottom


def _check_understood(plan: Plan, instruction: str) -> str:
    """The words the model is given for ``instruction``: for a model whose folder says which
    instructions it understands (``cinedraft.json``: ``understands``, patterns with
    examples: the built-in edit model's), the instruction without the asking around it
    ("make the jar blue", not "... please"), else a refusal naming them; a model that says
    nothing takes the instruction as written."""
    marker = plan.model.path / MARKER
    if not plan.model.family.instruct or not marker.is_file():
        return instruction
    known = json.loads(marker.read_text()).get("understands")
    text = plain(instruction)
    if not known:
        return instruction
    if any(re.fullmatch(k["pattern"], text) for k in known):
        return text
    examples: dict[str, str] = {}
    for k in known:  # the first example of each kind
        examples.setdefault(k["kind"], k["example"])
    raise InputError(
        f"{plan.model.ref} cannot do {instruction!r}: it knows {', '.join(examples)} changes, "
        f"said as: {'; '.join(examples.values())}. Exactly, without a model: "
        f'{", ".join(adjust.WORDS)}; "move it to the left|center|right"'
    )


def _again(source: Asset, instruction: str, scale: float) -> list[adjust.Adjustment]:
    """The graded adjustments of the exact turn that made ``source``, times ``scale``:
    "more" after "warmer" is warmer again, "too much" half a step cooler."""
    made = (source.record.get("edit") or {}).get("adjustments") or []
    graded = adjust.scaled(made, scale)
    if not graded:
        raise InputError(
            f"{instruction!r} repeats the exact change that made the image (warmer, brighter, "
            f"more contrast, more saturated), and {source.id} was not made by one: say the "
            f"change ({', '.join(adjust.WORDS)})"
        )
    return graded


def _undo(source: Asset, instruction: str) -> str:
    """What to do instead of ``instruction`` ("undo"): every turn is kept, so the image
    before this one is there to take another way."""
    before = next((p["id"] for p in source.parents if p["role"] == EDIT_ROLE), None)
    if before is None:
        return f"{instruction!r}: {source.id} is the first image of its thread; nothing to undo"
    return (
        f"{instruction!r}: nothing is undone in place, every turn is kept. The image before "
        f"{source.id} is {before}: change that one (`refine {before} ...`, or pick it in "
        "the thread) to take another way"
    )


def _builtin(plan: Plan) -> bool:
    return plan.model.family.name == "builtin" and EDIT_MODEL.is_dir()


def _model_of(source: Asset) -> str | None:
    """The model that made the source (a generated image or an earlier turn), if any."""
    model = source.record.get("model")
    return model if isinstance(model, str) and source.record.get("kind") == "image" else None


def _clip_skip_of(source: Asset, model: str | None) -> int | None:
    """The Clip skip the source was made with, for a turn on its own model (another model
    reads prompts its own way)."""
    return source.record.get("clip_skip") if model == _model_of(source) else None


def kept_mark(source: Asset) -> dict:
    """The record of a masked turn's watermark: outside the mask the pixels (and the mark
    in them) are the source's, kept exactly, so no new mark is embedded over them."""
    mark = source.record.get("watermark") or {}
    return {
        "method": mark.get("method"),
        "asset_id": mark.get("asset_id"),
        "inherited": True,
        "reason": "outside the mask the pixels are the source's, kept exactly, mark included",
    }


def _edit_fields(request: EditRequest, painted: Painted) -> dict:
    """What the record says about the turn (besides the thread state)."""
    fields = {
        "operation": request.operation,
        "route": painted.route,
        "instruction": request.instruction,
        "prompt": request.prompt,
        "strength": (
            None
            if painted.route in MODEL_FREE
            else request.strength or DEFAULT_STRENGTH.get(request.operation)
        ),
        "region": list(request.region) if request.region else None,
        "aspect": request.aspect,
        "notes": painted.notes or None,
    }
    fields |= painted.record.edit or {}
    if painted.route in MODEL_FREE:
        fields["diffusion"] = False  # no model ran: nothing but the named change moved
    return {k: v for k, v in fields.items() if v is not None}
