"""Edit outputs play in a real browser: Debian's Chromium driven by Playwright."""

import http.server
import threading
from functools import partial

import numpy as np
import pytest

from .conftest import make_clip

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


PLAY = """async (selector) => {
  const v = document.querySelector(selector);
  await new Promise((ok, fail) => {
    if (v.readyState >= 3) return ok();
    v.oncanplay = ok; v.onerror = () => fail(new Error('error ' + (v.error && v.error.code)));
    setTimeout(() => fail(new Error('timeout')), 15000);
  });
  await v.play();
  const start = v.currentTime;
  await new Promise(ok => {
    const t = () => v.currentTime > start + 0.3 ? ok() : setTimeout(t, 50); t();
  });
  return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, error: v.error,
          src: v.getAttribute('src')};
}"""


def test_cut_merge_and_reframe_outputs_play_in_chromium(editor, browser, served, tmp_path):
    folder, url = served
    a = make_clip(tmp_path / "a.mp4", frames=72, audio=True)
    b = make_clip(tmp_path / "b.mp4", frames=48, shift=20)
    outputs = {
        "cut.mp4": editor.cut(a, 0.6, 2.4),  # smart render
        "merge.mp4": editor.merge([a, b], "crossfade:0.5"),  # re-encode + audio
        "copy.mp4": editor.merge([b, b]),  # stream copy
        "vertical.mp4": editor.reframe(a, "9:16"),
    }
    page = browser.new_page()
    for name, asset in outputs.items():
        data = open(asset.path, "rb").read()
        assert data.find(b"moov") < data.find(b"mdat"), name  # faststart
        info = editor.prober.probe(asset.path)
        assert (info.video.codec, info.video.pix_fmt) == ("h264", "yuv420p"), name
        (folder / name).write_bytes(data)
        (folder / f"{name}.html").write_text(f'<video src="{name}" muted playsinline></video>')
        page.goto(f"{url}/{name}.html")
        state = page.evaluate(PLAY, "video")
        assert state["error"] is None and state["width"] == info.video.width, name
        assert state["duration"] == pytest.approx(info.duration, abs=0.1), name
    page.close()


PIXELS = """async ([name, points]) => {
  const v = document.createElement('video');
  v.src = name; v.muted = true; document.body.appendChild(v);
  await new Promise((ok, fail) => {
    v.oncanplay = ok; v.onerror = () => fail(new Error('error'));
  });
  v.currentTime = 0.25; await new Promise(ok => { v.onseeked = ok; });
  const canvas = document.createElement('canvas');
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  const g = canvas.getContext('2d'); g.drawImage(v, 0, 0);
  return points.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));
}"""


def test_clips_play_in_chromium_in_the_colours_written(browser, served):
    """Untagged, a clip 720 px tall or more (a 1080x1920 ad) played with BT.709's matrix
    although its frames were converted with BT.601's: (200, 30, 30) showed as (215, 46, 30).
    Written clips now say their matrix; an untagged one cinedraft reads as Chromium plays it."""
    from cinedraft.media.codec import Writer, read_frames

    from ..media.test_codec import PATCHES, patches, untagged_clip

    folder, url = served
    (folder / "index.html").write_text("<body></body>")
    page = browser.new_page()
    page.goto(f"{url}/index.html")
    for width, height in [(640, 360), (1280, 720), (1080, 1920)]:
        frame, points = patches(width, height)
        name = f"{width}x{height}.mp4"
        with Writer(folder / name, width, height, 24) as writer:
            for _ in range(12):
                writer.add_frame(frame)
        shown = np.array(page.evaluate(PIXELS, [name, points]))
        assert np.abs(shown - np.array(PATCHES)).max() <= 3, (name, shown.tolist())
    untagged = untagged_clip(folder / "untagged.mp4", 1280, 720)
    _, points = patches(1280, 720)
    shown = np.array(page.evaluate(PIXELS, ["untagged.mp4", points]))
    ours = read_frames(untagged)[0][0]
    read = np.array([ours[y, x] for x, y in points], int)
    # Red and green as Chromium shows them. Its software path decodes BT.709's blue with a
    # gain of about 1.76 (measured) where the standard has 1.856: up to 8 levels apart.
    assert np.abs(shown - read)[:, :2].max() <= 3, (shown.tolist(), read.tolist())
    assert np.abs(shown - read)[:, 2].max() <= 10, (shown.tolist(), read.tolist())
    assert np.abs(shown - np.array(PATCHES)).max() > 10  # the browser's shift, read alike
