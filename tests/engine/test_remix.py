"""Video remix: a generated clip again with one change to its first frame."""

import numpy as np
import pytest

from cinedraft.errors import InputError
from cinedraft.media.codec import read_frames
from cinedraft.request import VideoRequest

from ..editor.conftest import make_clip


def test_a_remix_keeps_the_clips_prompt_motion_and_seed_and_makes_the_change(engine, tmp_path):
    clip = engine.generate_video(  # 4 steps: the remix keeps them (checked below)
        VideoRequest(
            prompt="a red ball slides right on a wooden table", seconds=1.0, seed=11, steps=4
        )
    )
    remix = engine.remix(clip.asset_id, "much warmer")
    rec, old = remix.record, clip.record
    for field in ("prompt", "model", "seed", "steps", "guidance", "preset", "fps", "frames"):
        assert rec[field] == old[field], field
    assert rec["mode"] == "image" and rec["remix"]["route"] == "exact"
    roles = {p["role"]: p["id"] for p in rec["parents"]}
    assert roles["remix_of"] == clip.asset_id
    frame = engine.library.get(roles["first_frame"])
    assert frame.record["edit"]["route"] == "exact"
    still = engine.library.get(frame.parents[0]["id"])
    assert still.kind == "first_frame" and still.parents[0]["id"] == clip.asset_id

    def warmth(path):
        frames = np.stack(read_frames(path, max_frames=8)[0]).astype(float)
        return frames[..., 0].mean() - frames[..., 2].mean()

    assert warmth(remix.path) > warmth(clip.path) + 5  # the change holds in the new clip


def test_only_a_generated_clip_can_be_remixed(engine, tmp_path):
    outside = make_clip(tmp_path / "outside.mp4", frames=12)
    with pytest.raises(InputError, match="a generated clip"):
        engine.remix(outside, "warmer")
