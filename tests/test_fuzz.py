"""Fuzz: mutated media files through every door an outside file comes in by.

Seeds are files cinedraft itself writes (signed PNG, WebP, JPEG and MP4, with embedded
records and C2PA manifests) plus MOV and MKV clips. Each case mutates one seed (truncation,
bit flips, swapped blocks or PNG chunks, a forged record chunk, a flipped byte in the
manifest) and sends it through ``library import``, ``verify``, ``analyze``, ``edit cut`` and
``POST /api/uploads``. Nothing may answer with a traceback or a 5xx; afterwards the library
opens, ``library check`` is clean and the server still answers.

``CINEDRAFT_FUZZ_CASES`` sets the number of cases (default: about a minute on two cores).
"""

import json
import os
import random
import struct
import traceback
import zlib

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cinedraft.cli.main import app as cli
from cinedraft.library import Library
from cinedraft.media.metadata import embed_video_record
from cinedraft.server import create_app

from .editor.conftest import make_clip
from .library.conftest import make_record, noise_image
from .server.conftest import HOST, settings

CASES = int(os.environ.get("CINEDRAFT_FUZZ_CASES", "40"))
runner = CliRunner()

# Records an attacker might embed: wrong types, paths as ids, huge numbers, deep nesting.
FORGED_RECORDS = [
    {"asset_id": "aaaaaaaaaaa1", "prompt": ["x"]},
    {"asset_id": "../../etc/x", "kind": "image"},
    {"asset_id": 12345, "seed": "seven"},
    {
        "asset_id": "bbbbbbbbbbb2",
        "job_id": "0123456789abcdef",
        "tier": "production",
        "created": "2099-01-01T00:00:00Z",
    },
    {"width": -1, "height": 10**30, "parents": [{"id": "../x", "role": {}}]},
    {"prompt": "x" * 200_000},
    '{"a": ' + "[" * 5000 + "]" * 5000 + "}",  # nesting deeper than a parser recurses
    ["not", "an", "object"],
    None,
]


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, at = [], 8
    while at + 8 <= len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        chunks.append(data[at : at + 12 + length])
        at += 12 + length
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _forged(seed: bytes, ext: str, record, rng: random.Random) -> bytes:
    text = record if isinstance(record, str) else json.dumps(record)
    if ext == ".png":
        chunks = _png_chunks(seed)
        if rng.random() < 0.5:  # iTXt: keyword, flag, method, language, translated keyword, text
            chunk = _png_chunk(b"iTXt", b"cinedraft\0\0\0\0\0" + text.encode())
        else:  # zTXt: keyword, method, deflated text
            chunk = _png_chunk(b"zTXt", b"cinedraft\0\0" + zlib.compress(text.encode()))
        return seed[:8] + chunks[0] + chunk + b"".join(chunks[1:])
    if ext == ".mp4" and isinstance(record, dict):
        try:
            return embed_video_record(seed, record)
        except Exception:  # noqa: BLE001 - a record PyAV will not write is no case
            return seed
    # WebP / JPEG / MOV / MKV: an XMP-looking record packet spliced into the middle
    packet = f"<cinedraft:record>{text}</cinedraft:record>".encode()
    at = rng.randrange(len(seed))
    return seed[:at] + packet + seed[at:]


def _mutant(seed: bytes, ext: str, rng: random.Random) -> tuple[str, bytes]:
    how = rng.choice(["truncate", "flip", "swap", "forge", "manifest"])
    if how == "truncate":
        return how, seed[: rng.randrange(len(seed))]
    if how == "flip":
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return how, bytes(data)
    if how == "swap":
        if ext == ".png":
            chunks = _png_chunks(seed)
            i, j = rng.sample(range(len(chunks)), 2)
            chunks[i], chunks[j] = chunks[j], chunks[i]
            return how, seed[:8] + b"".join(chunks)
        size = rng.randint(4, 256)
        i, j = sorted(rng.sample(range(len(seed) - size), 2))
        if j < i + size:
            return how, seed
        return how, seed[:i] + seed[j : j + size] + seed[i + size : j] + seed[i : i + size] + seed[
            j + size :
        ]
    if how == "forge":
        return how, _forged(seed, ext, rng.choice(FORGED_RECORDS), rng)
    start = seed.find(b"jumb")  # the C2PA manifest store
    if start < 0:
        return "flip", _mutant(seed, ext, rng)[1]
    data = bytearray(seed)
    data[rng.randrange(start, min(len(data), start + 4000))] ^= 0xFF
    return how, bytes(data)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-seeds")
    library = Library(root / "library")
    out = {}
    for fmt, ext in (("png", ".png"), ("webp", ".webp"), ("jpeg", ".jpg")):
        asset = library.add_image(
            noise_image(256, 3), make_record(library, "a seed", size=256), fmt, 85
        )
        out[ext] = open(asset.path, "rb").read()
    clip = root / "clip.mp4"
    make_clip(clip, frames=24, size=(64, 48))
    video = library.add_video(clip.read_bytes(), make_record(library, "a seed clip", kind="video"))
    out[".mp4"] = open(video.path, "rb").read()
    for ext, fmt in ((".mov", "mov"), (".mkv", "matroska")):
        path = root / f"clip{ext}"
        make_clip(path, frames=12, size=(64, 48))  # written as MP4, then remuxed below
        import av

        remuxed = root / f"remux{ext}"
        with av.open(str(path)) as src, av.open(str(remuxed), "w", format=fmt) as dst:
            stream = dst.add_stream_from_template(src.streams.video[0])
            for packet in src.demux(src.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    dst.mux(packet)
        out[ext] = remuxed.read_bytes()
    library.close()
    return out


def _no_traceback(result, args):
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"{args}: {trace[-3000:]}")
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-500:])


def test_mutated_files_never_break_the_library_or_the_server(seeds, tmp_path):
    home = tmp_path / "home"
    rng = random.Random(int(os.environ.get("CINEDRAFT_FUZZ_SEED", "31")))
    app = create_app(settings(home), hosts={HOST}, workers=False)
    kinds = {}
    with TestClient(app) as client:
        for case in range(CASES):
            ext = rng.choice(sorted(seeds))
            how, data = _mutant(seeds[ext], ext, rng)
            kinds[how] = kinds.get(how, 0) + 1
            path = tmp_path / f"case{case}{ext}"
            path.write_bytes(data)
            base = ["--home", str(home), "--offline"]
            commands = [
                ["library", "import", str(path)],
                ["verify", str(path)],
                ["analyze", str(path)],
            ]
            if ext in (".mp4", ".mov", ".mkv"):
                commands.append(["edit", "cut", str(path), "--to", "0.3"])
            for args in commands:
                _no_traceback(runner.invoke(cli, base + args), (case, how, *args))
            response = client.post(
                "/api/uploads", files={"file": (path.name, data, "application/octet-stream")}
            )
            assert response.status_code < 500, (case, how, ext, response.text[:300])
            assert client.get("/api/health").status_code == 200
        library = Library(home / "library")
        report = library.check()
        assert report["ok"], report
        assert report["quarantined"] == []
        library.close()
    assert len(kinds) >= 4, kinds  # the cases did cover the kinds of damage
