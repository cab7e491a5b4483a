"""The factors experiment on the built-in model: the report's numbers, asserted."""

import json

import pytest

from cinedraft.quality.lab import run_factors


STAGES: list[tuple[str, int, int]] = []  # what the lab reported as it went


@pytest.fixture(scope="module")
def report(engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    prompt = "a skincare bottle on a glass table, <b>studio</b> lighting"
    return run_factors(engine, prompt, 3, out, on_progress=lambda *p: STAGES.append(p)), out


def test_every_stage_reports_progress_to_its_end(report):
    """The bar sat at 6/6 for minutes while the sweeps ran: each sweep is its own stage."""
    last = {stage: (done, total) for stage, done, total in STAGES}
    assert set(last) == {"lab", "steps sweep", "quality sweep"}
    assert all(done == total for done, total in last.values())


def test_rendering_pipeline_and_steps_increase_sharpness(report):
    report, _ = report
    gains = {f["factor"]: f["gain"] for f in report["factors"]}
    assert set(gains) == {"steps", "resolution", "pipeline", "compression"}  # one model here
    assert gains["pipeline"] > 0 and report["total_gain"] > 0
    assert gains["pipeline"] == max(gains.values())  # the biggest factor for the built-in model
    steps = {s["steps"]: s["metrics"]["sharpness"] for s in report["steps_sweep"]}
    assert steps[30] > 2 * steps[2] > 0 and steps[8] > steps[1]


def test_lower_delivery_quality_loses_detail(report):
    report, _ = report
    for fmt in ("webp", "jpeg"):
        points = sorted(
            (s for s in report["sweep"] if s["format"] == fmt), key=lambda s: s["quality"]
        )
        fidelity = [p["detail_fidelity"] for p in points]
        assert fidelity == sorted(fidelity) and fidelity[-1] < 1.0, fmt
        assert points[0]["psnr"] < points[-1]["psnr"]
        assert points[0]["bytes"] < points[-1]["bytes"]
    lossless = next(s for s in report["sweep"] if s["format"] == "png")
    assert lossless["detail_fidelity"] == 1.0


def test_report_files_are_written_and_escaped(report):
    report, out = report
    for name in (
        "report.html",
        "report.json",
        "factors.png",
        "sweeps.png",
        "baseline.png",
        "production.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "report.json").read_text())["seed"] == 3
    html = (out / "report.html").read_text()
    assert "&lt;b&gt;studio&lt;/b&gt;" in html and "<b>studio</b>" not in html


def test_shares_add_up_with_the_interaction_and_say_so(report):
    """issue #34: the shares summed to 107 % with nothing said; the interaction is a row of
    its own, so they add up to 100 %, and a sentence says which way it went."""
    report, out = report
    shares = [f["share"] for f in report["factors"]] + [report["interaction_share"]]
    assert abs(sum(shares) - 1) <= 0.01 * len(shares)
    explained = sum(f["gain"] for f in report["factors"]) / report["total_gain"]
    note = report["interaction_note"]
    assert ("overlap" in note) == (explained > 1.005)
    html = (out / "report.html").read_text()
    assert "<td>interaction</td>" in html and "below 0" in html
