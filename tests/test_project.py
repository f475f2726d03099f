"""`waifu-morph project` and `project(G, image)`: images the model drew come back from W, for every
architecture, batched; the files are NVIDIA's layout and morph with `render --keys`; bad input is one
line with nothing written; VGG16 loads from torchvision's layout and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from writers import perturb  # noqa: E402

from interpolate import networks, project  # noqa: E402
from interpolate.errors import WaifuError  # noqa: E402
from interpolate.formats.native import save_native  # noqa: E402
from interpolate.projection.losses import psnr  # noqa: E402
from test_render_cli import cli  # noqa: E402,F401  (the console script's entry point; its exit code)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SG2_KW = dict(z_dim=16, w_dim=16, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
              channel_base=256, channel_max=16)
SG1_KW = dict(z_dim=16, w_dim=16, img_resolution=16, fmap_base=64, fmap_max=16, mapping_layers=2, mapping_fmaps=16)
SG3_KW = dict(z_dim=16, w_dim=16, img_resolution=16, img_channels=3, channel_base=128, channel_max=8,
              mapping_kwargs={"num_layers": 2}, num_layers=4)


def tiny(arch: str, kw: dict, seed: int = 1):
    torch.manual_seed(0)
    return perturb(networks.build(arch, **kw), seed=seed, filters=False).eval().requires_grad_(False)


@pytest.fixture(scope="module")
def G2():
    return tiny("stylegan2", SG2_KW)


@torch.no_grad()
def drawn(G, seeds) -> torch.Tensor:
    z = torch.from_numpy(np.concatenate([np.random.RandomState(s).randn(1, G.z_dim) for s in seeds])).float()
    return G.synthesis(G.mapping(z)).clamp(-1, 1)


@torch.no_grad()
def mean_w_image(G, n: int) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(123).randn(10000, G.z_dim)).float()
    w = G.mapping(z)[:, :1].mean(dim=0, keepdim=True)
    return G.synthesis(w.expand(n, G.num_ws, -1))


def test_a_drawn_image_projects_much_closer_than_the_mean_w_image(G2):
    """The margin a broken optimiser (no step, wrong sign, no gradient to w) cannot reach."""
    targets = drawn(G2, [5, 3])
    fit = project(G2, [targets[0], targets[1]], steps=40, loss="ms-ssim")
    baseline = psnr(mean_w_image(G2, 2), targets)
    assert fit.ws.shape == (2, G2.num_ws, G2.w_dim) and fit.ws.dtype == np.float32
    for got, base in zip(fit.psnr, baseline.tolist()):
        assert got > base + 6, (fit.psnr, baseline)
    # the saved ws render (with the fitted noise) what the projection reports
    noise = [torch.from_numpy(n) for n in fit.noise]
    with torch.no_grad():
        again = G2.synthesis(torch.from_numpy(fit.ws), noise=noise)
    assert torch.allclose(again, fit.images, atol=1e-4)


@pytest.mark.parametrize("arch,kw", [("stylegan1", SG1_KW), ("stylegan3", SG3_KW)])
def test_every_architecture_projects_batched_without_touching_the_network(arch, kw):
    G = tiny(arch, kw)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    targets = drawn(G, [2, 7])
    fit = project(G, [targets[0], targets[1]], steps=25, loss="ms-ssim")
    assert fit.ws.shape == (2, G.num_ws, G.w_dim)
    assert len(fit.noise) == len(G.noise_shapes)                       # SG1: one per layer, SG3: none
    assert all(n.shape == (2, 1, *s) for n, s in zip(fit.noise, G.noise_shapes))
    baseline = psnr(mean_w_image(G, 2), targets).tolist()
    assert all(np.isfinite(fit.psnr)) and np.mean(fit.psnr) > np.mean(baseline) + 2, (fit.psnr, baseline)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_wplus_fits_one_w_per_layer_held_near_their_mean(G2):
    targets = drawn(G2, [5])
    w = project(G2, targets[0], steps=20, loss="ms-ssim")
    wp = project(G2, targets[0], steps=20, loss="ms-ssim", space="wplus")
    loose = project(G2, targets[0], steps=20, loss="ms-ssim", space="wplus", wplus_reg=0.0)
    assert np.ptp(w.ws[0], axis=0).max() == 0                          # W: the same w on every layer
    spread = lambda p: float(np.square(p.ws[0] - p.ws[0].mean(axis=0)).sum(axis=1).mean())  # noqa: E731
    assert 0 < spread(wp) < spread(loose)


def test_an_image_does_not_depend_on_what_it_is_batched_with(G2):
    t = drawn(G2, [5, 9, 11])
    a = project(G2, [t[0], t[1]], steps=8, loss="ms-ssim")
    b = project(G2, [t[0], t[2]], steps=8, loss="ms-ssim")
    assert np.allclose(a.ws[0], b.ws[0], atol=1e-4) and not np.allclose(a.ws[1], b.ws[1], atol=1e-2)


# --- the command line -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, G2):
    return str(save_native(tmp_path_factory.mktemp("ckpt") / "tiny.pt", G2, init_kwargs=SG2_KW))


def png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)
    return path


@pytest.fixture
def images(tmp_path, G2):
    from interpolate.images import to_uint8_numpy

    u8 = to_uint8_numpy(drawn(G2, [5, 9]))
    wide = np.concatenate([u8[1], u8[1][:, :8]], axis=1)               # another aspect: --fit crops or pads
    return [png(tmp_path / "alice.png", u8[0]), png(tmp_path / "bob.png", wide)]


def test_cli_writes_the_official_layout_that_render_morphs(tmp_path, ckpt, images, G2, capsys):
    out = tmp_path / "out"
    assert cli("project", ckpt, *images, "-o", out, "--steps", 6, "--loss", "ms-ssim", "--fit", "pad",
               "--save-video") == 0
    err = capsys.readouterr().err
    assert "PSNR" in err and "alice" in err
    for name in ("alice", "bob"):
        with np.load(out / f"{name}.npz", allow_pickle=False) as data:
            assert list(data.keys()) == ["w"]
            assert data["w"].shape == (1, G2.num_ws, G2.w_dim) and data["w"].dtype == np.float32
        assert Image.open(out / f"{name}.png").size == (2 * 32, 32)    # target | fit
        assert (out / f"{name}.mp4").stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no temp files left
    gif = tmp_path / "morph.gif"
    assert cli("render", ckpt, "--keys", f"{out / 'alice.npz'},{out / 'bob.npz'},3", "--frames", 2, "--psi", 1,
               "-o", gif, "-q") == 0
    assert gif.stat().st_size > 0


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, ckpt, images, capsys):
    out = tmp_path / "out"
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    rgba = png(tmp_path / "rgba.png", np.zeros((8, 8, 4), np.uint8))
    cases = [(text, "not an image"), (rgba, "alpha"), (tmp_path / "missing.png", "not found")]
    for bad, words in cases:
        capsys.readouterr()
        assert cli("project", ckpt, images[0], bad, "-o", out, "--steps", 2, "--loss", "ms-ssim") == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    assert cli("project", ckpt, images[0], "-o", out, "--steps", 1, "--loss", "ms-ssim", "-q") == 0
    before = (out / "alice.npz").read_bytes()
    capsys.readouterr()
    assert cli("project", ckpt, images[0], "-o", out, "--steps", 1, "--loss", "ms-ssim") == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "alice.npz").read_bytes() == before
    assert cli("project", ckpt, images[0], "-o", out, "--steps", 1, "--space", "z") == 2


def test_grey_and_16_bit_images_are_converted_with_a_note(tmp_path, ckpt, capsys):
    grey = png(tmp_path / "grey.png", np.full((20, 20), 90, np.uint8), "L")
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((20, 20), 30000, np.uint16)).save(deep)   # PIL mode I;16
    assert cli("project", ckpt, grey, deep, "-o", tmp_path / "o", "--steps", 1, "--loss", "ms-ssim") == 0
    err = capsys.readouterr().err
    assert "grey image converted to RGB" in err and "grey image converted to 8-bit RGB" in err


def test_a_w_file_for_another_model_names_both_shapes(tmp_path, ckpt, capsys):
    other = tmp_path / "other.npz"
    np.savez(other, w=np.zeros((1, 14, 512), np.float32))
    assert cli("render", ckpt, "--keys", other, "-o", tmp_path / "x.gif", "-q") == 2
    err = capsys.readouterr().err
    assert "[1, 14, 512]" in err and "[1, 8, 16]" in err


# --- VGG16: torchvision's layout, loaded safely -----------------------------------------------------
VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def torchvision_like_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in torchvision's vgg16 layout (features.N as its make_layers numbers them, plus the
    classifier), small random weights."""
    gen = torch.Generator().manual_seed(seed)
    state, index, cin = {}, 0, 3
    for v in VGG_CFG:
        if v == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(v, cin, 3, 3, generator=gen) * (2 / (9 * cin)) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(v, generator=gen) * 0.01
        index, cin = index + 2, v                       # conv, relu
    for i, (o, n) in {0: (4096, 512 * 7 * 7), 3: (4096, 4096), 6: (1000, 4096)}.items():
        state[f"classifier.{i}.weight"] = torch.zeros(1).expand(o, n)   # stored small: expand is a view
        state[f"classifier.{i}.bias"] = torch.zeros(o)
    return state


