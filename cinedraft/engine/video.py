"""Text/image to video for diffusers video pipelines, in chunks, through the video presets.

:meth:`VideoEngine.generate` reads top to bottom:

1. model, family, preset and length: how many frames the model makes at its own rate;
2. the given frames: a first image (image to video) or the end of a clip (extension, or its
   start for a lead-in), fitted to the model's size;
3. chunks: each call conditioned on the last frames of the one before (see
   :class:`~cinedraft.tiers.VideoFamily` for how), its colour matched to the frame it joins
   and anchored to the first chunk's, its seam scored, and drawn again with a new seed while
   the seam is bad; a lead-in is made backwards in time, from the clip's first frames;
4. the rendering pipeline (:func:`cinedraft.render.video.finish_clip`): interpolate to the
   preset's rate, upscale, deflicker, encode, poster and contact sheet;
5. temporal metrics of the delivered clip; store it with its record and lineage.
"""

from __future__ import annotations

import collections
import io
import itertools
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import diffusers
import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..ids import new_asset_id
from ..library import Asset, Library
from ..media.codec import iter_frames
from ..media.metadata import DECODE_ERRORS
from ..media.pixels import shown_rgb
from ..media.probe import Prober
from ..quality.metrics import temporal_metrics
from ..record import STILL_FIELDS, Parent, StillRecord, VideoRecord
from ..render.salience import CENTRE, crop_anchor
from ..render.video import Finished, VideoPreset, finish_clip, fit_frame, preset_for, unfit
from ..request import Overrides, Progress, Seam, VideoRequest, VideoResult, no_progress
from ..tiers import VideoFamily
from ..weighting import plain
from .chunks import ChunkLoop, Chunked, Drawn, Given, native_frames, plan_chunks
from .calls import accepted, step_callbacks, step_reporter
from .guard import Guard
from .models import LoadedModel, ModelCache, prepared, software_versions
from .schedulers import make_scheduler


@dataclass(frozen=True)
class Shot:
    """What every call of one video request shares, fixed in step 1."""

    request: VideoRequest
    model: LoadedModel
    preset: VideoPreset
    seconds: float
    size: tuple[int, int]  # the model's frame size
    steps: int
    guidance: float  # the first call's
    continue_guidance: float  # calls that continue given frames
    need: int  # frames to deliver, at the model's own rate
    scheduler: diffusers.SchedulerMixin | None = None  # the request's, else the model's own
    # the share of the schedule an image-to-video call's first draw skips, starting from the
    # given image (the family's ``still_start``; 0 when it starts from noise)
    still_start: float = 0.0

    @property
    def family(self) -> VideoFamily:
        return self.model.family


@dataclass
class Clip:
    """One clip made by steps 0-5, not yet stored: the encoded MP4, its record, its poster
    and contact sheet (PNG)."""

    data: bytes
    record: VideoRecord
    poster: bytes
    contact_sheet: bytes
    chunks: int
    seams: list[dict]


