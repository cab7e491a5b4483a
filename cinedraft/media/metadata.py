"""Encoding images with their generation record embedded.

PNG carries two text chunks: ``parameters`` in the format A1111-style tools read
(prompt, ``Negative prompt:`` line, then ``Steps: .., Sampler: .., CFG scale: .., Seed: ..``)
and ``cinedraft`` with the full JSON record; an SD-family image also carries ``prompt``, the
ComfyUI graph of its recipe (:mod:`cinedraft.media.comfy`). WebP and JPEG carry the same
``parameters`` text in EXIF UserComment (where those tools look) and the JSON record in XMP.
MP4 carries the ``parameters`` text as the ``comment`` tag and the record as a ``cinedraft``
tag (remuxed with stream copy, ``moov`` first so browsers start playing at once).
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape, unescape

from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from ..errors import InputError
from ..prompt_tags import NAME
from ..weighting import as_a1111
from .comfy import comfy_workflow, read_comfy_graph
from .files import AVIF_BRANDS

FORMATS = {"png": ".png", "webp": ".webp", "jpeg": ".jpg"}
# What Pillow raises for a damaged or hostile image: OSError (UnidentifiedImageError is one)
# for bad data, ValueError for an oversized text chunk, SyntaxError and UnicodeDecodeError
# for mangled chunks, DecompressionBombError past its pixel limit.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, UnicodeDecodeError, Image.DecompressionBombError)
_XMP_OPEN, _XMP_CLOSE = "<cinedraft:record>", "</cinedraft:record>"


def decode_problem(exc: BaseException) -> str:
    """What a decode error says, for a person: Pillow names a file it does not know by the
    buffer it read it from (``cannot identify image file <_io.BytesIO object at 0x7f..>``)."""
    if isinstance(exc, UnidentifiedImageError):
        return "its format is none that is read (PNG, JPEG, WebP, AVIF and the like)"
    return str(exc)


def parameters_text(record: dict) -> str | None:
    """The A1111 ``parameters`` string for a generation record, each field in A1111's meaning
    (its "infotext"), so that A1111, Forge or ComfyUI's importers can redo the image: ``Size``
    is the first pass, the production pass is its "hires fix" (upscale, steps, denoising
    strength), ``Model`` the checkpoint's name. What those tools have no step for (measured
    cleanup, colour keep) is in the JSON record only. An import from A1111 (or a copy of one)
    gets its own text again; None for a record no model made (an exact adjustment)."""
    if "steps" not in record:
        return _their_parameters(record.get("made_with") or {})
    loras = [a for a in record.get("adapters") or [] if a.get("kind") == "lora"]
    # A1111 applies a LoRA named in the prompt: the tags make the text reproduce there too.
    tags = "".join(f" <lora:{Path(a['path']).stem}:{a['weight']:g}>" for a in loras)
    # Weights in A1111's syntax, as A1111 reads them; ComfyUI's importer needs the negative
    # line even when it is empty.
    negative = as_a1111(record.get("negative_prompt") or "")
    lines = [as_a1111(record["prompt"]) + tags, f"Negative prompt: {negative}"]
    fields = {"Steps": record["steps"], "Sampler": record["sampler"]}
    if record.get("schedule_type"):
        fields["Schedule type"] = record["schedule_type"]
    first = (
        record.get("base_width") or record["width"],
        record.get("base_height") or record["height"],
    )
    fields |= {
        "CFG scale": record["guidance"],
        "Seed": record["seed"],
        "Size": f"{first[0]}x{first[1]}",
        "Model hash": record["model_hash"][:10],
        "Model": checkpoint_name(record["model"]),
    }
    if record.get("clip_skip"):
        fields["Clip skip"] = record["clip_skip"]
    render, edit = record.get("render") or {}, record.get("edit") or {}
    if edit.get("strength"):  # an img2img or inpaint turn: A1111's img2img strength
        fields["Denoising strength"] = edit["strength"]
    elif render.get("refine_strength"):
        fields["Denoising strength"] = render["refine_strength"]
        fields["Hires upscale"] = render["upscale"]
        fields["Hires steps"] = render["refine_steps"]
        fields["Hires upscaler"] = "Lanczos"  # one of A1111's built-in upscalers
    # A1111 names the files by hash beside the prompt; an embedding's name in the prompt is
    # its file's (the token it was loaded as), which A1111 takes as that embedding.
    embeddings = [a for a in record.get("adapters") or [] if a.get("kind") == "embedding"]
    for key, used in (("Lora hashes", loras), ("TI hashes", embeddings)):
        if used:
            hashes = ", ".join(f"{Path(a['path']).stem}: {a['sha256'][:12]}" for a in used)
            fields[key] = f'"{hashes}"'
    for vae in (a for a in record.get("adapters") or [] if a.get("kind") == "vae"):
        fields |= {"VAE hash": vae["sha256"][:10], "VAE": Path(vae["path"]).name}
    fields["Version"] = f"cinedraft {record['versions']['cinedraft']}"
    lines.append(", ".join(f"{k}: {v}" for k, v in fields.items()))
    return "\n".join(lines)


# A field's name in the infotext's last line ("Steps: 20, Sampler: .."): bounded, so a hostile
# line costs time in proportion to its length.
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w ./()-]{0,63}):\s*")
_QUOTED = re.compile(r'"(?:\\.|[^\\"]){0,1024}"')
MAX_PARAMETERS = 64 * 1024  # characters of a parameters text read at most (A1111's: ~1-5 K)
MAX_NAMED = 32  # embeddings read of a parameters text at most
_NUMBERS = {
    "Steps": ("steps", int),
    "CFG scale": ("guidance", float),
    "Seed": ("seed", int),
    "Clip skip": ("clip_skip", int),
}
_TEXTS = {
    "Sampler": "sampler",
    "Schedule type": "scheduler",
    "Model": "model",
    "Model hash": "model_hash",
    "VAE": "vae",
}


def read_parameters(text: str) -> dict | None:
    """What A1111's (or Forge's, or cinedraft's) ``parameters`` text says made an image: the
    prompt (the lines before ``Negative prompt:``), the negative prompt, and from the last
    line (``Steps: 20, Sampler: ..``) seed, steps, CFG, sampler, schedule, size and model,
    with every field as it was written under ``fields``. None when the text does not end in
    such a line (A1111 needs three fields there to call it one). The text is untrusted:
    fields that do not parse are kept as written only."""
    if len(text) > MAX_PARAMETERS:
        return None
    lines = text.strip().splitlines()
    fields = _fields(lines[-1]) if lines else {}
    if len(fields) < 3 or "Steps" not in fields:
        return None
    body = "\n".join(lines[:-1])
    prompt, _, negative = body.partition("\nNegative prompt:")
    if body.startswith("Negative prompt:"):
        prompt, negative = "", body.removeprefix("Negative prompt:")
    found: dict = {"tool": "A1111", "prompt": prompt.strip(), "negative_prompt": negative.strip()}
    for name, (key, kind) in _NUMBERS.items():
        try:
            value = kind(fields[name])
        except (KeyError, ValueError):
            continue
        if math.isfinite(value):
            found[key] = value
    found |= {key: fields[name] for name, key in _TEXTS.items() if fields.get(name)}
    if m := re.fullmatch(r"(\d{1,5})x(\d{1,5})", fields.get("Size", "")):
        found["width"], found["height"] = int(m.group(1)), int(m.group(2))
    # the embeddings the prompt's words name (A1111 takes a word that is an embedding's name)
    names = [n.partition(":")[0].strip() for n in fields.get("TI hashes", "").split(",")]
    if names := [n for n in names if re.fullmatch(NAME, n)][:MAX_NAMED]:
        found["embeddings"] = names
    if version := fields.get("Version", ""):
        found["tool"] = "cinedraft" if version.startswith("cinedraft") else found["tool"]
        found["version"] = version
    return found | {"fields": fields}


def _fields(line: str) -> dict[str, str]:
    """``{name: value}`` of a ``Name: value, Name: "value, with commas"`` line."""
    fields, at = {}, 0
    while at < len(line):
        name = _FIELD_NAME.match(line, at)
        if name is None:  # not a field: on to the next comma
            comma = line.find(",", at)
            at = len(line) if comma < 0 else comma + 1
            continue
        at = name.end()
        quoted = _QUOTED.match(line, at)
        if quoted:
            value, at = quoted.group(0)[1:-1], quoted.end()
            comma = line.find(",", at)
        else:
            comma = line.find(",", at)
            value = line[at : len(line) if comma < 0 else comma]
        fields[name.group(1).strip()] = value.strip()
        at = len(line) if comma < 0 else comma + 1
    return fields


def _their_parameters(made: dict) -> str | None:
    """The parameters text of an image A1111 or Forge made (an import, or a copy of one),
    written again from what was read of it (:func:`read_parameters`), so a converted copy
    still tells those tools how it was made; None for anything else."""
    fields = made.get("fields")
    if made.get("tool") != "A1111" or not isinstance(fields, dict):
        return None
    values = (f'"{v}"' if any(c in str(v) for c in ',:"') else str(v) for v in fields.values())
    line = ", ".join(f"{k}: {v}" for k, v in zip(fields, values))
    prompt, negative = made.get("prompt", ""), made.get("negative_prompt", "")
    return f"{prompt}\nNegative prompt: {negative}\n{line}"


def checkpoint_name(model: str) -> str:
    """What A1111 calls the checkpoint: the file or folder name, a hub id's last part."""
    return Path(model.rstrip("/\\")).name.removesuffix(".safetensors") or model


