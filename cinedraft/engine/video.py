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
import inspect
import itertools
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import diffusers
import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..ids import utc_now
from ..library import Library
from ..media.codec import iter_frames
from ..media.metadata import DECODE_ERRORS
from ..media.probe import Prober
from ..quality.metrics import mean_lab, temporal_metrics
from ..quality.seams import score_seam
from ..render.video import VideoPreset, finish_clip, fit_frame, preset_for, unfit
from ..request import Progress, Seam, VideoRequest, VideoResult, no_progress
from .chunks import Anchor, native_frames, plan_chunks, seam_badness
from .models import LoadedModel, ModelCache, software_versions

# What a poster or contact sheet repeats of its clip's record (the image parameters line).
_STILL_FIELDS = (
    "prompt",
    "negative_prompt",
    "seed",
    "model",
    "model_hash",
    "sampler",
    "steps",
    "guidance",
    "versions",
)


@dataclass
class Given:
    """Frames a call must keep: (K, H, W, 3) uint8 at the model's size, at the start of the
    call or (a lead-in) at its end; ``latents`` (1, C, K, h, w) when already known.

    ``region`` (x0, y0, x1, y1) is the part of the frames that is really known: a clip
    delivered at another aspect than the model's shows only a band of the model's frame
    (see :func:`~cinedraft.render.video.unfit`); only that band is held, and the model
    draws the rest, which delivery crops away again."""

    frames: np.ndarray
    at_end: bool = False
    latents: torch.Tensor | None = None
    region: tuple[int, int, int, int] | None = None

    def crop(self, frames: np.ndarray) -> np.ndarray:
        if self.region is None:
            return frames
        x0, y0, x1, y1 = self.region
        return frames[:, y0:y1, x0:x1]


@dataclass
class Drawn:
    """One call's output: every frame (the given ones included) and, for latent
    conditioning, the latents they were decoded from (1, C, F, h, w)."""

    frames: np.ndarray
    latents: torch.Tensor | None
    seed: int


