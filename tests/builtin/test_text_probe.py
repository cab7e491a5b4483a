"""The video recipe's text probe (``scripts/train_builtin_video.py --text-probe``): a cosine
classifier of each caption's motion from the mean of its text states, whose loss only falls
when the motion becomes a large part of that mean."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from train_builtin_video import probe_loss  # noqa: E402


def caption_states(common: float, motion: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, 4, D) token states: one part every caption shares, scaled by ``common``, plus the
    motion's own direction on one token."""
    generator = torch.Generator().manual_seed(0)
    shared = torch.randn(motion.shape[1], generator=generator)
    states = common * shared.expand(len(labels), 4, -1).clone()
    states[:, 1] += motion[labels]
    return states


def test_the_probe_reads_angles_so_a_swamped_motion_costs_more_than_a_prominent_one():
    torch.manual_seed(0)
    motion = torch.randn(2, 16)  # slide left, slide right
    labels = torch.tensor([0, 1, 0, 1])
    head = motion.clone()  # the right classifier for both
    swamped, _ = probe_loss(head, caption_states(20.0, motion, labels), labels)
    prominent, right = probe_loss(head, caption_states(0.1, motion, labels), labels)
    assert prominent < 0.5 * swamped
    assert right.all()
    scaled, _ = probe_loss(head, 10 * caption_states(20.0, motion, labels), labels)
    torch.testing.assert_close(scaled, swamped)  # the length of the states does not help


def test_meeting_the_probe_makes_the_direction_a_large_part_of_the_mean_state():
    """Train states (standing in for the text encoder's) and head together: the probe comes
    to name both directions, and the gap between the two directions' mean states grows
    against their length."""
    torch.manual_seed(1)
    motion = torch.randn(2, 16)
    labels = torch.tensor([0, 1] * 4)
    states = torch.nn.Parameter(caption_states(20.0, 0.5 * motion, labels))
    head = torch.nn.Parameter(torch.randn(2, 16))

    def share() -> float:
        pooled = states.detach().mean(1)
        gap = pooled[labels == 1].mean(0) - pooled[labels == 0].mean(0)
        return float(gap.norm() / pooled.norm(dim=1).mean())

    before = share()
    opt = torch.optim.Adam([states, head], lr=0.05)
    for _ in range(200):
        loss, right = probe_loss(head, states, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert right.all()
    assert share() > 5 * before