def _xmp(record: dict) -> bytes:
    body = escape(json.dumps(record, sort_keys=True))
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:cinedraft="https://cinedraft.dev/ns/1.0/">'
        f"{_XMP_OPEN}{body}{_XMP_CLOSE}</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def encode_image(image: Image.Image, record: dict, fmt: str, quality: int = 100) -> bytes:
    """The bytes of ``image`` in ``fmt`` with ``record`` embedded."""
    buf = io.BytesIO()
    params = parameters_text(record)
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        if params is not None:
            info.add_text("parameters", params)
        info.add_itxt("cinedraft", json.dumps(record, sort_keys=True))
        workflow = comfy_workflow(record)
        if workflow is not None:  # ComfyUI loads a dropped PNG's graph from "prompt"
            info.add_text("prompt", json.dumps(workflow))
        image.save(buf, "PNG", pnginfo=info, compress_level=6)
    elif fmt in ("webp", "jpeg"):
        options = {"quality": quality, "xmp": _xmp(record)}
        if params is not None:
            exif = Image.Exif()
            comment = b"UNICODE\0" + params.encode("utf-16-be")
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = comment
            options["exif"] = exif.tobytes()
        image.convert("RGB").save(buf, fmt.upper(), **options)
    else:
        raise ValueError(f"unknown image format {fmt!r}; known: {', '.join(FORMATS)}")
    return buf.getvalue()