class _Hold:
    """Puts the given frames' latents back in place, so they stay clean at every step: the
    latent cells wholly inside the known region of the given frames."""

    def __init__(self, given: Given, known: torch.Tensor, latents: torch.Tensor, scale: int):
        frames_n, n = latents.shape[2], known.shape[2]
        frames_at = slice(frames_n - n, frames_n) if given.at_end else slice(0, n)
        height, width = latents.shape[3] * scale, latents.shape[4] * scale
        x0, y0, x1, y1 = given.region or (0, 0, width, height)
        self.mask = torch.zeros((1, 1, frames_n) + latents.shape[3:], dtype=torch.bool)
        self.mask[:, :, frames_at, -(-y0 // scale) : y1 // scale, -(-x0 // scale) : x1 // scale] = (
            True
        )
        self.placed = torch.zeros_like(latents)
        self.placed[:, :, frames_at] = known.to(latents.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask.to(x.device), self.placed.to(x.device, x.dtype), x)


class VideoEngine:
    """Runs video requests with an image engine's model cache and library."""

    def __init__(
        self, models: ModelCache, library: Library | None, device: torch.device, guard: Guard
    ):
        """``library`` None: a cluster worker's, which renders and stores nothing."""
        self.models = models
        self.library = library
        self.device = device
        self.guard = guard
        self._i2v: dict[str, diffusers.DiffusionPipeline] = {}
        self._prober: Prober | None = None

    @property
    def prober(self) -> Prober:
        """Probes untrusted clips in a worker process (the library's; see
        :mod:`cinedraft.media.probe`)."""
        if self.library is not None:
            return self.library.prober()
        if self._prober is None:
            self._prober = Prober()
        return self._prober

    # ------------------------------------------------------------------ the flow

    def generate(
        self,
        request: VideoRequest,
        default_model: str,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
        preset: VideoPreset | None = None,
    ) -> VideoResult:
        """Make and store one clip; see the module docstring. ``record_extra`` is added to its
        record (the server names the job); ``preset`` replaces the named one (a continuation
        matches its clip)."""
        progress = on_progress or no_progress
        started = time.perf_counter()
        clip = self.render(request, default_model, progress, preset)
        result = self.store(clip, request, record_extra or {})
        progress("save", 1, 1)
        result.timings["total"] = round(time.perf_counter() - started, 3)
        return result

    def render(
        self,
        request: VideoRequest,
        default_model: str,
        progress: Progress,
        preset: VideoPreset | None = None,
        sources: dict[str, Asset] | None = None,
    ) -> Clip:
        """Steps 0-5 up to the record: the encoded clip and its stills, nothing stored.
        ``sources``: the first frame or the clip to extend, by the request's reference, when
        they are not in this machine's library (a cluster worker's)."""
        # 0. The usage policy (a block stops here).
        action = "extend" if request.extend else "video"
        verdict = self.guard.check(action, request.prompt, request)
        # 1. Model, family, preset, length.
        shot = self._shot(request, default_model, preset, progress)
        # 2. Given frames and the parents they come from; the calls that make the rest.
        given, parents = self._given(request, shot.family, shot.size, sources or {})
        plan = self._plan(shot, given)
        # 3. Chunks.
        seed = secrets.randbelow(2**32) if request.seed is None else request.seed
        t0 = time.perf_counter()
        chunked = self._chunk_loop(shot, plan, progress).run(given, seed)
        timings = {"generate": round(time.perf_counter() - t0, 3)}
        frames, joined = _delivered(request, chunked.frames, given, shot.need)
        with tempfile.TemporaryDirectory() as tmp:
            # 4. Rendering pipeline; a continuation is timed from the clip's frame it follows.
            out = Path(tmp) / "clip.mp4"
            finished = finish_clip(
                frames,
                shot.family.fps,
                shot.preset,
                out,
                shot.seconds,
                request.codec,
                on_progress=progress,
                context=joined,
                anchor=given.anchor if given else None,
            )
            timings |= finished.timings
            # 5. Metrics, record.
            t0 = time.perf_counter()
            temporal = _summary(temporal_metrics(iter_frames(out)))
            timings["metrics"] = round(time.perf_counter() - t0, 3)
            record = self._record(shot, seed, plan, chunked, finished, temporal, parents)
            record.timings = timings
            looked_at = [Image.fromarray(frames[i]) for i in {0, len(frames) // 2, len(frames) - 1}]
            record.policy = self.guard.faces(verdict.record(), looked_at)
            return Clip(
                data=out.read_bytes(),
                record=record,
                poster=finished.poster.read_bytes(),
                contact_sheet=finished.contact_sheet.read_bytes(),
                chunks=len(plan),
                seams=chunked.seams,
            )

    def store(self, clip: Clip, request: VideoRequest, record_extra: dict) -> VideoResult:
        """Step 6: sign and store a rendered clip, audit it, store its poster and contact
        sheet as image assets whose parent is the clip."""
        record = clip.record
        asset = self.library.add_video(clip.data, record.to_dict() | record_extra)
        hits = (record.policy or {}).get("hits", [])
        action = "extend" if request.extend else "video"
        self.guard.record(action, request, hits, [asset.id], record.model, record.model_hash)
        stills = {
            role: self.store_still(data, role, record, asset.id)
            for role, data in (("poster", clip.poster), ("contact_sheet", clip.contact_sheet))
        }
        return VideoResult(
            request=request,
            asset_id=asset.id,
            path=asset.path,
            seconds=record.seconds,
            frames=record.frames,
            fps=record.fps,
            width=record.width,
            height=record.height,
            chunks=clip.chunks,
            seams=[Seam(**seam) for seam in clip.seams],
            subject_kept=all(c["kept"] for c in record.subject) if record.subject else None,
            poster=stills["poster"],
            contact_sheet=stills["contact_sheet"],
            record=asset.record,
            timings=dict(record.timings or {}),
        )

    def _shot(
        self,
        request: VideoRequest,
        default_model: str,
        preset: VideoPreset | None,
        progress: Progress = no_progress,
    ) -> Shot:
        preset = preset or preset_for(request.preset)
        seconds = request.seconds if request.seconds is not None else preset.seconds
        model = self.models.get(request.model or default_model, kind="video", progress=progress)
        family = model.family
        steps = request.steps or family.steps
        scheduler = (
            make_scheduler(request.scheduler, model.own_scheduler) if request.scheduler else None
        )
        from_image = family.conditioning == "latents" and request.image is not None
        still = family.still_start if from_image else 0.0
        return Shot(
            request=request,
            model=model,
            preset=preset,
            seconds=seconds,
            size=request.model_size or family.size,
            steps=steps,
            guidance=family.guidance_for(request.guidance, continuing=False),
            continue_guidance=family.guidance_for(request.guidance, continuing=True),
            need=native_frames(seconds, family.fps),
            scheduler=scheduler,
            still_start=still
            if still and _can_skip(scheduler or model.pipe.scheduler, steps)
            else 0.0,
        )

    def _chunk_loop(self, shot: Shot, plan: list[int], progress: Progress) -> ChunkLoop:
        request = shot.request
        return ChunkLoop(
            partial(self._call, shot),
            plan,
            shot.family.overlap,
            backwards=request.before,
            keeps_first=request.image is not None,
            retries=request.retries,
            max_seam_ratio=request.max_seam_ratio,
            hold_subject=request.hold_subject,
            steps=shot.steps,
            progress=progress,
        )

    def _plan(self, shot: Shot, given: Given | None) -> list[int]:
        """Frames per call, or :class:`InputError` when the family cannot make the request."""
        family, ref = shot.family, shot.model.ref
        if given is not None and family.conditioning is None:
            raise InputError(
                f"{ref} ({family.name}) generates from text only: no image to video and "
                "no extension; use the built-in model, AnimateDiff or LTX-Video for those"
            )
        context = len(given.frames) if given is not None and not shot.request.image else 0
        plan = plan_chunks(family, shot.need, context)
        if family.conditioning is None and plan[0] > family.chunk_frames:
            longest = (family.chunk_frames - 1) / family.fps
            raise InputError(
                f"{ref} ({family.name}) makes one call of at most "
                f"{family.chunk_frames} frames: ask for {longest:g} seconds or fewer"
            )
        return plan

    def store_still(self, data: bytes, role: str, clip: VideoRecord, clip_id: str) -> str:
        """A still of a clip (``role``: poster, contact_sheet, first_frame) as an image asset
        whose parent is the clip, its record embedded as in any image (so two clips drawn
        alike still make two distinct stills)."""
        with Image.open(io.BytesIO(data)) as im:
            image = im.convert("RGB")
        record = StillRecord(
            asset_id=new_asset_id(),
            kind=role,
            width=image.width,
            height=image.height,
            parents=[Parent(id=clip_id, role="video")],
            **{name: getattr(clip, name) for name in STILL_FIELDS},
        )
        return self.library.add_image(image, record.to_dict(), "png").id

    def continue_clip(
        self,
        clip: Path,
        seconds: float,
        prompt: str,
        before: bool,
        default_model: str,
        on_progress: Progress | None = None,
        seed: int | None = None,
        overrides: Overrides | None = None,
        negative_prompt: str = "",
    ) -> Path:
        """A continuation (or lead-in) of ``clip`` made to match its size and rate, for
        :meth:`cinedraft.editor.Editor.extend`; returns the stored clip's path. Its chunks
        are held to the issue's seam bar (warp error within 1.5x of the inside average),
        with up to three redraws. ``overrides`` choose the model and how it samples."""
        info = self.prober.probe(clip)
        preset = VideoPreset(
            "match", info.video.width, info.video.height, int(round(info.fps)), seconds, crf=18
        )
        request = VideoRequest(
            prompt=prompt,
            seconds=seconds,
            extend=str(clip),
            before=before,
            seed=seed,
            negative_prompt=negative_prompt,
            max_seam_ratio=1.5,
            retries=3,
            **(overrides or Overrides()).model_dump(),
        )
        return Path(self.generate(request, default_model, on_progress, preset=preset).path)

    # ------------------------------------------------------------------ 2. given frames

    def _given(
        self,
        request: VideoRequest,
        family: VideoFamily,
        size: tuple[int, int],
        sources: dict[str, Asset],
    ) -> tuple[Given | None, list[dict]]:
        if request.image:
            asset = sources.get(request.image) or self.library.resolve(request.image, "image")
            try:
                with Image.open(asset.path) as im:
                    image = np.asarray(shown_rgb(im))
                # cut to the model's aspect where the image's subject is, as delivery is
                first = fit_frame(image, *size, crop_anchor([image], size[0] / size[1]))
            except DECODE_ERRORS as exc:
                raise InputError(f"cannot read the first frame {request.image}: {exc}") from None
            return Given(first[None]), [{"id": asset.id, "role": "first_frame"}]
        if request.extend:
            asset = sources.get(request.extend) or self.library.resolve(request.extend, "video")
            fps = self.prober.probe(asset.path).fps  # decodes it all in a worker first
            step = max(1, round(fps / family.fps))  # source frames per model frame
            k = max(1, family.overlap)
            span = (k - 1) * step + 1  # the source frames the given ones are picked from
            if request.before:
                source = list(itertools.islice(iter_frames(asset.path), span))
            else:
                source = list(collections.deque(iter_frames(asset.path), maxlen=span))
            picks = source[::step] if request.before else source[::-1][::step][::-1]
            anchor = _recorded_crop(asset.record)
            fitted = [unfit(f, *size, anchor) for f in picks]
            frames, region = np.stack([f for f, _ in fitted]), fitted[0][1]
            if region == (0, 0, *size):
                region = None
            role = "leads_into" if request.before else "extends"
            return Given(frames, at_end=request.before, region=region, anchor=anchor), [
                {"id": asset.id, "role": role}
            ]
        return None, []

    # ------------------------------------------------------------------ 3. one call

    def _call(
        self,
        shot: Shot,
        frames_n: int,
        continuing: bool,
        seed: int,
        given: Given | None,
        on_step: Callable[[int], None],
    ) -> Drawn:
        """One pipeline call of ``frames_n`` frames, conditioned on ``given`` as the family
        says (:class:`~cinedraft.engine.chunks.ChunkLoop`'s ``draw``)."""
        generator = torch.Generator("cpu").manual_seed(seed)
        kwargs = dict(
            # No video family encodes weights: the words, not the brackets and numbers.
            prompt=plain(shot.request.prompt),
            negative_prompt=plain(shot.request.negative_prompt) or None,
            num_frames=frames_n,
            width=shot.size[0],
            height=shot.size[1],
            num_inference_steps=shot.steps,
            guidance_scale=shot.continue_guidance if continuing else shot.guidance,
            generator=generator,
            **dict(shot.family.call),
        )
        if shot.family.conditioning == "latents":
            return self._call_latents(shot, kwargs, given, on_step, seed, continuing)
        return self._call_frames(shot, kwargs, given, on_step, seed)

    def _call_latents(
        self,
        shot: Shot,
        kwargs: dict,
        given: Given | None,
        on_step: Callable[[int], None],
        seed: int,
        continuing: bool,
    ) -> Drawn:
        """Latent conditioning: the given frames' latents are held in place at every step; a
        call from a first image starts its other frames from it (the family's
        ``still_start``)."""
        pipe = shot.model.pipe
        latents = self._noise(
            pipe,
            kwargs["num_frames"],
            shot.size,
            kwargs["generator"],
            shot.family.noise_correlation,
        )
        hold, scheduler, skipped = None, shot.scheduler, 0
        if given is not None:
            known = given.latents if given.latents is not None else self._encode(pipe, given.frames)
            if shot.still_start and not continuing:
                scheduler, skipped = _skipping(
                    shot.scheduler or pipe.scheduler, shot.steps, shot.still_start
                )
                latents = _still_start(scheduler, shot.steps, known, given.at_end, latents)
            hold = _Hold(given, known, latents, pipe.vae_scale_factor)
            latents = hold(latents)

        report = step_reporter(pipe, on_step, before=skipped)

        def step_end(pipe_: object, i: int, t: object, cb_kwargs: dict) -> dict:
            report(i)
            if hold is not None:
                cb_kwargs["latents"] = hold(cb_kwargs["latents"])
            return cb_kwargs

        with _sampling_with(pipe, scheduler):
            out = pipe(
                **accepted(
                    pipe,
                    kwargs
                    | dict(
                        latents=latents,
                        output_type="latent",
                        callback_on_step_end=step_end,
                        callback_on_step_end_tensor_inputs=["latents"],
                    ),
                )
            )
        final = out.frames if torch.is_tensor(out.frames) else torch.as_tensor(out.frames)
        with torch.no_grad():
            video = pipe.decode_latents(final)
        frames = _to_uint8(pipe.video_processor.postprocess_video(video=video, output_type="np"))
        return Drawn(frames, final.detach().cpu(), seed)

    def _call_frames(
        self,
        shot: Shot,
        kwargs: dict,
        given: Given | None,
        on_step: Callable[[int], None],
        seed: int,
    ) -> Drawn:
        """No conditioning, or a first image through the family's image-to-video pipeline."""
        pipe = shot.model.pipe
        if given is not None:
            if given.at_end:
                raise InputError(
                    f"{shot.family.name} cannot make a lead-in (it conditions on a first frame "
                    "only)"
                )
            pipe = self._image_pipeline(shot.model)
            kwargs = kwargs | {"image": Image.fromarray(given.frames[-1])}

        kwargs |= dict(output_type="np", frame_rate=shot.family.fps)
        with _sampling_with(pipe, shot.scheduler):
            out = pipe(**accepted(pipe, kwargs | step_callbacks(pipe, on_step)))
        return Drawn(_to_uint8(out.frames), None, seed)

    def _image_pipeline(self, model: LoadedModel) -> diffusers.DiffusionPipeline:
        """The family's image-to-video pipeline sharing the loaded components."""
        key = str(model.path)
        if key not in self._i2v:
            cls = getattr(diffusers, model.family.image_pipeline)
            self._i2v[key] = prepared(cls.from_pipe(model.pipe))
        return self._i2v[key]

    @staticmethod
    def _encode(pipe: diffusers.DiffusionPipeline, frames: np.ndarray) -> torch.Tensor:
        """(K, H, W, 3) uint8 -> latents (1, C, K, h, w), the VAE's mean, scaled."""
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).to(pipe.vae.dtype) / 127.5 - 1.0
        with torch.no_grad():
            z = pipe.vae.encode(x.to(pipe.vae.device)).latent_dist.mean
        z = z * pipe.vae.config.scaling_factor
        return z.permute(1, 0, 2, 3).unsqueeze(0).cpu()

    @staticmethod
    def _noise(
        pipe: diffusers.DiffusionPipeline,
        frames_n: int,
        size: tuple[int, int],
        generator: torch.Generator,
        rho: float,
    ) -> torch.Tensor:
        """The initial noise (1, C, F, h, w) from a CPU generator (device-independent), of
        unit variance (the pipeline scales the latents it is given to its scheduler's first
        noise level); a share ``rho`` of its variance common to all frames, as the model was
        trained (Ge et al., 2023, "Preserve Your Own Correlation")."""
        channels = pipe.unet.config.in_channels
        scale = pipe.vae_scale_factor
        shape = (1, channels, frames_n, size[1] // scale, size[0] // scale)
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if rho:
            shared = torch.randn(shape[:2] + (1,) + shape[3:], generator=generator)
            noise = rho**0.5 * shared + (1 - rho) ** 0.5 * noise
        return noise.to(pipe.unet.dtype)

    # ------------------------------------------------------------------ 5. record

    def _record(
        self,
        shot: Shot,
        seed: int,
        plan: list[int],
        chunked: Chunked,
        finished: Finished,
        temporal: dict,
        parents: list[dict],
    ) -> VideoRecord:
        model, family, request = shot.model, shot.family, shot.request
        return VideoRecord(
            asset_id=new_asset_id(),  # a cluster worker has no library
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            seed=seed,
            chunk_seeds=chunked.seeds,
            model=model.ref,
            model_path=str(model.path),
            model_hash=model.weights_hash,
            variant=model.variant,
            call=dict(model.family.call) or None,
            family=family.name,
            pipeline=type(model.pipe).__name__,
            sampler=type(shot.scheduler or model.pipe.scheduler).__name__,
            conditioning=family.conditioning,
            mode="extend" if request.extend else "image" if request.image else "text",
            before=request.before,
            steps=shot.steps,
            guidance=shot.guidance,
            continue_guidance=shot.continue_guidance,
            still_start=shot.still_start,
            preset=asdict(shot.preset),
            seconds=shot.seconds,
            fps=finished.fps,
            frames=finished.frames,
            width=finished.width,
            height=finished.height,
            model_size=list(shot.size),
            crop=[round(a, 4) for a in finished.anchor],
            native_fps=family.fps,
            chunks=plan,
            overlap=family.overlap,
            seams=chunked.seams,
            subject=chunked.subject,
            temporal=temporal,
            parents=parents,
            device=str(self.device),
            dtype=str(model.pipe.dtype).removeprefix("torch."),
            versions=software_versions(),
        )


def _recorded_crop(record: dict) -> tuple[float, float]:
    """Where a stored clip's delivery crop sits (its record's ``crop``); the middle for a clip
    that does not say (an imported file, or one made before crops followed the subject). A
    record is read as untrusted: anything but two numbers in 0..1 counts as unsaid."""
    crop = record.get("crop") if isinstance(record, dict) else None
    if (
        isinstance(crop, list)
        and len(crop) == 2
        and all(isinstance(a, (int, float)) and 0 <= a <= 1 for a in crop)
    ):
        return float(crop[0]), float(crop[1])
    return CENTRE


def _delivered(
    request: VideoRequest, new: np.ndarray, given: Given | None, need: int
) -> tuple[list[np.ndarray], str | None]:
    """The frames to deliver and, for a continuation, which end of them is the given clip's
    frame it joins (kept so its motion is timed from that frame; delivery drops it)."""
    frames = list(new[-need:] if request.before else new[:need])
    if not request.extend:
        return frames, None
    if request.before:
        return frames + [given.frames[0]], "last"
    return [given.frames[-1]] + frames, "first"


@contextmanager
def _sampling_with(
    pipe: diffusers.DiffusionPipeline, scheduler: diffusers.SchedulerMixin | None
) -> Iterator[None]:
    """``pipe`` samples with ``scheduler`` inside the block (when given); its own after it, so
    the cached pipeline's next request gets the model's scheduler again."""
    if scheduler is None:
        yield
        return
    own, pipe.scheduler = pipe.scheduler, scheduler
    try:
        yield
    finally:
        pipe.scheduler = own


def _can_skip(scheduler: diffusers.SchedulerMixin, steps: int) -> bool:
    """Whether :func:`_skipping` can cut ``scheduler``'s schedule of ``steps``: one timestep
    a step and, if it has noise levels, one more of those (the final zero). Second-order
    samplers (Heun, KDPM2) repeat timesteps and PNDM adds warm-up ones; cutting those by
    count would misalign the solver, so such a call starts from noise."""
    probe = type(scheduler).from_config(scheduler.config)
    probe.set_timesteps(steps)
    sigmas = getattr(probe, "sigmas", None)
    return len(probe.timesteps) == steps and (sigmas is None or len(sigmas) == steps + 1)


def _skipping(
    base: diffusers.SchedulerMixin, steps: int, share: float
) -> tuple[diffusers.SchedulerMixin, int]:
    """A copy of ``base`` whose schedule of ``steps`` leaves out its first ``share`` (as an
    image-to-image pipeline's ``strength`` does), and how many steps that is; ``base`` is one
    :func:`_can_skip` accepts. The schedule's timesteps and, where it has them, its noise
    levels are cut alike, so the solver's state (its step index, its final lower-order steps)
    follows the shorter schedule."""
    skip = min(steps - 1, round(steps * share))
    scheduler = type(base).from_config(base.config)
    full = scheduler.set_timesteps

    def set_timesteps(*args: object, **kwargs: object) -> None:
        full(*args, **kwargs)
        if getattr(scheduler, "sigmas", None) is not None:
            scheduler.sigmas = scheduler.sigmas[skip:]
        scheduler.timesteps = scheduler.timesteps[skip:]
        scheduler.num_inference_steps = len(scheduler.timesteps)

    scheduler.set_timesteps = set_timesteps
    return scheduler, skip


def _still_start(
    scheduler: diffusers.SchedulerMixin,
    steps: int,
    known: torch.Tensor,
    at_end: bool,
    noise: torch.Tensor,
) -> torch.Tensor:
    """Initial latents (1, C, F, h, w) of a call given the frames ``known`` (their latents,
    at the start of the call or, ``at_end``, at its end): every frame the given frame next
    to the drawn ones, noised with ``noise`` to the first step of ``scheduler``'s schedule."""
    scheduler.set_timesteps(steps)
    nearest = known[:, :, :1] if at_end else known[:, :, -1:]
    still = nearest.to(noise.dtype).expand_as(noise)
    # the pipeline multiplies the latents it is given by this (sigma-scaled schedulers)
    return scheduler.add_noise(still, noise, scheduler.timesteps[:1]) / scheduler.init_noise_sigma


def _to_uint8(frames: object) -> np.ndarray:
    """A pipeline's frames (batch of one; floats in 0..1 or PIL) as (F, H, W, 3) uint8."""
    if isinstance(frames, list) and frames and isinstance(frames[0], list):
        return np.stack([np.asarray(f.convert("RGB")) for f in frames[0]])
    array = np.asarray(frames)
    if array.ndim == 5:
        array = array[0]
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    return array


def _summary(metrics: dict[str, list[float]]) -> dict:
    """Mean, p95 and max of each per-pair temporal metric."""
    out = {}
    for name, values in metrics.items():
        v = np.asarray(values or [0.0])
        out[name] = {
            "mean": round(float(v.mean()), 4),
            "p95": round(float(np.percentile(v, 95)), 4),
            "max": round(float(v.max()), 4),
        }
    return out
