import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from cinedraft.errors import InputError, UnsafeModelError
from cinedraft.render.srnets import RRDBNet, SRVGGNetCompact
from cinedraft.render.upscale import ModelUpscaler, upscale_lanczos

from ..quality.conftest import scene


def _save(net, path, prefix=""):
    save_file({prefix + k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


@pytest.mark.parametrize(
    "name, net, prefix",
    [
        ("rrdb-x4", lambda: RRDBNet(4, num_feat=16, num_block=2, num_grow_ch=8), "params_ema."),
        ("rrdb-x2", lambda: RRDBNet(2, num_feat=16, num_block=1, num_grow_ch=8), ""),
        ("srvgg-x4", lambda: SRVGGNetCompact(4, num_feat=16, num_conv=4), ""),
        ("srvgg-x2", lambda: SRVGGNetCompact(2, num_feat=8, num_conv=2), "params."),
    ],
)
def test_state_dicts_in_both_layouts_load_and_upscale(tmp_path, name, net, prefix):
    torch.manual_seed(0)
    model = net()
    upscaler = ModelUpscaler(
        _save(model, tmp_path / f"{name}.safetensors", prefix), tile=40, overlap=16
    )
    assert type(upscaler.net) is type(model) and upscaler.scale == model.scale
    image = scene(96).resize((90, 70))
    tiled, whole = upscaler.upscale(image, tiled=True), upscaler.upscale(image, tiled=False)
    assert tiled.size == (90 * model.scale, 70 * model.scale)
    diff = np.abs(np.asarray(tiled, int) - np.asarray(whole, int))
    assert diff.max() <= 2 and diff.mean() < 0.05  # tiles see the same context as the whole


def test_pickle_and_unknown_layouts_are_refused(tmp_path):
    with pytest.raises(UnsafeModelError, match="safetensors"):
        ModelUpscaler(tmp_path / "RealESRGAN_x4plus.pth")
    save_file({"weird.weight": torch.zeros(3, 3)}, str(tmp_path / "weird.safetensors"))
    with pytest.raises(InputError, match="unknown key layout"):
        ModelUpscaler(tmp_path / "weird.safetensors")
    with pytest.raises(InputError, match="not found"):
        ModelUpscaler(tmp_path / "missing.safetensors")


def test_lanczos_upscale_hits_the_size():
    assert upscale_lanczos(Image.new("RGB", (10, 8)), (40, 32), sharpen=0.5).size == (40, 32)


def test_a_pickle_named_safetensors_is_refused_as_unsafe(tmp_path):
    import pickle

    from cinedraft.errors import UnsafeModelError
    from cinedraft.render.upscale import ModelUpscaler

    fake = tmp_path / "up.safetensors"
    fake.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(UnsafeModelError, match="not a safetensors file"):
        ModelUpscaler(fake)