def embed_video_record(data: bytes, record: dict) -> bytes:
    """The MP4 ``data`` with ``record`` in its metadata; streams copied, not re-encoded."""
    import av

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        src.write_bytes(data)
        options = {"movflags": "faststart+use_metadata_tags"}
        with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=options) as out:
            out.metadata["comment"] = (
                parameters_text(record) if "steps" in record else record.get("prompt", "")
            )
            out.metadata["cinedraft"] = json.dumps(record, sort_keys=True)
            streams = {
                s.index: out.add_stream_from_template(s)
                for s in inp.streams
                if s.type in ("video", "audio")
            }
            for packet in inp.demux(*[s for s in inp.streams if s.index in streams]):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        return dst.read_bytes()


def _read_video_metadata(data: bytes) -> dict:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            tags = dict(container.metadata)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the video's metadata: {exc}") from None
    comment = tags.get("comment")
    return {"parameters": comment if isinstance(comment, str) else None, "comfy": None} | _parsed(
        tags.get("cinedraft")
    )


def _parsed(text: str | bytes | None) -> dict:
    """``{"record": dict | None, "record_error": str | None}`` from embedded JSON text: a file's
    metadata is untrusted, so anything but a JSON object is reported, never raised."""
    if text is None:
        return {"record": None, "record_error": None}
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        return {"record": None, "record_error": f"the embedded record is not JSON: {exc}"}
    if not isinstance(record, dict):
        return {
            "record": None,
            "record_error": f"the embedded record is a JSON {type(record).__name__}, not an object",
        }
    return {"record": record, "record_error": None}


def read_metadata(source: str | Path | BinaryIO) -> dict:
    """``{"parameters", "comfy", "record", "record_error"}`` from a file this module wrote, or
    any file (``comfy``: a ComfyUI image's graph text; a record that is not a JSON object is
    ``None`` with the reason in ``record_error``). :class:`InputError` when the file itself
    cannot be opened."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    if data[4:8] == b"ftyp" and data[8:12] not in AVIF_BRANDS:
        return _read_video_metadata(data)
    try:
        with Image.open(io.BytesIO(data)) as im:
            info = dict(im.info)
            exif = im.getexif().get_ifd(ExifTags.IFD.Exif)
    except DECODE_ERRORS as exc:
        raise InputError(f"cannot read the image's metadata: {exc}") from None
    params = info.get("parameters")
    comment = exif.get(ExifTags.Base.UserComment)
    if params is None and isinstance(comment, bytes) and comment.startswith(b"UNICODE\0"):
        params = comment[8:].decode("utf-16-be", errors="replace")
    text = info.get("cinedraft")
    xmp = info.get("xmp")
    if text is None and xmp:
        xmp = xmp.decode("utf-8", errors="replace") if isinstance(xmp, bytes) else str(xmp)
        if _XMP_OPEN in xmp:
            text = unescape(xmp.split(_XMP_OPEN, 1)[1].split(_XMP_CLOSE, 1)[0])
    comfy = info.get("prompt")  # ComfyUI's API graph
    return {
        "parameters": params if isinstance(params, str) else None,
        "comfy": comfy if isinstance(comfy, str) else None,
    } | _parsed(text)


def made_with(metadata: dict) -> dict | None:
    """What another tool's metadata (from :func:`read_metadata`) says made a file: A1111's
    (or Forge's) parameters text, else ComfyUI's graph; None when it says neither. Untrusted,
    like all of a file's metadata: what it claims, not what is known."""
    if metadata.get("parameters") and (found := read_parameters(metadata["parameters"])):
        return found
    if metadata.get("comfy"):
        return read_comfy_graph(metadata["comfy"])
    return None
