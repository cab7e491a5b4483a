"""A vertical ad from a SKU's catalogue images: three shots, joined, captioned, scored.

:meth:`Ad.make` reads top to bottom:

1. the SKU's approved images: its favourites (or rated 4+) among the newest catalogue run's
   final images, else all of them; of those the 9:16 ones when there are any (the shots
   take turns over them);
2. three shots of about a third of the length each (frame counts that add up exactly at
   30 fps), 1080x1920, 30 fps, H.264, each with its own camera move. ``motion="camera"``
   (the default): a virtual camera over the approved still (:data:`CAMERA`; the editor's
   ``camera``), so the product is the approved pixels in every frame. ``motion="model"``:
   image to video through the ``vertical-15s`` preset, the move in words (:data:`MOVES`);
   a video model redraws every frame, and the built-in one loses the product within a
   few seconds (it was trained on 2 s clips), so it is not the default;
3. the editor joins them (stream copy: same codec, size and rate);
4. the product name, up to two caption lines and the brand's logo are drawn inside the safe
   zone (:data:`SAFE`), re-encoding the frames once;
5. with ``music``, it replaces the audio and fades out over the last :data:`FADE` seconds;
6. the clip is copied to ``OUT/<sku>/ad.mp4``.

The safe zone is the one area that both TikTok and Instagram/Facebook Reels leave free of
their interface on a 1080x1920 frame: Meta's Reels guidance keeps text out of the top 14 %,
the bottom 35 % and 6 % at each side; TikTok's action rail (like, comment, share) covers
about the right 12 %, so the zone here is the intersection: x 65-950, y 269-1248.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from ..editor import Editor
from ..errors import InputError
from ..library import Asset, Library
from ..media.files import write_atomic
from ..media.pixels import as_shown
from ..request import Progress, VideoRequest, no_progress
from .brand import BrandKit

if TYPE_CHECKING:
    from ..engine.engine import Engine

PRESET = "vertical-15s"
SIZE, FPS = (1080, 1920), 30
SAFE = {"top": 0.14, "bottom": 0.35, "left": 0.06, "right": 0.12}  # shares of the frame
MOVES = ("camera slowly zooms in", "camera pulls back", "camera zooms in")
CAMERA = ("zoom-in", "pan-right", "pull-back")
MOTIONS = ("camera", "model")
FADE = 1.5  # seconds of music fade-out
MAX_CAPTIONS = 2
MAX_SECONDS = 60.0


@dataclass
class AdResult:
    sku: str
    asset_id: str
    path: Path
    seconds: float
    width: int
    height: int
    fps: float
    motion: str  # "camera" (a move over the still) or "model" (image to video)
    shots: list[str]  # the shots' asset ids
    images: list[str]  # the images they start from


def safe_zone(width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the caption-safe zone of a ``width`` x ``height`` frame."""
    return (
        round(SAFE["left"] * width),
        round(SAFE["top"] * height),
        round((1 - SAFE["right"]) * width),
        round((1 - SAFE["bottom"]) * height),
    )


