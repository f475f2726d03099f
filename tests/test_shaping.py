"""Frame shaping on the device (render/shaping.py) against Pillow (render/frames.Geometry.apply):
images with gradients, noise and edges at up and down factors and odd sizes; then `render` and `reel`
with --size/--fit/--grid through the device path (WAIFU_MORPH_SHAPING=device) against the host path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_render_cli import cli  # noqa: E402

from interpolate.errors import WaifuError  # noqa: E402
from interpolate.render.frames import Geometry  # noqa: E402
from interpolate.render.shaping import SHAPING_ENV, DeviceShaper, shaping_place  # noqa: E402


def test_image(h: int, w: int, seed: int) -> np.ndarray:
    """Natural-looking content for a resampler: smooth gradients, noise, hard edges, saturated spots."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * x / w, 255 * y / h, 128 + 100 * np.sin(x / 3 + y / 7)], -1)
    img += rng.normal(0, 18, img.shape)
    checker = ((x // 5 + y // 3) % 2 == 0)[..., None]
    img = np.where(checker & (x < w / 2)[..., None], 255 - img, img)      # edges on half the frame
    img[rng.random((h, w)) < 0.01] = 255                                  # hot pixels: ringing clips
    img[h // 3: h // 3 + 2] = 0                                           # a thin black line
    return np.clip(img, 0, 255).astype(np.uint8)


test_image.__test__ = False     # a helper, not a test

CASES = [  # (src w, h) -> (out w, h), fit
    ((64, 64), (256, 256), "pad"),          # the default upscale of a 64 px model
    ((256, 256), (1080, 1920), "pad"),
    ((256, 256), (1080, 1920), "crop"),
    ((64, 64), (1080, 1920), "crop"),        # 30x up
    ((512, 512), (128, 128), "pad"),        # 4x down: support scaled by the factor
    ((300, 200), (97, 131), "crop"),        # odd sizes, down one way, up the other
    ((37, 53), (100, 29), "pad"),
    ((192, 64), (256, 256), "pad"),         # a 3x1 grid into a square: black bars
    ((99, 101), (100, 101), "pad"),         # a 1 px change: one pass only
    ((128, 128), (129, 1000), "crop"),
]


def shape_both(src, out, fit, n=2, seed=0):
    (sw, sh), (ow, oh) = src, out
    frames = np.stack([test_image(sh, sw, seed + k) for k in range(n)])
    geometry = Geometry(sw, sh, ow, oh, fit)
    host = np.stack([geometry.apply(f) for f in frames])
    device = DeviceShaper(geometry, torch.device("cpu"))(torch.from_numpy(frames)).numpy()
    return host, device


@pytest.mark.parametrize("src, out, fit", CASES, ids=[f"{s[0]}x{s[1]}-{o[0]}x{o[1]}-{f}" for s, o, f in CASES])
def test_device_shaping_is_pillow_within_one_level(src, out, fit):
    host, device = shape_both(src, out, fit)
    assert device.shape == host.shape == (2, out[1], out[0], 3) and device.dtype == np.uint8
    diff = np.abs(device.astype(np.int16) - host)
    assert diff.max() <= 1, (diff.max(), (diff > 0).mean())
    # the design claim (Pillow's integer arithmetic on the device), stronger than the 1-level budget
    assert np.array_equal(device, host), ((diff > 0).mean(), diff.max())


def test_crop_only_resamples_what_is_visible():
    geometry = Geometry(256, 256, 1080, 1920, "crop")          # resized to 1920x1920, 1080 columns kept
    shaper = DeviceShaper(geometry, torch.device("cpu"))
    assert shaper.h.idx.shape[1] == 1080 and shaper.v.idx.shape[1] == 1920
    assert 0 < shaper.h.first and shaper.h.last < 256          # the side columns are never read


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_shaping_is_the_cpu_bytes():
    frames = torch.from_numpy(np.stack([test_image(256, 256, k) for k in range(3)]))
    geometry = Geometry(256, 256, 1080, 1920, "pad")
    on_cpu = DeviceShaper(geometry, torch.device("cpu"))(frames)
    on_cuda = DeviceShaper(geometry, torch.device("cuda"))(frames.cuda()).cpu()
    assert torch.equal(on_cpu, on_cuda)


def test_the_place_is_a_fixed_rule(monkeypatch):
    monkeypatch.delenv(SHAPING_ENV, raising=False)
    g = Geometry(64, 64, 256, 256)
    assert shaping_place(torch.device("cuda"), g) == "device"
    assert shaping_place(torch.device("cpu"), g) == "host"
    assert shaping_place(torch.device("cuda"), Geometry(64, 64, 64, 64)) == "host"     # nothing to shape
    monkeypatch.setenv(SHAPING_ENV, "device")
    assert shaping_place(torch.device("cpu"), g) == "device"
    monkeypatch.setenv(SHAPING_ENV, "gpu")
    with pytest.raises(WaifuError, match="WAIFU_MORPH_SHAPING=gpu"):
        shaping_place(torch.device("cpu"), g)


# --- through the commands users run ----------------------------------------------------------------
def read_frames(folder) -> np.ndarray:
    import imageio.v2 as iio

    files = sorted(Path(folder).glob("*.png"))
    assert files, folder
    return np.stack([iio.imread(p)[..., :3] for p in files]).astype(np.int16)


def both_places(monkeypatch, tmp_path, run) -> tuple[np.ndarray, np.ndarray]:
    """run(output folder) under WAIFU_MORPH_SHAPING=host and =device; the two frame stacks."""
    got = {}
    for place in ("host", "device"):
        monkeypatch.setenv(SHAPING_ENV, place)
        run(tmp_path / place)
        got[place] = read_frames(tmp_path / place)
    return got["host"], got["device"]


@pytest.mark.parametrize("flags, size", [
    ([], (256, 256)),                                                       # default: 64 -> 256
    (["--size", "1080x1920", "--fit", "crop", "--grid", "2x2", "--seeds", "1-8"], (1080, 1920)),
    (["--size", "300x170", "--fit", "pad", "--grid", "3x1", "--seeds", "1-6", "--label"], (300, 170)),
], ids=["default-256", "reel-crop-grid", "pad-grid-labels"])
def test_render_shapes_on_the_device_like_pillow(monkeypatch, tmp_path, flags, size):
    def run(out):
        args = ["--seeds", "1,2", *flags] if "--seeds" not in flags else flags
        assert cli("render", *args, "--frames", "2", "-q", "--device", "cpu", "-o", f"{out}/") == 0

    host, device = both_places(monkeypatch, tmp_path, run)
    assert host.shape[1:] == device.shape[1:] == (size[1], size[0], 3) and len(host) == len(device) >= 2
    assert np.abs(host - device).max() <= 1
    assert host.std() > 20                                     # real pictures, not two blank clips


def test_reel_shapes_on_the_device_like_pillow(monkeypatch, tmp_path):
    reel = tmp_path / "r.toml"
    reel.write_text("[reel]\nfps = 8\nsize = '90x160'\nfit = 'crop'\n\n[[segment]]\nkeys = '3,17'\nseconds = 0.25\n"
                    "title = 'Hi'\ntitle_seconds = 0.25\n\n[[segment]]\nkeys = '17,42'\nseconds = 0.25\n")

    def run(out):
        assert cli("reel", reel, "-o", f"{out}/", "--quiet") == 0

    host, device = both_places(monkeypatch, tmp_path, run)
    assert host.shape == device.shape and host.shape[1:] == (160, 90, 3)
    assert np.abs(host - device).max() <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_render_shapes_on_the_device_like_the_host(monkeypatch, tmp_path):
    monkeypatch.delenv(SHAPING_ENV, raising=False)
    from interpolate.render.frames import Geometry as G

    assert shaping_place(torch.device("cuda"), G(64, 64, 300, 170, "crop")) == "device"   # the default here

    def run(out):
        assert cli("render", "--seeds", "1-6", "--grid", "3x1", "--size", "300x170", "--fit", "crop", "--frames", "2",
                   "--device", "cuda", "--precision", "fp32", "-q", "-o", f"{out}/") == 0

    got = {}
    for place in ("auto", "host"):
        monkeypatch.setenv(SHAPING_ENV, place)
        run(tmp_path / place)
        got[place] = read_frames(tmp_path / place)
    assert got["auto"].shape == got["host"].shape and np.abs(got["auto"] - got["host"]).max() <= 1
