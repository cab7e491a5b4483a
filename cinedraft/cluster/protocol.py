"""What the head and its workers send each other, and the head's checks on it.

- a worker's **card** (:func:`card`): its name, machine, device, cinedraft version and models
  layout; the head refuses a card whose version or layout is not its own (:func:`refusal`);
- a **task**: one part of a job (prompts, seeds, the request, a promotion's draft);
- a **result**: the part's images as RGB arrays and their records, or a clip (MP4 bytes,
  its record, its poster and contact sheet as PNG). A worker is another machine, so its
  result is untrusted: :func:`rendered_of` and :func:`clip_of` check every field before the
  head stores anything (the head also probes a clip in its media prober), and raise
  :class:`MalformedResult` with what was wrong.
"""

from __future__ import annotations

import io
import os
import socket

import numpy as np
from PIL import Image
from pydantic import ValidationError

from .._version import __version__
from ..engine.image import Rendered
from ..engine.video import Clip
from ..engine.models import MODELS_LAYOUT
from ..errors import CinedraftError, first_problem
from ..ids import new_asset_id
from ..record import ImageRecord, VideoRecord
from ..request import Seam

# What only the head's library writes in a record; a worker's saying it is dropped.
LIBRARY_FIELDS = ("watermark", "file", "claim", "job_id")


class MalformedResult(CinedraftError):
    """A worker's result that cannot be stored; the message says what was wrong."""


def card(name: str, device: str) -> dict:
    """A worker's card, as it sends it at join."""
    return {
        "name": name,
        "node": socket.gethostname(),
        "device": device,
        "version": __version__,
        "layout": MODELS_LAYOUT,
        "pid": os.getpid(),
    }


def refusal(worker: dict, head: dict) -> str | None:
    """Why a head refuses a worker's card (None: it may join); both cards are named."""
    name = worker.get("name", "a worker")
    if worker.get("version") != head["version"]:
        return (
            f"worker {name} runs cinedraft {worker.get('version')}, the head runs "
            f"{head['version']}: install the same version on every machine"
        )
    if worker.get("layout") != head["layout"]:
        return (
            f"worker {name} finds models by layout {worker.get('layout')}, the head by "
            f"layout {head['layout']}: install the same cinedraft version on every machine"
        )
    return None


def rendered_of(result: object, task: dict) -> list[Rendered]:
    """A worker's result for ``task`` as rendered images; :class:`MalformedResult` if it is
    not exactly what the task asked for."""
    if not isinstance(result, dict):
        raise MalformedResult(f"the result is a {type(result).__name__}, not a dict")
    images, records, drifts = result.get("images"), result.get("records"), result.get("drift")
    want = len(task["seeds"])
    if not all(isinstance(x, list) and len(x) == want for x in (images, records, drifts)):
        raise MalformedResult(f"the result does not hold {want} images, records and drifts")
    out = []
    for i, (pixels, record, drift) in enumerate(zip(images, records, drifts)):
        if not (
            isinstance(pixels, np.ndarray)
            and pixels.dtype == np.uint8
            and pixels.ndim == 3
            and pixels.shape[2] == 3
        ):
            raise MalformedResult(f"image {i} is not an RGB array of bytes")
        record = _own_fields(record)  # what only the library writes is the library's
        try:
            parsed = ImageRecord.model_validate(record)
        except ValidationError as exc:
            raise MalformedResult(f"record {i} is not an image record ({first_problem(exc)})")
        if (parsed.prompt, parsed.seed) != (task["prompts"][i], task["seeds"][i]):
            raise MalformedResult(f"record {i} is for another prompt or seed than was asked")
        if (parsed.width, parsed.height) != (pixels.shape[1], pixels.shape[0]):
            raise MalformedResult(f"image {i} is not the size its record says")
        if drift is not None and not (isinstance(drift, float) and -1 <= drift <= 1.0001):
            raise MalformedResult(f"drift {i} is not a similarity")
        _check_parents(parsed.parents, task)
        parsed = parsed.model_copy(update={"asset_id": new_asset_id()})  # ids are the head's
        out.append(Rendered(Image.fromarray(pixels, "RGB"), parsed, drift))
    return out


MAX_CLIP_BYTES = 2 * 1024**3  # the API's own cap on a stored clip is lower; this bounds memory


def clip_of(result: object, task: dict) -> Clip:
    """A worker's clip for ``task``; :class:`MalformedResult` if it is not what was asked.
    The MP4 itself is probed by the head before it is stored."""
    if not isinstance(result, dict):
        raise MalformedResult(f"the result is a {type(result).__name__}, not a dict")
    data, poster, sheet = result.get("clip"), result.get("poster"), result.get("contact_sheet")
    if not all(isinstance(x, bytes) and x for x in (data, poster, sheet)):
        raise MalformedResult("the clip, poster or contact sheet is missing or not bytes")
    if len(data) > MAX_CLIP_BYTES:
        raise MalformedResult(f"the clip is {len(data)} bytes, over {MAX_CLIP_BYTES}")
    try:
        record = VideoRecord.model_validate(_own_fields(result.get("record")))
    except ValidationError as exc:
        raise MalformedResult(f"the record is not a clip's ({first_problem(exc)})") from None
    if (record.prompt, record.seed) != (task["prompts"][0], task["seeds"][0]):
        raise MalformedResult("the record is for another prompt or seed than was asked")
    for name, png in (("poster", poster), ("contact sheet", sheet)):
        try:
            with Image.open(io.BytesIO(png)) as im:
                if im.format != "PNG":
                    raise MalformedResult(f"the {name} is {im.format}, not PNG")
                im.verify()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise MalformedResult(f"the {name} is not a readable image: {exc}") from None
    seams, chunks = result.get("seams"), result.get("chunks")
    try:
        checked = [Seam(**seam).model_dump() for seam in seams]
    except (TypeError, ValidationError):
        raise MalformedResult("the seams are not seam scores") from None
    if not isinstance(chunks, int) or chunks < 1:
        raise MalformedResult("the chunk count is not a positive number")
    _check_parents(record.parents, task)
    record = record.model_copy(update={"asset_id": new_asset_id()})  # ids are the head's
    return Clip(data, record, poster, sheet, chunks, checked)


def _check_parents(parents: list, task: dict) -> None:
    """A worker may name as parents only the assets the head sent it (lineage is the
    library's record of what was made from what)."""
    sent = {task["parent"]["asset"]["id"]} if task.get("parent") else set()
    sent |= {source["asset"]["id"] for source in task.get("sources", {}).values()}
    if stray := [p.id for p in parents if p.id not in sent]:
        raise MalformedResult(f"the record names {stray[0]} as a parent, which was not sent")


def _own_fields(record: object) -> object:
    """A worker's record without the fields only the library writes."""
    if not isinstance(record, dict):
        return record
    return {k: v for k, v in record.items() if k not in LIBRARY_FIELDS}
