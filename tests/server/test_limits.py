"""What one request may cost: bodies capped before they are read, CPU work off the event
loop, bad uploads answered 4xx with a reason (never 5xx)."""

import io
import socket
import threading
import time
import zlib

import httpx
import pytest
from PIL import Image, PngImagePlugin


from .conftest import free_port, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    proc = start_server(tmp_path_factory.mktemp("limits"), port)
    yield f"http://127.0.0.1:{port}"
    proc.kill()
    proc.wait()


def _huge_png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (6000, 6000)).save(buf, "PNG")  # 36 Mpx in a few KB
    return buf.getvalue()


def test_health_answers_while_a_huge_image_is_imported(server):
    done = {}

    def upload():
        done["response"] = httpx.post(
            f"{server}/api/uploads",
            timeout=300,
            files={"file": ("big.png", _huge_png(), "image/png")},
        )

    thread = threading.Thread(target=upload)
    started = time.perf_counter()
    thread.start()
    time.sleep(0.3)  # the upload is in the server now
    waits = []
    while thread.is_alive() and len(waits) < 20:
        start = time.perf_counter()
        assert httpx.get(f"{server}/api/health", timeout=30).status_code == 200
        waits.append(time.perf_counter() - start)
        time.sleep(0.05)
    measured_during = thread.is_alive()
    thread.join()
    took = time.perf_counter() - started
    # Before the fix, health waited for the whole decode (71 s): its first answer came when
    # the import ended. Now each answer is a small part of the import, and most are quick;
    # on a busy two-core machine one answer took 1.8 s of an import of several seconds.
    assert max(waits) < max(1.0, took / 2), (waits, took)
    assert sorted(waits)[len(waits) // 2] < 0.5, waits
    assert measured_during and len(waits) >= 3, "the import ended before health was measured"
    assert done["response"].status_code == 201, done["response"].text


def _raw(port: int, head: bytes, body: bytes = b"", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        return s.recv(4096)


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(server):
    port = int(server.rsplit(":", 1)[1])
    head = (
        b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 10737418240\r\n\r\n"
    )
    start = time.perf_counter()
    answer = _raw(port, head, b"\0" * (1 << 20))
    assert answer.startswith(b"HTTP/1.1 413") and time.perf_counter() - start < 5


def test_json_bodies_are_capped_to_what_a_route_needs(server):
    big = {"add": ["x" * 60] * 500_000}  # ~30 MiB
    response = httpx.post(f"{server}/api/assets/0123456789ab/tags", json=big, timeout=60)
    assert response.status_code == 413


def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(server):
    def chunks():
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(80):  # 80 MiB, over the 64 MiB upload cap
            yield b"\0" * (1 << 20)

    response = httpx.post(
        f"{server}/api/uploads",
        content=chunks(),
        timeout=120,
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413


def _png(**chunks) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, (value, compressed) in chunks.items():
        info.add_text(key, value, zip=compressed)
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "navy").save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _with_ztxt(size: int) -> bytes:
    """A PNG whose zTXt chunk inflates to ``size`` bytes (Pillow refuses over 1 MiB)."""
    base = _png()
    payload = b"cinedraft\0\0" + zlib.compress(b"a" * size)
    chunk = len(payload).to_bytes(4, "big") + b"zTXt" + payload
    chunk += zlib.crc32(b"zTXt" + payload).to_bytes(4, "big")
    return base[:33] + chunk + base[33:]


def _flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


BAD_UPLOADS = [
    ("list-record.png", _png(cinedraft=('["a", "list"]', False))),
    ("number-record.png", _png(cinedraft=("42", False))),
    ("not-json.png", _png(cinedraft=("{oops", False))),
    ("ztxt-bomb.png", _with_ztxt(2 << 20)),
    ("flipped-ihdr.png", _flipped(_png(), 20)),
    ("flipped-text.png", _flipped(_png(parameters=("é" * 40, False)), 60)),
    ("truncated.png", _png()[:60]),
    ("webp-header-only.webp", b"RIFF\x10\0\0\0WEBPVP8 "),
]


@pytest.mark.parametrize("name,data", BAD_UPLOADS, ids=[name for name, _ in BAD_UPLOADS])
def test_every_bad_upload_is_a_4xx_with_a_reason(quiet, name, data):
    response = quiet.post("/api/uploads", files={"file": (name, data, "application/octet-stream")})
    assert 400 <= response.status_code < 500 or response.status_code == 201, response.text
    assert response.status_code != 201 or response.json()["kind"] == "import"
    if response.status_code >= 400:
        assert response.json()["detail"]
    assert quiet.get("/api/health").status_code == 200
