"""The CLI's argument space: every invalid value ends in one ``error:`` line and exit 2.

Hypothesis draws invalid values for each option (derandomized, so CI sees the same ones);
no command may answer with a traceback, a Rich panel, or work done before refusing.
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from cinedraft.cli.main import app
from cinedraft.library import Library

from ..editor.conftest import make_clip
from ..library.conftest import make_record, noise_image

runner = CliRunner()
EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-errors")
    library = Library(root / "library")
    image = library.add_image(noise_image(64), make_record(library, "a jar"), "png", 90)
    clip = root / "clip.mp4"
    make_clip(clip, frames=24)
    video = library.import_file(clip)
    library.close()
    return root, image.id, video.id


def _fails_with_one_line(home_dir, args, env=None):
    result = runner.invoke(app, ["--home", str(home_dir), "--offline", *args], env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def _not(predicate):
    return lambda value: not predicate(value)


def _float_text(x: float) -> str:
    return repr(x) if math.isfinite(x) else str(x)


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_iso(text: str) -> bool:
    import datetime as dt

    try:
        dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


bad_seconds = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "1e400"]),
    st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False).map(_float_text),
    st.floats(min_value=86_400.5, allow_nan=False, allow_infinity=False).map(_float_text),
    st.text(min_size=1, max_size=12).filter(_not(_parses_as_float)),
)
words = st.text(min_size=0, max_size=16)


@EXAMPLES
@given(value=words.filter(lambda v: v not in ("auto", "cpu", "cuda", "mps")))
def test_bad_device(home, value):
    _fails_with_one_line(home[0], ["--device", value, "library", "list"])


@EXAMPLES
@given(value=words.filter(_not(_is_iso)))
def test_bad_since(home, value):
    _fails_with_one_line(home[0], ["library", "list", "--since", value])


@EXAMPLES
@given(value=bad_seconds, which=st.sampled_from(["--from", "--to"]))
def test_bad_cut_times(home, value, which):
    _fails_with_one_line(home[0], ["edit", "cut", home[2], which, value])


@EXAMPLES
@given(value=st.one_of(st.integers(max_value=15), st.integers(min_value=4321)).map(str))
def test_bad_reframe_height(home, value):
    _fails_with_one_line(home[0], ["edit", "reframe", home[2], "--height", value])


@EXAMPLES
@given(
    value=st.one_of(
        st.floats(max_value=0.2499, allow_nan=False, allow_infinity=False),
        st.floats(min_value=4.0001),
        st.just(math.nan),
    ).map(_float_text)
)
def test_bad_speed(home, value):
    _fails_with_one_line(home[0], ["edit", "speed", home[2], value])


@EXAMPLES
@given(value=words.filter(lambda v: v not in ("png", "webp", "jpeg")))
def test_bad_export_format(home, value, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    _fails_with_one_line(
        home[0], ["library", "export", home[1], "--to", str(out), "--format", value]
    )


@EXAMPLES
@given(value=st.one_of(st.integers(max_value=-1), st.integers(min_value=6)).map(str))
def test_bad_rating(home, value):
    _fails_with_one_line(home[0], ["library", "rate", home[1], value])


@EXAMPLES
@given(value=st.one_of(words, st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)))
def test_unknown_asset_ids(home, value):
    if value in (home[1], home[2]):
        return
    _fails_with_one_line(home[0], ["library", "show", value])


@EXAMPLES
@given(steps=st.one_of(st.integers(max_value=0), st.integers(min_value=501)).map(str))
def test_bad_steps(home, steps):
    _fails_with_one_line(home[0], ["generate", "a red jar", "--steps", steps])


@EXAMPLES
@given(value=words.filter(lambda v: v not in ("h264", "h265", "av1")))
def test_bad_codec_is_refused_before_any_work(home, value):
    _fails_with_one_line(home[0], ["video", "a red ball", "--codec", value])


@EXAMPLES
@given(
    name=st.sampled_from(["CINEDRAFT_CACHE_SIZE", "CINEDRAFT_PROVENANCE", "CINEDRAFT_DEVICE"]),
    value=st.sampled_from(["0", "-3", "maybe", "tpu", "", "1e9x"]),
)
def test_bad_environment(home, name, value):
    valid = {
        "CINEDRAFT_CACHE_SIZE": lambda v: v.isdigit() and int(v) >= 1,
        "CINEDRAFT_PROVENANCE": lambda v: (
            v.lower() in ("0", "1", "true", "false", "yes", "no", "on", "off")
        ),
        "CINEDRAFT_DEVICE": lambda v: v in ("auto", "cpu", "cuda", "mps"),
    }[name]
    if valid(value):
        return
    _fails_with_one_line(home[0], ["library", "list"], env={name: value})


@pytest.mark.parametrize(
    "args",
    [
        ["edit", "cut", "{video}", "--out", "/proc/x.mp4"],
        ["edit", "timeline", "export", "{video}", "--otio", "/proc/x.otio"],
        # a clip is an MP4 and a timeline OTIO: other names are refused, not misnamed bytes
        ["edit", "cut", "{video}", "--to", "0.5", "--out", "{tmp}/x.gif"],
        ["video", "a red ball", "--out", "{tmp}/x.webm"],
        ["edit", "timeline", "export", "{video}", "--otio", "{tmp}/x.json"],
        ["library", "export", "{video}", "--to", "{tmp}", "--format", "jpeg"],
        ["edit", "cut", "{video}", "--from", "abc"],
        ["no-such-command"],
    ],
)
def test_refusals_leave_the_library_as_it_was(home, tmp_path, args):
    root, image_id, video_id = home
    before = Library(root / "library")
    count = before.count()
    before.close()
    _fails_with_one_line(root, [a.format(video=video_id, tmp=tmp_path) for a in args])
    after = Library(root / "library")
    assert after.count() == count and after.check()["ok"]  # nothing was stored before refusing
    after.close()


def test_pipes_and_devices_are_refused_unread(home, tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for args in (
        ["verify", str(fifo)],
        ["analyze", str(fifo)],
        ["library", "import", str(fifo)],
        ["verify", "/dev/zero"],
        ["analyze", "/dev/zero"],
    ):
        _fails_with_one_line(home[0], args)
