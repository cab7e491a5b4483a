"""Neighbourhood motion attention (``cinedraft/builtin/reach.py``): what it attends to, and
that it survives saving and loading beside a standard diffusers UNet."""

from pathlib import Path

import pytest
import torch
from diffusers import UNetMotionModel
from diffusers.models.attention_processor import Attention
from safetensors import safe_open
from safetensors.torch import save_file

from cinedraft.builtin import VIDEO_MODEL, reach


def identity_attention(dim: int, heads: int) -> Attention:
    attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, out_bias=False)
    with torch.no_grad():
        for layer in (attn.to_q, attn.to_k, attn.to_v, attn.to_out[0]):
            layer.weight.copy_(torch.eye(dim))
    return attn


def test_a_query_fetches_the_first_frame_from_the_offset_it_favours():
    """Bias the offset one pixel to the right (dy 0, dx +1) far above the rest: every frame
    at pixel (y, x) then reads frame 0 at (y, x + 1); in the last column, where that pixel is
    outside the frame, it falls back on the other keys and stays finite."""
    dim, heads, frames, h, w = 8, 2, 3, 4, 5
    attn = identity_attention(dim, heads)
    proc = reach.ReachAttnProcessor(dim, heads, radius=1)
    with torch.no_grad():
        proc.offset_bias.fill_(-1e4)
        proc.offset_bias[:, 5] = 1e4  # offsets run (dy, dx) row by row: index 5 is (0, +1)
    proc.size = (h, w)
    x = torch.randn(2 * h * w, frames, dim)  # (B*H*W, F, D), pixels row-major
    out = proc(attn, x)
    grid_in = x.view(2, h, w, frames, dim)
    grid_out = out.view(2, h, w, frames, dim)
    for f in range(frames):
        torch.testing.assert_close(grid_out[:, :, :-1, f], grid_in[:, :, 1:, 0])
    assert torch.isfinite(out).all()
    assert not torch.allclose(grid_out[:, :, -1, 0], grid_in[:, :, 0, 0])


def test_the_text_branch_starts_silent_and_reads_each_clips_own_prompt():
    """With its value projection at zero the prompt changes nothing (a trained model gains the
    branch without changing); once it has learned, a clip's output follows its own prompt and
    not its neighbour's."""
    dim, heads, frames, h, w, text_dim = 8, 2, 3, 2, 3, 6
    attn = identity_attention(dim, heads)
    plain = reach.ReachAttnProcessor(dim, heads, radius=1)
    reading = reach.ReachAttnProcessor(dim, heads, radius=1, text_dim=text_dim)
    reading.load_state_dict(plain.state_dict(), strict=False)
    plain.size = reading.size = (h, w)
    x = torch.randn(2 * h * w, frames, dim)  # two clips
    prompts = torch.randn(2, 5, text_dim)
    reading.text = prompts
    torch.testing.assert_close(reading(attn, x), plain(attn, x))
    with torch.no_grad():
        reading.text_value.weight.normal_()
    before = reading(attn, x)
    reading.text = torch.stack([prompts[0], torch.randn(5, text_dim)])  # clip 1's prompt changes
    after = reading(attn, x)
    pixels = h * w
    torch.testing.assert_close(after[:pixels], before[:pixels])
    assert not torch.allclose(after[pixels:], before[pixels:])


