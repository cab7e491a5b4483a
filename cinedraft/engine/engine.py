"""``Engine``: the facade over the image and video flows.

It builds what both flows share once: the device, the loaded-model cache, the library every
output goes into, the upscaler. The image flow is :class:`~cinedraft.engine.image.ImageEngine`,
the video flow :class:`~cinedraft.engine.video.VideoEngine` (built on first use).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from ..config import Settings
from ..errors import InputError
from ..library import Library
from ..media.codec import read_frames
from ..record import VideoRecord, read_record
from ..render.upscale import ModelUpscaler
from ..render.video import VideoPreset
from ..request import (
    EditRequest,
    EditResult,
    ImageRequest,
    Overrides,
    Progress,
    Rerender,
    Result,
    VideoRequest,
    VideoResult,
)
from ..tiers import Tier
from .device import pick_device
from .edits import EditEngine
from .guard import Guard
from .image import ImageEngine, Rendered
from .models import ModelCache
from .video import VideoEngine


class Engine:
    """Runs image and video requests. Holds the settings, the device, the loaded-model cache
    and the library every output goes into."""

    def __init__(
        self,
        settings: Settings,
        library: Library | None = None,
        actor: str | None = None,
        guard: Guard | None = None,
    ):
        self.settings = settings
        self.device = pick_device(settings.device)
        self.models = ModelCache.for_settings(settings, self.device)
        self.library = library or Library(settings.library_root, provenance=settings.provenance)
        self.upscaler = (
            ModelUpscaler(settings.upscaler, device=str(self.device)) if settings.upscaler else None
        )
        # the policy and the audit trail (entries name ``actor``, by default the OS user)
        self.guard = guard or Guard(
            settings.policy_file,
            self.library,
            actor,
            settings.audit_retention_days,
            settings.wildcards_root,
        )
        self.image = ImageEngine(
            settings, self.models, self.library, self.device, self.upscaler, self.guard
        )
        self.edits = EditEngine(self.image)
        self._video: VideoEngine | None = None

    @property
    def video(self) -> VideoEngine:
        """The video flow, sharing this engine's model cache, library and device."""
        if self._video is None:
            self._video = VideoEngine(self.models, self.library, self.device, self.guard)
        return self._video

    # ------------------------------------------------------------------ images

    def generate_image(
        self,
        request: ImageRequest,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ) -> Result:
        """Generate ``request.count`` images and store them (:mod:`cinedraft.engine.image`)."""
        return self.image.generate_image(request, on_progress, record_extra)

    def render_images(
        self, request: ImageRequest, progress: Progress, tier: Tier | None = None
    ) -> list[Rendered]:
        """The images and their records, nothing stored (the clarity lab varies ``tier``)."""
        return self.image.render_images(request, progress, tier)

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
        """Re-render a draft at the production tier from its prompt and seed (see
        :meth:`ImageEngine.promote`); an edit turn from its pixels (:meth:`EditEngine.promote`:
        re-sampling would lose the edit)."""
        if self.library.get(asset_id).record.get("edit"):
            if size or tiled_refine is not None or negative_prompt is not None:
                raise InputError(
                    f"{asset_id} is an edit turn, promoted from its pixels at its own aspect: "
                    "--size, --tiled-refine and --negative do not apply"
                )
            return self.edits.promote(asset_id, on_progress, record_extra, overrides)
        return self.image.promote(
            asset_id, on_progress, record_extra, overrides, size, tiled_refine, negative_prompt
        )

    def edit(
        self,
        request: EditRequest,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ) -> EditResult:
        """One edit turn of a stored image, stored as a new asset
        (:mod:`cinedraft.engine.edits`)."""
        return self.edits.edit(request, on_progress, record_extra)

    def rerender(self, asset_id: str, on_progress: Progress | None = None) -> Rerender:
        """Run a stored record again; store the result and compare its pixels to the original."""
        return self.image.rerender(asset_id, on_progress)

    # ------------------------------------------------------------------ video

    def remix(
        self,
        clip_ref: str,
        instruction: str,
        on_progress: Progress | None = None,
        model: str | None = None,
        seed: int | None = None,
    ) -> VideoResult:
        """A generated clip again with one change: its first frame edited by ``instruction``
        (the routes of ``refine``; ``model``: the edit's), then image to video with the
        clip's prompt, model, steps, guidance, seed and delivery preset. The new clip names
        the edited frame (``first_frame``) and the clip (``remix_of``) as its parents."""
        clip = self.library.resolve(clip_ref, "video")
        rec = read_record(
            clip.record,
            VideoRecord,
            "a generated clip: a remix keeps a clip's prompt, motion and seed",
        )
        frames, _ = read_frames(clip.path, max_frames=1)
        buf = io.BytesIO()
        Image.fromarray(frames[0]).save(buf, "PNG")
        first = self.video.store_still(buf.getvalue(), "first_frame", rec, clip.id)
        turn = self.edits.edit(
            EditRequest(
                source=first, operation="refine", instruction=instruction, model=model, seed=seed
            ),
            on_progress,
        )
        request = VideoRequest(
            prompt=rec.prompt,
            negative_prompt=rec.negative_prompt,
            model=rec.model,
            preset=rec.preset["name"],
            seconds=rec.seconds,
            image=turn.output.asset_id,
            steps=rec.steps,
            guidance=rec.guidance,
            seed=rec.seed,
        )
        parents = [
            {"id": turn.output.asset_id, "role": "first_frame"},
            {"id": clip.id, "role": "remix_of"},
        ]
        remix = {"of": clip.id, "instruction": instruction, "route": turn.route}
        return self.video.generate(
            request,
            self.settings.video_model,
            on_progress,
            {"parents": parents, "remix": remix},
            VideoPreset(**rec.preset),
        )

    def generate_video(
        self,
        request: VideoRequest,
        on_progress: Progress | None = None,
        record_extra: dict | None = None,
    ) -> VideoResult:
        """Generate a clip (text, image or extension to video) and store it
        (:mod:`cinedraft.engine.video`)."""
        return self.video.generate(request, self.settings.video_model, on_progress, record_extra)

    def continue_clip(
        self,
        clip: Path,
        seconds: float,
        prompt: str,
        before: bool = False,
        on_progress: Progress | None = None,
        seed: int | None = None,
        overrides: Overrides | None = None,
        negative_prompt: str = "",
    ) -> Path:
        """A generated continuation (or lead-in) of ``clip``: the editor's extend hook."""
        return self.video.continue_clip(
            clip,
            seconds,
            prompt,
            before,
            self.settings.video_model,
            on_progress,
            seed,
            overrides,
            negative_prompt,
        )