def caption_overlay(
    size: tuple[int, int], name: str, captions: list[str], brand: BrandKit
) -> Image.Image:
    """A transparent frame with the logo, the product name and the caption lines at the top
    of the safe zone, each line shrunk until it fits the zone's width."""
    if len(captions) > MAX_CAPTIONS:
        raise InputError(f"at most {MAX_CAPTIONS} caption lines, got {len(captions)}")
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = safe_zone(*size)
    y = y0
    if brand.logo is not None:
        with Image.open(brand.logo) as im:
            logo = as_shown(im).convert("RGBA")
        logo.thumbnail((x1 - x0, round(0.06 * size[1])), Image.Resampling.LANCZOS)
        image.alpha_composite(logo, ((x0 + x1 - logo.width) // 2, y))
        y += logo.height + round(0.015 * size[1])
    for text, share in [(name, 0.05), *((c, 0.032) for c in captions)]:
        font, box = _fitted(draw, text, brand, round(share * size[1]), x1 - x0)
        width, height = box[2] - box[0], box[3] - box[1]
        if y + height > y1:
            raise InputError(f"the captions do not fit the safe zone at {text!r}")
        at = ((x0 + x1 - width) // 2 - box[0], y - box[1])
        stroke = max(2, font.size // 14)  # legible on any scene: light text, dark outline
        draw.text(at, text, font=font, fill=(255, 255, 255, 255), stroke_width=stroke,
                  stroke_fill=(0, 0, 0, 200))  # fmt: skip
        y += height + round(0.6 * share * size[1])
    return image


def _fitted(draw: ImageDraw.ImageDraw, text: str, brand: BrandKit, size: int, width: int):
    while True:
        font = brand.font(size)
        stroke = max(2, size // 14)
        box = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        if box[2] - box[0] <= width or size <= 12:
            return font, box
        size = int(size * 0.9)


def shot_frames(seconds: float, shots: int = len(MOVES), fps: int = FPS) -> list[int]:
    """Frame counts of the shots: as equal as can be, adding up to ``seconds`` at ``fps``."""
    total = round(seconds * fps)
    return [total // shots + (1 if k < total % shots else 0) for k in range(shots)]


class Ad:
    """Makes ads from a library's catalogue outputs with an engine and an editor."""

    def __init__(
        self,
        library: Library,
        engine: Callable[[], Engine],
        editor: Callable[[], Editor],
        brand: BrandKit | None = None,
        on_progress: Progress | None = None,
    ):
        self.library, self._engine, self._editor = library, engine, editor
        self.brand = brand or BrandKit()
        self.progress = on_progress or no_progress

    def make(
        self,
        sku: str,
        seconds: float = 15.0,
        out: Path | None = None,
        music: Path | None = None,
        captions: list[str] | None = None,
        seed: int = 0,
        model: str | None = None,
        motion: str = "camera",
        steps: int | None = None,
    ) -> AdResult:
        """See the module docstring. ``model``, ``seed`` and ``steps`` (default: the model's)
        are the video model's, with ``motion="model"``."""
        if not 3 <= seconds <= MAX_SECONDS:
            raise InputError(f"an ad is 3 to {MAX_SECONDS:g} seconds, got {seconds:g}")
        if motion not in MOTIONS:
            raise InputError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
        # 1. The approved images, and the name and caption their row gave.
        images = self.approved(sku)
        row = images[0].record["catalogue"]["row"]
        captions = list(captions or ([row["caption"]] if row.get("caption") else []))
        overlay = caption_overlay(SIZE, row["name"], captions, self.brand)
        frames = shot_frames(seconds)
        stages, done = len(frames) + 3, 0
        self.progress("ad", done, stages)
        # 2. The shots.
        editor = self._editor()
        shots = []
        for k, count in enumerate(frames):
            image = images[k % len(images)]
            if motion == "camera":
                shot = editor.camera(image.id, count / FPS, CAMERA[k % len(CAMERA)], SIZE, FPS)
                shots.append(shot.id)
            else:
                request = VideoRequest(
                    prompt=f"{image.prompt}, {MOVES[k % len(MOVES)]}",
                    model=model,
                    preset=PRESET,
                    seconds=count / FPS,
                    image=image.id,
                    seed=seed + k,
                    steps=steps,
                )
                # the shot's own stages (chunk steps, encode) show while it renders: a shot
                # of a real model at 1080x1920 takes minutes
                shots.append(self._engine().generate_video(request, self.progress).asset_id)
            done += 1
            self.progress("ad", done, stages)
        # 3-5. Joined, captioned, scored.
        clip = editor.merge(shots)
        clip = editor.overlay(clip.id, overlay, "captions")
        done += 2
        self.progress("ad", done, stages)
        if music is not None:
            clip = editor.audio(clip.id, str(music), "replace", fade_out=FADE)
        # 6. The file.
        path = (Path(out).expanduser() if out else Path("catalogue-out")) / sku / "ad.mp4"
        write_atomic(path, Path(clip.path).read_bytes(), shared=True)
        self.progress("ad", stages, stages)
        record = clip.record
        return AdResult(
            sku=sku,
            asset_id=clip.id,
            path=path,
            seconds=record["seconds"],
            width=record["width"],
            height=record["height"],
            fps=record["fps"],
            motion=motion,
            shots=shots,
            images=[i.id for i in images],
        )

    def approved(self, sku: str) -> list[Asset]:
        """The images an ad of ``sku`` starts from (step 1 of the module docstring)."""
        found = self.library.catalogue_outputs(f"{sku}/")
        if not found:
            raise InputError(
                f"no catalogue images of SKU {sku!r} in the library; run `cinedraft catalogue` "
                "on a product list that has it first"
            )
        assets = [self.library.get(ids[-1]) for ids in found.values()]
        newest = max(assets, key=lambda a: a.created).record["catalogue"]["key"].split(":")[0]
        finals = [
            a
            for a in assets
            if a.record["catalogue"]["key"].startswith(newest + ":")
            and a.record["catalogue"]["step"].startswith(("lock-", "aspect-", "production-"))
            and a.width
            and a.height
        ]
        if any(a.record["catalogue"]["step"].startswith("lock-") for a in finals):
            # a packshot's production renders before the lock show a redrawn product
            finals = [a for a in finals if not a.record["catalogue"]["step"].startswith("prod")]
        liked = [a for a in finals if a.favourite or a.rating >= 4]

        pool = liked or finals
        # a landscape image squeezed into a vertical shot came out a smear: vertical ones only
        tall = [a for a in pool if abs(a.width / a.height - 9 / 16) < 0.02]
        return sorted(tall or pool, key=lambda a: (-a.rating, a.created))