class VideoEngine:
    """Runs video requests with an image engine's model cache and library."""

    def __init__(self, models: ModelCache, library: Library, device: torch.device):
        self.models = models
        self.library = library
        self.device = device
        self._i2v: dict[str, diffusers.DiffusionPipeline] = {}

    @property
    def prober(self) -> Prober:
        """Probes untrusted clips in a worker process (the library's; see
        :mod:`cinedraft.media.probe`)."""
        return self.library.prober()

    # ------------------------------------------------------------------ the flow

    def generate(
        self,
        request: VideoRequest,
        default_model: str,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
        preset: VideoPreset | None = None,
    ) -> VideoResult:
        progress = on_progress or no_progress
        started = time.perf_counter()
        # 1. Model, family, preset, length.
        preset = preset or preset_for(request.preset)
        seconds = request.seconds if request.seconds is not None else preset.seconds
        model = self.models.get(request.model or default_model, kind="video")
        family = model.family
        size = request.model_size or family.size
        steps = request.steps or family.steps
        guidance = (
            family.guidance_for(request.guidance, continuing=False),
            family.guidance_for(request.guidance, continuing=True),
        )  # (first, continuing)
        need = native_frames(seconds, family.fps)
        # 2. Given frames and the parents they come from.
        given, parents = self._given(request, family, size)
        if given is not None and family.conditioning is None:
            raise InputError(
                f"{model.ref} ({family.name}) generates from text only: no image to video and "
                "no extension; use the built-in model, AnimateDiff or LTX-Video for those"
            )
        context = 0 if request.image else (len(given.frames) if given is not None else 0)
        plan = plan_chunks(family, need, context)
        if family.conditioning is None and plan[0] > family.chunk_frames:
            longest = (family.chunk_frames - 1) / family.fps
            raise InputError(
                f"{model.ref} ({family.name}) makes one call of at most "
                f"{family.chunk_frames} frames: ask for {longest:g} seconds or fewer"
            )
        # 3. Chunks.
        seed0 = secrets.randbelow(2**32) if request.seed is None else request.seed
        t0 = time.perf_counter()
        frames, seams, seeds = self._chunks(
            model, request, plan, given, size, steps, guidance, seed0, progress
        )
        t_generate = time.perf_counter() - t0
        frames = list(frames[:need] if not request.before else frames[-need:])
        # 4. Rendering pipeline; a continuation is timed from the clip's frame it follows.
        joined = None
        if request.extend:
            joined = "last" if request.before else "first"
            frames = frames + [given.frames[0]] if request.before else [given.frames[-1]] + frames
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "clip.mp4"
            finished = finish_clip(
                frames,
                family.fps,
                preset,
                out,
                seconds,
                request.codec,
                on_progress=progress,
                context=joined,
            )
            # 5. Metrics, record, library.
            t0 = time.perf_counter()
            temporal = _summary(temporal_metrics(iter_frames(out)))
            t_metrics = time.perf_counter() - t0
            record = self._record(
                model,
                request,
                preset,
                seconds,
                finished,
                seed0,
                seeds,
                size,
                steps,
                guidance,
                plan,
                seams,
                temporal,
                parents,
            )
            record["timings"] = {
                "generate": round(t_generate, 3),
                **finished.timings,
                "metrics": round(t_metrics, 3),
            }
            record |= record_extra or {}
            asset = self.library.add_video(out.read_bytes(), record)
            stills = {
                role: self._store_still(path, role, asset)
                for role, path in (
                    ("poster", finished.poster),
                    ("contact_sheet", finished.contact_sheet),
                )
            }
        progress("save", 1, 1)
        record["timings"]["total"] = round(time.perf_counter() - started, 3)
        return VideoResult(
            request=request,
            asset_id=asset.id,
            path=asset.path,
            seconds=seconds,
            frames=finished.frames,
            fps=finished.fps,
            width=finished.width,
            height=finished.height,
            chunks=len(plan),
            seams=[Seam(**s) for s in seams],
            poster=stills["poster"],
            contact_sheet=stills["contact_sheet"],
            record=asset.record,
            timings=record["timings"],
        )

    def _store_still(self, path: Path, role: str, video) -> str:
        """The poster or contact sheet as an image asset whose parent is the clip, its record
        embedded as in any image (so two clips drawn alike still make two distinct stills)."""
        with Image.open(path) as im:
            image = im.convert("RGB")
        made_with = {k: video.record[k] for k in _STILL_FIELDS if k in video.record}
        record = made_with | {
            "asset_id": self.library.new_id(),
            "kind": role,
            "created": utc_now(),
            "width": image.width,
            "height": image.height,
            "parents": [{"id": video.id, "role": "video"}],
        }
        return self.library.add_image(image, record, "png").id

    def continue_clip(
        self,
        clip: Path,
        seconds: float,
        prompt: str,
        before: bool,
        default_model: str,
        on_progress: Progress | None = None,
        seed: int | None = None,
    ) -> Path:
        """A continuation (or lead-in) of ``clip`` made to match its size and rate, for
        :meth:`cinedraft.editor.Editor.extend`; returns the stored clip's path. Its chunks
        are held to the issue's seam bar (warp error within 1.5x of the inside average),
        with up to three redraws."""
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
            max_seam_ratio=1.5,
            retries=3,
        )
        return Path(self.generate(request, default_model, on_progress, preset=preset).path)

    # ------------------------------------------------------------------ 2. given frames

    def _given(self, request: VideoRequest, family, size) -> tuple[Given | None, list[dict]]:
        if request.image:
            asset = self.library.resolve(request.image, "image")
            try:
                with Image.open(asset.path) as im:
                    first = fit_frame(np.asarray(im.convert("RGB")), *size)
            except DECODE_ERRORS as exc:
                raise InputError(f"cannot read the first frame {request.image}: {exc}") from None
            return Given(first[None]), [{"id": asset.id, "role": "first_frame"}]
        if request.extend:
            asset = self.library.resolve(request.extend, "video")
            fps = self.prober.probe(asset.path).fps  # decodes it all in a worker first
            step = max(1, round(fps / family.fps))  # source frames per model frame
            k = max(1, family.overlap)
            span = (k - 1) * step + 1  # the source frames the given ones are picked from
            if request.before:
                source = list(itertools.islice(iter_frames(asset.path), span))
            else:
                source = list(collections.deque(iter_frames(asset.path), maxlen=span))
            picks = source[::step] if request.before else source[::-1][::step][::-1]
            fitted = [unfit(f, *size) for f in picks]
            frames, region = np.stack([f for f, _ in fitted]), fitted[0][1]
            if region == (0, 0, *size):
                region = None
            role = "leads_into" if request.before else "extends"
            return Given(frames, at_end=request.before, region=region), [
                {"id": asset.id, "role": role}
            ]
        return None, []

    # ------------------------------------------------------------------ 3. chunks

    def _chunks(self, model, request, plan, given, size, steps, guidance, seed0, progress):
        """The new frames in time order, the seams, and the seed each chunk kept; ``guidance``
        is (first call, calls that continue given frames)."""
        family = model.family
        # What delivery shows: all of each frame, or the band of it a given clip shows.
        view = given.crop if given is not None else (lambda f: f)
        # Frames are handled in the order they are made: backwards in time for a lead-in.
        order = (lambda f: f[::-1]) if request.before else (lambda f: f)
        # The delivered frames the next chunk joins (in that order: the last is next to it).
        edge = order(view(given.frames)) if given is not None else None
        anchor = Anchor(mean_lab(edge)) if edge is not None else None
        pieces: list[np.ndarray] = []
        seams, seeds = [], []
        for k, frames_n in enumerate(plan):
            context = given
            keep_given = k == 0 and request.image is not None  # the first frame is output
            best, best_seam = None, None
            for attempt in range(request.retries + 1):
                seed = seed0 + k * 1_000_003 + attempt * 7919

                stage = f"chunk {k + 1}/{len(plan)}" + (f" retry {attempt}" if attempt else "")

                def on_step(step: int, stage=stage) -> None:
                    progress(stage, step, steps)

                continuing = context is not None and not keep_given
                drawn = self._call(
                    model,
                    request,
                    frames_n,
                    size,
                    steps,
                    guidance[continuing],
                    seed,
                    context,
                    on_step,
                )
                new = order(
                    drawn.frames
                    if keep_given or context is None
                    else (
                        drawn.frames[: -len(context.frames)]
                        if context.at_end
                        else drawn.frames[len(context.frames) :]
                    )
                )
                # Colour: matched to the frame it joins, then pulled towards the anchor.
                shown = view(new)
                anchor = anchor or Anchor(mean_lab(shown))
                fixed = anchor.join(new, shown, None if keep_given or edge is None else edge[-1])
                if context is None or keep_given:
                    best, best_seam = (drawn, fixed), None
                    break
                seam = score_seam(edge, view(fixed))
                if best is None or seam_badness(seam) < seam_badness(best_seam):
                    best, best_seam = (drawn, fixed), seam
                if seam_badness(seam) <= request.max_seam_ratio:
                    break
            drawn, fixed = best
            seeds.append(drawn.seed)
            if best_seam is not None:
                seams.append(
                    best_seam | {"at_frame": sum(len(p) for p in pieces), "attempts": attempt + 1}
                )
            pieces.append(fixed)
            edge = view(fixed)
            # The next call is conditioned on the raw end of this one (its latents).
            k_next = family.overlap
            if request.before:
                context = Given(
                    drawn.frames[:k_next],
                    at_end=True,
                    latents=None if drawn.latents is None else drawn.latents[:, :, :k_next],
                )
            else:
                context = Given(
                    drawn.frames[-k_next:],
                    latents=None if drawn.latents is None else drawn.latents[:, :, -k_next:],
                )
            given = context
        frames = np.concatenate([order(p) for p in pieces[::-1]] if request.before else pieces)
        if request.before:  # chunks were made backwards in time: count seams from the start
            for seam in seams:
                seam["at_frame"] = len(frames) - seam["at_frame"]
        return frames, seams, seeds

    def _call(
        self,
        model: LoadedModel,
        request,
        frames_n,
        size,
        steps,
        guidance,
        seed,
        given: Given | None,
        on_step,
    ) -> Drawn:
        """One pipeline call of ``frames_n`` frames, conditioned on ``given`` as the family says."""
        family = model.family
        generator = torch.Generator("cpu").manual_seed(seed)
        pipe = model.pipe
        kwargs = dict(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_frames=frames_n,
            width=size[0],
            height=size[1],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator,
        )
        if family.conditioning == "latents":
            latents = self._noise(pipe, frames_n, size, generator, family.noise_correlation)

            def hold_given(x):  # nothing given: the latents are left as they are
                return x

            if given is not None:
                known = (
                    given.latents if given.latents is not None else self._encode(pipe, given.frames)
                )
                n, s = known.shape[2], pipe.vae_scale_factor
                mask = torch.zeros((1, 1, frames_n) + latents.shape[3:], dtype=torch.bool)
                frames_at = slice(frames_n - n, frames_n) if given.at_end else slice(0, n)
                x0, y0, x1, y1 = given.region or (0, 0, size[0], size[1])
                # Latent cells wholly inside the known box only.
                mask[:, :, frames_at, -(-y0 // s) : y1 // s, -(-x0 // s) : x1 // s] = True
                placed = torch.zeros_like(latents)
                placed[:, :, frames_at] = known.to(latents.dtype)

                def hold_given(x):
                    return torch.where(mask.to(x.device), placed.to(x.device, x.dtype), x)

                latents = hold_given(latents)

            def hold(pipe_, i, t, cb_kwargs):  # the given frames stay clean at every step
                on_step(i + 1)
                cb_kwargs["latents"] = hold_given(cb_kwargs["latents"])
                return cb_kwargs

            out = pipe(
                **_accepted(
                    pipe,
                    kwargs
                    | dict(
                        latents=latents,
                        output_type="latent",
                        callback_on_step_end=hold,
                        callback_on_step_end_tensor_inputs=["latents"],
                    ),
                )
            )
            final = out.frames if torch.is_tensor(out.frames) else torch.as_tensor(out.frames)
            with torch.no_grad():
                video = pipe.decode_latents(final)
            frames = _to_uint8(
                pipe.video_processor.postprocess_video(video=video, output_type="np")
            )
            return Drawn(frames, final.detach().cpu(), seed)
        if given is not None:  # "image": the family's image-to-video pipeline
            if given.at_end:
                raise InputError(
                    f"{family.name} cannot make a lead-in (it conditions on a first frame only)"
                )
            pipe = self._image_pipeline(model)
            kwargs["image"] = Image.fromarray(given.frames[-1])

        def step_end(pipe_, i, t, cb_kwargs):
            on_step(i + 1)
            return cb_kwargs

        out = pipe(
            **_accepted(
                pipe,
                kwargs
                | dict(output_type="np", frame_rate=family.fps, callback_on_step_end=step_end),
            )
        )
        return Drawn(_to_uint8(out.frames), None, seed)

    def _image_pipeline(self, model: LoadedModel):
        """The family's image-to-video pipeline sharing the loaded components."""
        key = str(model.path)
        if key not in self._i2v:
            cls = getattr(diffusers, model.family.image_pipeline)
            self._i2v[key] = cls.from_pipe(model.pipe)
            self._i2v[key].set_progress_bar_config(disable=True)
        return self._i2v[key]

    @staticmethod
    def _encode(pipe, frames: np.ndarray) -> torch.Tensor:
        """(K, H, W, 3) uint8 -> latents (1, C, K, h, w), the VAE's mean, scaled."""
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).to(pipe.vae.dtype) / 127.5 - 1.0
        with torch.no_grad():
            z = pipe.vae.encode(x.to(pipe.vae.device)).latent_dist.mean
        z = z * pipe.vae.config.scaling_factor
        return z.permute(1, 0, 2, 3).unsqueeze(0).cpu()

    @staticmethod
    def _noise(pipe, frames_n, size, generator, rho: float) -> torch.Tensor:
        """The initial latents (1, C, F, h, w) from a CPU generator (device-independent);
        a share ``rho`` of their variance common to all frames, as the model was trained
        (Ge et al., 2023, "Preserve Your Own Correlation")."""
        channels = pipe.unet.config.in_channels
        scale = pipe.vae_scale_factor
        shape = (1, channels, frames_n, size[1] // scale, size[0] // scale)
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if rho:
            shared = torch.randn(shape[:2] + (1,) + shape[3:], generator=generator)
            noise = rho**0.5 * shared + (1 - rho) ** 0.5 * noise
        return noise.to(pipe.unet.dtype) * pipe.scheduler.init_noise_sigma

    # ------------------------------------------------------------------ 5. record

    def _record(
        self,
        model,
        request,
        preset,
        seconds,
        finished,
        seed0,
        seeds,
        size,
        steps,
        guidance,
        plan,
        seams,
        temporal,
        parents,
    ) -> dict:
        family = model.family
        return {
            "asset_id": self.library.new_id(),
            "kind": "video",
            "created": utc_now(),
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": seed0,
            "chunk_seeds": seeds,
            "model": model.ref,
            "model_path": str(model.path),
            "model_hash": model.weights_hash,
            "family": family.name,
            "pipeline": type(model.pipe).__name__,
            "sampler": type(model.pipe.scheduler).__name__,
            "conditioning": family.conditioning,
            "mode": "extend" if request.extend else "image" if request.image else "text",
            "before": request.before,
            "steps": steps,
            "guidance": guidance[0],
            "continue_guidance": guidance[1],
            "tier": "video",
            "preset": asdict(preset),
            "seconds": seconds,
            "fps": finished.fps,
            "frames": finished.frames,
            "width": finished.width,
            "height": finished.height,
            "model_size": list(size),
            "native_fps": family.fps,
            "chunks": plan,
            "overlap": family.overlap,
            "seams": seams,
            "temporal": temporal,
            "parents": parents,
            "device": str(self.device),
            "dtype": str(model.pipe.dtype).removeprefix("torch."),
            "versions": software_versions(),
        }


def _accepted(pipe, kwargs: dict) -> dict:
    """The keyword arguments this pipeline's ``__call__`` takes (families differ)."""
    names = inspect.signature(pipe.__call__).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def _to_uint8(frames) -> np.ndarray:
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
