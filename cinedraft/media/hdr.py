"""HDR video frames (HLG, PQ) as the SDR pixels everything here works on.

Phones film HDR by default (an iPhone: HLG, BT.2020 primaries, 10-bit). Converting such a
frame by its YUV matrix alone reads the HLG or PQ signal as if it were SDR in BT.709: an
HDR clip of (200, 30, 30) red and (235, 235, 235) white read as (157, 62, 40) and
(185, 184, 184), and every edit of it came out washed out and dull.

The conversion follows ITU-R BT.2408's HDR-to-SDR mapping: the signal to display light by
BT.2100's EOTF (HLG on its nominal 1000 cd/m² display, PQ as absolute cd/m²); the HDR
reference white, 203 cd/m², to SDR white; BT.2020 primaries to BT.709's (colours outside
BT.709 clipped); light above ``KNEE`` of SDR white rolled off toward white, each pixel's
channels scaled together so its hue is kept; sRGB's encoding. The transfer functions (as
tables) and the primaries matrix are colour-science's, imported on the first HDR frame; the
HLG OOTF is written out (below).
"""

from __future__ import annotations

from functools import cache

import av
import numpy as np

PQ, HLG = 16, 18  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
REFERENCE_WHITE = 203.0  # cd/m²: BT.2408's HDR reference white, shown as SDR white
KNEE = 0.8  # of SDR white: brighter light is rolled off, not clipped
CODES = 1 << 16  # rgb48 code values
ENCODE_STEPS = 1 << 16  # linear-light steps of the sRGB encoding table


def is_hdr(frame: av.VideoFrame) -> bool:
    return frame.color_trc in (PQ, HLG)


def sdr_rgb(frame: av.VideoFrame, interpolation, **size) -> np.ndarray:
    """An HLG or PQ frame as (H, W, 3) uint8 sRGB (its YUV matrix the frame's own; ``size``:
    the ``width`` and ``height`` to resample it to)."""
    code = frame.to_ndarray(format="rgb48le", interpolation=interpolation, **size)
    linear = _signal_to_linear(frame.color_trc)[code]  # per channel, BT.2020
    if frame.color_trc == HLG:  # the OOTF mixes the channels: scene light to display light
        linear = _hlg_display(linear)
    linear = np.maximum(linear @ _bt2020_to_bt709().T, 0.0)  # outside BT.709: clipped
    return _encode(_roll_off(linear))


@cache
def _signal_to_linear(trc: int) -> np.ndarray:
    """Code value -> PQ's display light relative to reference white, or HLG's scene light
    (0..1), float32."""
    import colour

    signal = np.arange(CODES, dtype=np.float64) / (CODES - 1)
    if trc == PQ:
        return (colour.models.eotf_ST2084(signal) / REFERENCE_WHITE).astype(np.float32)
    return colour.models.oetf_inverse_BT2100_HLG(signal).astype(np.float32)


# BT.2100's HLG OOTF on a display of nominal peak 1000 cd/m² and black 0: display light =
# 1000 * Ys ** (gamma - 1) * scene light, Ys the scene's BT.2020 luminance, gamma 1.2.
# Written out rather than colour-science's ``ootf_BT2100_HLG`` (the test holds them equal),
# which works in float64 and took half of a 1080x1920 frame's time.
HLG_PEAK = 1000.0
HLG_GAMMA = 1.2
BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], np.float32)


def _hlg_display(scene: np.ndarray) -> np.ndarray:
    """HLG scene light -> display light relative to reference white."""
    luminance = scene @ BT2020_LUMA
    gain = (HLG_PEAK / REFERENCE_WHITE) * np.power(luminance, HLG_GAMMA - 1.0)
    return scene * gain[..., None]


@cache
def _bt2020_to_bt709() -> np.ndarray:
    import colour

    spaces = colour.RGB_COLOURSPACES
    matrix = colour.matrix_RGB_to_RGB(spaces["ITU-R BT.2020"], spaces["ITU-R BT.709"])
    return matrix.astype(np.float32)


def _roll_off(linear: np.ndarray) -> np.ndarray:
    """Light above ``KNEE`` brought under 1 (a Reinhard shoulder on each pixel's brightest
    channel, all three channels scaled by the same factor; 1 at and below the knee)."""
    peak = linear.max(axis=-1)
    over = np.maximum(peak - KNEE, 0.0) / (1.0 - KNEE)
    rolled = KNEE + (1.0 - KNEE) * over / (1.0 + over)
    linear *= (rolled / np.maximum(peak, KNEE))[..., None]
    return np.minimum(linear, 1.0, out=linear)


@cache
def _srgb_table() -> np.ndarray:
    import colour

    steps = np.arange(ENCODE_STEPS, dtype=np.float64) / (ENCODE_STEPS - 1)
    return np.round(colour.models.eotf_inverse_sRGB(steps) * 255).astype(np.uint8)


def _encode(linear: np.ndarray) -> np.ndarray:
    index = np.rint(linear * (ENCODE_STEPS - 1)).astype(np.int32)
    return _srgb_table()[index]
