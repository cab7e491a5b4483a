"""A phone's HDR clip (HLG or PQ, BT.2020, 10-bit HEVC) is read as it looks on an SDR screen:
converted by its YUV matrix alone, its (200, 30, 30) red read as (157, 62, 40) and its white
as 185, and every edit of it came out washed out."""

import av
import colour
import numpy as np
import pytest
from av.video.reformatter import ColorRange, Colorspace

from cinedraft.editor import ops
from cinedraft.media import hdr
from cinedraft.media.codec import read_frames
from cinedraft.media.probe import Prober

CHART = [
    (200, 30, 30),
    (30, 160, 60),
    (240, 200, 40),
    (40, 80, 200),
    (118, 118, 118),
    (235, 235, 235),
]
WIDTH, HEIGHT = 384, 96  # x265 needs frames 72 px wide or more
TRC = {"hlg": hdr.HLG, "pq": hdr.PQ}


def _signal(srgb, trc):
    """The HDR signal of SDR colours, by BT.2408's mapping: SDR white at 203 cd/m², BT.709
    primaries inside BT.2020's, then BT.2100's inverse EOTF (HLG on its 1000 cd/m² display)."""
    spaces = colour.RGB_COLOURSPACES
    linear = colour.RGB_to_RGB(
        colour.models.eotf_sRGB(np.array(srgb) / 255),
        spaces["ITU-R BT.709"],
        spaces["ITU-R BT.2020"],
    )
    light = linear * hdr.REFERENCE_WHITE
    with np.errstate(invalid="ignore"):  # colour-science's np.where takes both branches' logs
        if trc == "hlg":
            return colour.models.eotf_inverse_BT2100_HLG(light)
        return colour.models.eotf_inverse_ST2084(light)


def hdr_clip(path, trc, signals, frames=6, gop=None):
    """A 10-bit HEVC clip of colour bands with these signals, tagged as a phone tags one."""
    bands = np.zeros((HEIGHT, WIDTH, 3), np.uint16)
    for i, signal in enumerate(signals):
        bands[:, i * WIDTH // len(signals) : (i + 1) * WIDTH // len(signals)] = np.round(
            np.asarray(signal) * 65535
        )
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx265", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p10le"
        stream.options = {"x265-params": "log-level=error"}
        context = stream.codec_context
        context.color_trc, context.color_primaries = TRC[trc], 9  # BT.2020 primaries
        context.colorspace, context.color_range = 9, 1  # BT.2020 non-constant, limited
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(bands, format="rgb48le").reformat(
                format="yuv420p10le",
                dst_colorspace=Colorspace.BT2020,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _bands(frame, count):
    return np.array(
        [frame[HEIGHT // 2, i * WIDTH // count + WIDTH // (2 * count)] for i in range(count)], int
    )


@pytest.mark.parametrize("trc", ["hlg", "pq"])
def test_an_hdr_clip_reads_as_its_sdr_colours(tmp_path, trc):
    clip = hdr_clip(tmp_path / f"{trc}.mp4", trc, _signal(CHART, trc))
    read = _bands(read_frames(clip)[0][0], len(CHART))
    assert np.abs(read - np.array(CHART)).max() <= 5, read.tolist()


def test_hdr_highlights_roll_off_to_white_keeping_their_hue(tmp_path):
    """Light above SDR white (an HLG clip's sky, a lamp) is brought under white, not clipped
    channel by channel (which turns a bright orange yellow)."""
    signals = [(1.0, 1.0, 1.0), (1.0, 0.85, 0.6), (0.9, 0.9, 0.9), (0.75, 0.75, 0.75)]
    read = _bands(read_frames(hdr_clip(tmp_path / "hi.mp4", "hlg", signals))[0][0], 4)
    assert read[0].min() >= 250  # the peak: white
    assert read[1][0] > read[1][1] > read[1][2] + 20  # the bright orange stays orange
    assert read[3].min() < read[2].min() < read[0].min()  # brighter light stays brighter


def test_the_hlg_display_light_is_bt2100s():
    scene = np.random.default_rng(0).random((64, 3), dtype=np.float32)
    ours = hdr._hlg_display(scene) * hdr.REFERENCE_WHITE
    assert np.allclose(ours, colour.models.ootf_BT2100_HLG(scene), rtol=1e-4, atol=1e-3)


def test_an_edit_of_an_hdr_clip_is_an_sdr_clip_in_its_colours(tmp_path):
    clip = hdr_clip(tmp_path / "phone.mp4", "hlg", _signal(CHART, "hlg"), frames=24)
    prober = Prober()
    try:
        info = prober.probe(clip)
        ops.speed(info, 2.0, tmp_path / "fast.mp4")
        out = prober.probe(tmp_path / "fast.mp4")
    finally:
        prober.close()
    assert out.video.colours[:3] == (6, 1, 1) and out.video.pix_fmt == "yuv420p"
    read = _bands(read_frames(tmp_path / "fast.mp4")[0][0], len(CHART))
    assert np.abs(read - np.array(CHART)).max() <= 6, read.tolist()