def reference_taps(state, x: torch.Tensor) -> list[torch.Tensor]:
    """torchvision's features Sequential, built independently, read at relu1_2 ... relu5_3."""
    layers, cin = [], 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(cin, v, 3, padding=1), torch.nn.ReLU(inplace=False)]
            cin = v
    seq = torch.nn.Sequential(*layers)
    seq.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h, taps = ((x + 1) / 2 - mean) / std, []
    for i, layer in enumerate(seq):
        h = layer(h)
        if i in (3, 8, 15, 22, 29):
            taps.append(h)
    return taps


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    state = torchvision_like_state()
    path = tmp_path_factory.mktemp("torch") / "hub" / "checkpoints" / "vgg16-397923af.pth"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path, state


def test_vgg16_loads_from_torchvisions_cache_place_and_matches_its_layout(vgg_file, monkeypatch):
    from interpolate.projection import make_loss
    from interpolate.projection.losses import PerceptualLoss

    path, state = vgg_file
    monkeypatch.setenv("TORCH_HOME", str(path.parents[2]))
    loss = make_loss("auto", None, "cpu")
    assert isinstance(loss, PerceptualLoss)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        ours, ref = loss.vgg(x), reference_taps(state, x)
    assert [t.shape[1] for t in ours] == [64, 128, 256, 512, 512]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(ours, ref))
    monkeypatch.setenv("TORCH_HOME", str(path.parents[2] / "elsewhere"))
    assert make_loss("auto", None, "cpu").name == "ms-ssim+l1"         # the weight-free fallback
    with pytest.raises(WaifuError, match="needs VGG16 weights"):
        make_loss("vgg16", None, "cpu")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_vgg16_refuses_code_and_wrong_files(tmp_path):
    from interpolate.projection.vgg16 import load_vgg16

    scripted = tmp_path / "vgg16.pt"
    torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 4, 3)), str(scripted))
    with pytest.raises(WaifuError, match="TorchScript"):
        load_vgg16(scripted)
    evil = tmp_path / "evil.pth"
    torch.save({"features.0.weight": torch.zeros(1), "x": Path("/")}, evil)       # a non-tensor object
    with pytest.raises(WaifuError, match="not a plain VGG16 state dict"):
        load_vgg16(evil)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, partial)
    with pytest.raises(WaifuError, match="lacks"):
        load_vgg16(partial)


def test_cli_projects_with_the_vgg16_loss_from_an_offline_file(tmp_path, vgg_file, ckpt, images, capsys):
    path, _ = vgg_file
    assert cli("project", ckpt, images[0], "-o", tmp_path / "o", "--steps", 2, "--vgg", path, "--loss", "vgg16") == 0
    err = capsys.readouterr().err
    assert "vgg16" in err and "no VGG16 weights" not in err
