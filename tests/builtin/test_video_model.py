"""The shipped video model: its weights stay in budget. Its motion adherence is measured by
``scripts/evaluate_builtin_video.py`` (``models/video/evaluation.json``); it does not reach
the 70 % target yet, so no test claims it (see the model card)."""

from cinedraft.builtin import VIDEO_MODEL


def test_shipped_weights_fit_the_budget():
    """All built-in models together stay within 40 MB of weights."""
    total = sum(f.stat().st_size for f in VIDEO_MODEL.parent.rglob("*.safetensors"))
    assert total <= 40_000_000, total
