"""The vertical ad: its length, size, rate and codec, captions inside the safe zone, music
that fades out."""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cinedraft.catalogue import BrandKit, Catalogue, read_sheet
from cinedraft.catalogue.ad import FPS, SIZE, Ad, caption_overlay, safe_zone, shot_frames
from cinedraft.editor import Editor
from cinedraft.errors import InputError
from cinedraft.media.codec import decode_audio


def test_captions_stay_inside_the_safe_zone():
    x0, y0, x1, y1 = safe_zone(*SIZE)
    assert (x0, y0, x1, y1) == (65, 269, 950, 1248)
    long = "a caption line far too long to fit the zone at its first size, so it shrinks"
    overlay = caption_overlay(
        SIZE, "Acme Glass Bottle", ["Fresh from the garden", long], BrandKit()
    )
    alpha = np.asarray(overlay)[..., 3]
    ys, xs = np.nonzero(alpha)
    assert len(ys) > 1000  # there is text
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
    with pytest.raises(InputError, match="at most 2 caption lines"):
        caption_overlay(SIZE, "x", ["a", "b", "c"], BrandKit())


def test_shot_lengths_add_up_to_the_frame():
    assert shot_frames(15) == [150, 150, 150]
    assert sum(shot_frames(15.2)) == 456 and sum(shot_frames(4)) == 120


def test_an_ad_is_vertical_h264_of_the_asked_length(engine, products, tmp_path):
    sheet = read_sheet(products / "products.csv")
    sheet.products[:] = [p for p in sheet.products if p.sku == "J-2"]
    out = tmp_path / "out"
    Catalogue(engine.library, lambda: engine, out).run(sheet)
    music = tmp_path / "music.m4a"
    _tone(music, seconds=8)
    editor = Editor(engine.library)
    result = Ad(engine.library, lambda: engine, lambda: editor).make(
        "J-2", seconds=4.0, out=out, music=music, captions=["Now in blue"]
    )
    assert result.path == out / "J-2" / "ad.mp4" and result.path.is_file()
    with av.open(str(result.path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.width, v.height) == ("h264", *SIZE)
        assert v.average_rate == FPS
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert abs(len(frames) / FPS - 4.0) <= 0.05 and abs(result.seconds - 4.0) <= 0.05
    # the captions: white text with a dark rim inside the zone, nothing drawn outside it
    x0, y0, x1, y1 = safe_zone(*SIZE)
    plain = engine.library.get(engine.library.get(result.asset_id).parents[0]["id"])
    plain = engine.library.get(plain.parents[0]["id"])  # before the music, before the text
    with av.open(plain.path) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    changed = np.abs(frames[0].astype(int) - first).max(axis=2) > 40
    ys, xs = np.nonzero(changed)
    assert len(ys) > 500
    assert xs.min() >= x0 - 2 and xs.max() < x1 + 2 and ys.min() >= y0 - 2 and ys.max() < y1 + 2
    # the music fades to silence at the end
    audio = decode_audio(result.path)
    assert audio is not None
    rate = 48000
    loud = np.sqrt((audio[:, rate : 2 * rate] ** 2).mean())
    tail = np.sqrt((audio[:, -rate // 10 :] ** 2).mean())
    assert loud > 0.05 and tail < 0.1 * loud
    assert len(result.shots) == 3 and result.images and result.motion == "camera"
    # camera moves over the approved still: each shot is the still's pixels, moved
    moves = [engine.library.get(s).record["parameters"]["move"] for s in result.shots]
    assert moves == ["zoom-in", "pan-right", "pull-back"]
    mid = frames[60]  # the second shot's middle, before the captions' rows
    assert np.abs(mid[1400:].astype(int) - frames[61][1400:]).mean() < 8  # a smooth move
    with Image.open(engine.library.get(result.images[0]).path) as still:
        w = round(still.height * 9 / 16)  # the still fills the frame: its centre, at 9:16
        box = ((still.width - w) // 2, 0, (still.width - w) // 2 + w, still.height)
        want = np.asarray(still.convert("RGB").crop(box).resize((64, 114))).astype(int)
    seen = np.asarray(Image.fromarray(frames[0]).resize((64, 114))).astype(int)
    assert np.abs(seen[60:] - want[60:]).mean() < 12  # the first frame shows the still


def test_a_model_motion_ad_uses_image_to_video(engine, products, tmp_path):
    sheet = read_sheet(products / "products.csv")
    sheet.products[:] = [p for p in sheet.products if p.sku == "C-3"]
    Catalogue(engine.library, lambda: engine, tmp_path).run(sheet)
    editor = Editor(engine.library)
    seen = []
    result = Ad(
        engine.library, lambda: engine, lambda: editor, on_progress=lambda *e: seen.append(e)
    ).make("C-3", seconds=3.0, out=tmp_path, motion="model", steps=4)
    assert abs(result.seconds - 3.0) <= 0.05 and (result.width, result.height) == SIZE
    kinds = [engine.library.get(s).record["kind"] for s in result.shots]
    assert kinds == ["video"] * 3  # generated clips, not camera moves
    first = engine.library.get(result.shots[0]).record
    assert "camera slowly zooms in" in first["prompt"] and first["steps"] == 4
    # each shot's sampling steps show while it renders, between the ad's own stages
    ads = [i for i, (stage, *_) in enumerate(seen) if stage == "ad"]
    assert seen[ads[0]] == ("ad", 0, 6) and seen[-1] == ("ad", 6, 6)
    first_shot = seen[ads[0] + 1 : ads[1]]
    assert ("chunk 1/2", 4, 4) in first_shot and first_shot[-1] == ("save", 1, 1), first_shot
    with pytest.raises(InputError, match="motion must be one of"):
        Ad(engine.library, lambda: engine, lambda: editor).make("C-3", motion="drone")


def _tone(path, seconds: float, rate: int = 48000) -> None:
    from fractions import Fraction

    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with av.open(str(path), "w") as c:
        stream = c.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in stream.encode(frame):
            c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)


def test_the_brand_logo_and_font_are_drawn_inside_the_zone(tmp_path):
    import shutil

    import matplotlib

    from cinedraft.catalogue import read_brand

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    shutil.copy(font, tmp_path / "brand-font.ttf")
    Image.new("RGBA", (400, 100), (200, 30, 30, 255)).save(tmp_path / "logo.png")
    (tmp_path / "brand.toml").write_text('logo = "logo.png"\ncaption_font = "brand-font.ttf"\n')
    kit = read_brand(tmp_path / "brand.toml")
    assert kit.to_record()["caption_font"]["name"] == "brand-font.ttf"
    overlay = np.asarray(caption_overlay(SIZE, "Acme", ["a line"], kit))
    x0, y0, x1, y1 = safe_zone(*SIZE)
    red = (overlay[..., 0] == 200) & (overlay[..., 1] == 30) & (overlay[..., 3] == 255)
    ys, xs = np.nonzero(red)
    assert len(ys) > 5000  # the logo, scaled into the top of the zone
    assert ys.min() == y0 and xs.min() >= x0 and xs.max() < x1
    plain = np.asarray(caption_overlay(SIZE, "Acme", ["a line"], BrandKit()))
    assert not np.array_equal(overlay[y0 + 200 :], plain[y0 + 200 :])  # another typeface
    (tmp_path / "brand.toml").write_text('caption_font = "logo.png"\n')
    with pytest.raises(InputError, match="not a font"):
        read_brand(tmp_path / "brand.toml")