def test_steering_starts_silent_then_the_prompt_chooses_the_offset():
    """With the gains at zero a steering processor gives what the plain text branch gives;
    with a gain, two prompts that differ only in one direction make every frame copy frame 0
    from opposite sides (one pixel right for one prompt, one pixel left for the other)."""
    dim, heads, frames, h, w = 8, 2, 3, 4, 5
    attn = identity_attention(dim, heads)
    reading = reach.ReachAttnProcessor(dim, heads, radius=1, text_dim=dim)
    steering = reach.ReachAttnProcessor(dim, heads, radius=1, text_dim=dim, steer=True)
    direction = torch.zeros(dim)
    direction[[0, 4]] = 1.0  # one unit in each head's slice
    with torch.no_grad():
        reading.text_key.weight.zero_()  # every query reads the prompt's mean token
        reading.text_value.weight.copy_(torch.eye(dim))
        reading.offset_bias.fill_(-1e4)
        reading.offset_bias[:, [3, 5]] = 0.0  # only (0, -1) and (0, +1) compete
        reading.offset_key[5] = 100 * direction
        reading.offset_key[3] = -100 * direction
    steering.load_state_dict(reading.state_dict(), strict=False)
    reading.size = steering.size = (h, w)
    x = 0.01 * torch.randn(h * w, frames, dim)  # one clip, small features: the offsets decide
    rightwards, leftwards = direction.expand(1, 4, dim), -direction.expand(1, 4, dim)
    reading.text = steering.text = rightwards
    torch.testing.assert_close(steering(attn, x), reading(attn, x))

    with torch.no_grad():
        steering.offset_steer.fill_(1.0)
    grid_in = x.view(h, w, frames, dim)
    for prompt, source, target in (
        (rightwards, slice(1, None), slice(0, -1)),
        (leftwards, slice(0, -1), slice(1, None)),
    ):
        steering.text = prompt
        copied = (steering(attn, x) - prompt[0, 0]).view(h, w, frames, dim)  # less the read
        for f in range(frames):
            torch.testing.assert_close(
                copied[:, target, f], grid_in[:, source, 0], atol=1e-4, rtol=0
            )


def test_routing_starts_silent_then_each_clips_prompt_routes_its_frames():
    """With its biases at zero a routing processor gives what the plain text branch gives;
    once frame 1's offsets are routed, the clip whose prompt points right has frame 1 copy
    frame 0 from one pixel right, the clip whose prompt points left from one pixel left (same
    batch), and the frames with no route stay as they were."""
    dim, heads, frames, h, w = 8, 2, 3, 4, 5
    attn = identity_attention(dim, heads)
    reading = reach.ReachAttnProcessor(dim, heads, radius=1, text_dim=dim)
    routing = reach.ReachAttnProcessor(dim, heads, radius=1, text_dim=dim, route=1)
    direction = torch.zeros(dim)
    direction[[0, 4]] = 1.0
    with torch.no_grad():
        reading.offset_bias.fill_(-1e4)
        reading.offset_bias[:, [3, 5]] = 0.0  # only (0, -1) and (0, +1) compete
    routing.load_state_dict(reading.state_dict(), strict=False)
    reading.size = routing.size = (h, w)
    x = 0.01 * torch.randn(2 * h * w, frames, dim)  # two clips, small features
    prompts = torch.stack([direction.expand(4, dim), -direction.expand(4, dim)])  # right, left
    reading.text = routing.text = prompts
    unrouted = reading(attn, x)
    torch.testing.assert_close(routing(attn, x), unrouted)

    with torch.no_grad():
        routing.route_down.weight.copy_(direction[None])  # the prompt's side, +2 or -2
        routing.offset_route.zero_()
        routing.offset_route[0, 1, :, 5] = 1e3  # frame 1: towards the prompt's side
        routing.offset_route[0, 1, :, 3] = -1e3
    out = routing(attn, x).view(2, h, w, frames, dim)
    grid_in = x.view(2, h, w, frames, dim)
    torch.testing.assert_close(out[0, :, :-1, 1], grid_in[0, :, 1:, 0])  # right: from x + 1
    torch.testing.assert_close(out[1, :, 1:, 1], grid_in[1, :, :-1, 0])  # left: from x - 1
    torch.testing.assert_close(
        out[:, :, :, [0, 2]], unrouted.view(2, h, w, frames, dim)[:, :, :, [0, 2]]
    )


