"""Edit threads: where a turn's pixels came from, and how much of the original they keep.

A thread is an original image and the turns made from it, each an asset whose parent (role
``edit_of``) is the turn before; refining an earlier turn again makes a branch. Every turn's
record carries a :class:`ThreadState` (``edit.thread``): the original's id, the turn number,
where the original's pixels sit in this image (an offset, and whether it is mirrored: an
outpaint moves them, a crop cuts them), and the union of every mask the thread painted so
far. From that one record the next turn computes its own state, and the *preserved* score:
SSIM against the original over what no turn was asked to change.

A masked turn (inpaint, outpaint) composites the source's pixels back outside its mask, so
quality cannot decay there however many turns follow; a global turn (img2img, instruction
edit) redraws everything a little, which the preserved score shows.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from ..library import Asset, Library
from ..quality.metrics import masked_ssim

EDIT_ROLE = "edit_of"


@dataclass(frozen=True, eq=False)
class ThreadState:
    """Where the thread's original is in one turn's image (see the module docstring)."""

    original: str  # asset id of the thread's first image
    turn: int  # 0: the original itself
    size: tuple[int, int]  # this turn's (width, height)
    original_size: tuple[int, int]
    offset: tuple[int, int] = (0, 0)  # the original's top-left in this image (may be < 0)
    mirrored: bool = False
    changed: np.ndarray | None = None  # bool (H, W): painted by some turn; None: nothing yet

    @classmethod
    def of(cls, asset: Asset) -> ThreadState:
        """The state an asset's record carries, or a new thread with ``asset`` as its
        original (any image that is not an edit turn)."""
        saved = (asset.record.get("edit") or {}).get("thread")
        if not isinstance(saved, dict):
            return cls(asset.id, 0, (asset.width, asset.height), (asset.width, asset.height))
        changed = saved.get("changed")
        return cls(
            original=saved["original"],
            turn=int(saved["turn"]),
            size=(asset.width, asset.height),
            original_size=tuple(saved["original_size"]),
            offset=tuple(saved.get("offset", (0, 0))),
            mirrored=bool(saved.get("mirrored", False)),
            changed=_mask_from_png(changed) if changed else None,
        )

    def _changed(self) -> np.ndarray:
        if self.changed is not None:
            return self.changed
        return np.zeros((self.size[1], self.size[0]), bool)

    def painted(self, mask: np.ndarray) -> ThreadState:
        """After a turn that painted ``mask`` (bool, this size)."""
        return replace(self, changed=self._changed() | mask)

    def grown(self, margins: dict[str, int]) -> ThreadState:
        """After an outpaint that added ``margins``: the new area counts as painted."""
        old = self._changed()
        w = self.size[0] + margins["left"] + margins["right"]
        h = self.size[1] + margins["top"] + margins["bottom"]
        changed = np.ones((h, w), bool)
        top, left = margins["top"], margins["left"]
        changed[top : top + self.size[1], left : left + self.size[0]] = old
        offset = (self.offset[0] + left, self.offset[1] + top)
        return replace(self, size=(w, h), offset=offset, changed=changed)

    def cropped(self, box: tuple[int, int, int, int]) -> ThreadState:
        """After a crop to ``(left, top, width, height)``."""
        left, top, w, h = box
        changed = self._changed()[top : top + h, left : left + w]
        offset = (self.offset[0] - left, self.offset[1] - top)
        return replace(self, size=(w, h), offset=offset, changed=changed)

    def flipped(self) -> ThreadState:
        """After a horizontal mirror."""
        w0 = self.original_size[0]
        offset = (self.size[0] - (self.offset[0] + w0), self.offset[1])
        return replace(
            self, offset=offset, mirrored=not self.mirrored, changed=self._changed()[:, ::-1]
        )

    def next_turn(self) -> ThreadState:
        """This state as the start of the next turn."""
        return replace(self, turn=self.turn + 1)

    def preserved(self, image: Image.Image, original: Image.Image) -> float | None:
        """SSIM of ``image`` against the original where no turn painted (None when nothing of
        the original is left unpainted in view)."""
        w0, h0 = original.size
        ox, oy = self.offset
        x0, y0 = max(0, ox), max(0, oy)
        x1, y1 = min(self.size[0], ox + w0), min(self.size[1], oy + h0)
        if x1 <= x0 or y1 <= y0:
            return None
        src = np.asarray(original.convert("RGB"))
        if self.mirrored:
            src = src[:, ::-1]
        here = np.asarray(image.convert("RGB"))[y0:y1, x0:x1]
        there = src[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        keep = ~self._changed()[y0:y1, x0:x1]
        score = masked_ssim(here, there, keep)
        return None if score is None else round(score, 4)

    def to_record(self) -> dict:
        out = {
            "original": self.original,
            "turn": self.turn,
            "original_size": list(self.original_size),
            "offset": list(self.offset),
            "mirrored": self.mirrored,
        }
        if self.changed is not None and self.changed.any():
            out["changed"] = _mask_to_png(self.changed)
        return out


def _mask_to_png(mask: np.ndarray) -> str:
    """A bool mask as a 1-bit PNG in base64 (a rectangle at 1024x1024 is a few hundred bytes)."""
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).convert("1").save(buf, "PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def _mask_from_png(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as im:
        return np.asarray(im.convert("L")) > 127


# ---------------------------------------------------------------------- reading a thread


@dataclass(frozen=True)
class Turn:
    """One image of a thread as ``thread`` prints it."""

    asset_id: str
    depth: int  # 0: the original
    parent: str | None
    operation: str | None
    route: str | None
    instruction: str | None
    preserved: float | None
    created: str


def thread_of(library: Library, asset_id: str) -> list[Turn]:
    """The whole thread ``asset_id`` belongs to, from its original, depth first (a branch's
    turns follow the turn they branch from), each turn once."""
    asset = library.get(asset_id)
    root = ThreadState.of(asset).original
    turns, stack, seen = [], [(library.get(root), 0, None)], set()
    while stack:
        asset, depth, parent = stack.pop()
        if asset.id in seen:
            continue
        seen.add(asset.id)
        edit = asset.record.get("edit") or {}
        turns.append(
            Turn(
                asset_id=asset.id,
                depth=depth,
                parent=parent,
                operation=edit.get("operation"),
                route=edit.get("route"),
                instruction=edit.get("instruction") or edit.get("prompt"),
                preserved=edit.get("preserved"),
                created=asset.created or "",
            )
        )
        children = [cid for cid, role in library.children(asset.id) if role == EDIT_ROLE]
        for child in reversed(children):  # the oldest is popped first
            stack.append((library.get(child), depth + 1, asset.id))
    return turns
