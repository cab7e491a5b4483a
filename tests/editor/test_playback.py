"""Edit outputs play in a real browser: Debian's Chromium driven by Playwright."""

import http.server
import threading
from functools import partial

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