def test_reach_saves_beside_a_plain_unet_and_loads_back(tmp_path):
    unet = UNetMotionModel.from_pretrained(VIDEO_MODEL / "unet")
    changed = reach.install(
        unet, radius=2, text_dim=unet.config.cross_attention_dim, steer=True, route=2
    )
    assert (
        changed > 0
        and reach.config(unet).radius == 2
        and reach.config(unet).steer
        and reach.config(unet).route == 2
    )
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if ".processor." in name:
                p.add_(torch.randn_like(p) * 0.5)  # a trained-looking state, not the initial one
        trained = reach.reach_state(unet)
        on_disk = reach._unpack(reach._pack(trained))  # fp16, text projections int8 rows
        for key, value in trained.items():
            assert (on_disk[key] - value).abs().max() <= 0.01 * value.abs().max(), key
        unet.load_state_dict(on_disk, strict=False)  # compare with the weights as stored
    with reach.set_aside(unet):
        assert reach.config(unet).radius == 0
        unet.save_pretrained(tmp_path)
    assert reach.config(unet).radius == 2
    reach.save(unet, tmp_path)

    plain = UNetMotionModel.from_pretrained(tmp_path)  # a standard diffusers folder
    assert not any(".processor." in k for k in plain.state_dict())
    assert reach.load(plain, tmp_path) and reach.config(plain).radius == 2
    assert (
        reach.config(plain).text_dim == plain.config.cross_attention_dim
        and reach.config(plain).steer
    )
    assert reach.config(plain).route == 2
    sample = torch.randn(1, 4, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    text = torch.randn(8, 32, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = unet(sample, 500, encoder_hidden_states=text).sample
        got = plain(sample, 500, encoder_hidden_states=text).sample
    torch.testing.assert_close(got, want)


def test_a_folder_without_reach_loads_as_plain_attention(tmp_path):
    unet = UNetMotionModel.from_pretrained(VIDEO_MODEL / "unet")
    assert reach.load(unet, tmp_path) is False
    assert reach.config(unet).radius == 0


def test_installing_again_replaces_the_hooks():
    """A second install (a resumed run, a reload) leaves one pre-hook per module, not two,
    and the model still runs with the new processors."""
    unet = UNetMotionModel.from_pretrained(VIDEO_MODEL / "unet")
    reach.install(unet, radius=1, text_dim=unet.config.cross_attention_dim)
    hooks = sum(len(m._forward_pre_hooks) for m in unet.modules())
    reach.install(unet, radius=2, text_dim=unet.config.cross_attention_dim)
    assert sum(len(m._forward_pre_hooks) for m in unet.modules()) == hooks > 0
    assert reach.config(unet).radius == 2
    sample = torch.randn(1, 4, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    text = torch.randn(8, 32, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.isfinite(unet(sample, 500, encoder_hidden_states=text).sample).all()


def older_reach_file(folder: Path) -> Path:
    """The shipped reach file as it was written before routing and steering existed: its
    learned offsets and text projections, without the route's parameters or metadata."""
    with safe_open(str(VIDEO_MODEL / "unet" / reach.REACH_FILE), "pt") as f:
        metadata = {k: v for k, v in f.metadata().items() if k in ("radius", "text_dim")}
        state = {k: f.get_tensor(k) for k in f.keys() if "route" not in k}
    save_file(state, str(folder / reach.REACH_FILE), metadata=metadata)
    return folder


def test_adding_steering_and_routing_keeps_what_reach_learned(tmp_path):
    """A reach file written before steering and routing existed loads without them, and the
    shipped one (routing at rank 4) loads as saved; adding either keeps every learned
    parameter and what was added before, so the model's output is unchanged until the new
    gains and biases move. A route's rank cannot change."""
    sample = torch.randn(1, 4, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    text = torch.randn(8, 32, 128, generator=torch.Generator().manual_seed(1))
    unet = UNetMotionModel.from_pretrained(VIDEO_MODEL / "unet")
    assert reach.load(unet, older_reach_file(tmp_path))
    assert not reach.config(unet).steer and not reach.config(unet).route
    with torch.no_grad():
        before = unet(sample, 500, encoder_hidden_states=text).sample
        reach.extend(unet, steer=True)
        assert reach.config(unet).steer
        torch.testing.assert_close(unet(sample, 500, encoder_hidden_states=text).sample, before)
        reach.extend(unet, route=3)
        assert reach.config(unet).steer and reach.config(unet).route == 3
        torch.testing.assert_close(unet(sample, 500, encoder_hidden_states=text).sample, before)

    shipped = UNetMotionModel.from_pretrained(VIDEO_MODEL / "unet")
    assert reach.load(shipped, VIDEO_MODEL / "unet")
    assert not reach.config(shipped).steer and reach.config(shipped).route == 4
    with torch.no_grad():
        before = shipped(sample, 500, encoder_hidden_states=text).sample
        # its route has learned: without it (the older file above) the output differs
        assert not torch.allclose(before, unet(sample, 500, encoder_hidden_states=text).sample)
        reach.extend(shipped, steer=True)
        assert reach.config(shipped).steer and reach.config(shipped).route == 4
        torch.testing.assert_close(shipped(sample, 500, encoder_hidden_states=text).sample, before)
    with pytest.raises(ValueError, match="rank cannot change"):
        reach.extend(shipped, route=3)
