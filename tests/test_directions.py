"""SeFa and example directions: orthonormal, equal to the closed form computed independently from the
official state-dict layout, the top one moves the image more than a random one; the CLI writes the
file and the sheet, and refuses bad input in one line.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from test_project import SG1_KW, SG2_KW, SG3_KW, cli, tiny  # noqa: E402

from interpolate import sefa  # noqa: E402
from interpolate.directions import from_examples, load_directions  # noqa: E402
from interpolate.errors import WaifuError  # noqa: E402
from interpolate.formats.native import save_native  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def G2():
    return tiny("stylegan2", {**SG2_KW, "architecture": "resnet"})


def official_closed_form(state: dict, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """From the official G_ema.state_dict() names alone: stack the matching affine weights, unit rows,
    right singular vectors (= eigenvectors of A^T A), strongest first."""
    keys = sorted(k for k in state if re.fullmatch(pattern, k))
    a = np.concatenate([state[k].double().numpy() for k in keys])
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    return vt, s ** 2


def test_sefa_is_orthonormal_and_equals_the_closed_form_on_the_official_layout(G2):
    dirs = sefa(G2)
    v = dirs.vectors.astype(np.float64)
    assert v.shape == (G2.w_dim, G2.w_dim)
    assert np.allclose(v @ v.T, np.eye(G2.w_dim), atol=1e-5)
    assert np.all(np.diff(dirs.values) <= 1e-9)                         # strongest first
    # every conv's affine, and ToRGB's for the last ws, which in a resnet model feeds nothing else
    ref, values = official_closed_form(G2.state_dict(), r"synthesis\.(b\d+\.conv[01]|b32\.torgb)\.affine\.weight")
    assert np.allclose(dirs.values, values, rtol=1e-6)
    assert np.allclose(np.abs(np.sum(v * ref, axis=1)), 1, atol=1e-4)  # the same directions, up to sign
    # a style group: only the convs that read those ws (b4.conv1: ws 0, b8.conv0/1: 1, 2, b16.conv0: 3)
    coarse = sefa(G2, "coarse")
    assert coarse.layers == (0, 1, 2, 3)
    ref, _ = official_closed_form(G2.state_dict(), r"synthesis\.(b4\.conv1|b8\.conv[01]|b16\.conv0)\.affine\.weight")
    assert np.allclose(np.abs(np.sum(coarse.vectors.astype(np.float64) * ref, axis=1)), 1, atol=1e-4)
    # the last ws of a resnet model feeds only ToRGB: then ToRGB's affine is what moves it
    last = sefa(G2, [G2.num_ws - 1])
    ref, _ = official_closed_form(G2.state_dict(), r"synthesis\.b32\.torgb\.affine\.weight")
    assert np.allclose(np.abs(np.sum(last.vectors[:3].astype(np.float64) * ref[:3], axis=1)), 1, atol=1e-4)


SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"


@torch.no_grad()
def test_the_top_direction_moves_the_image_more_than_random_ones():
    """On the shipped (trained) model: random weights have a flat spectrum, a trained one does not."""
    from interpolate import load_generator

    G = load_generator(SHIPPED, device="cpu")
    dirs = sefa(G)
    z = torch.from_numpy(np.random.RandomState(0).randn(4, G.z_dim)).float()
    ws = G.mapping(z, truncation_psi=0.7).double().numpy()
    base = G.synthesis(torch.from_numpy(ws).float())
    change = lambda offset: float((G.synthesis(torch.from_numpy(ws + offset).float()) - base).square().mean())  # noqa: E731
    rng = np.random.RandomState(1)
    randoms = [change(np.broadcast_to(2 * r / np.linalg.norm(r), (G.num_ws, G.w_dim)))
               for r in rng.randn(8, G.w_dim)]
    top = change(dirs.offset(0, 2.0))
    assert top > 2 * np.mean(randoms) and top > max(randoms), (top, randoms)


@pytest.mark.parametrize("arch,kw", [("stylegan1", SG1_KW), ("stylegan3", SG3_KW)])
def test_sefa_on_every_architecture(arch, kw):
    G = tiny(arch, kw)
    assert np.allclose(sefa(G).vectors @ sefa(G).vectors.T, np.eye(G.w_dim), atol=1e-5)
    # SG3: ws 1-4 feed L0-L3 only (ws 0 the input transform, ws 5 ToRGB L4)
    dirs = sefa(G, None if arch == "stylegan1" else [1, 2, 3, 4])
    v = dirs.vectors.astype(np.float64)
    assert np.allclose(v @ v.T, np.eye(G.w_dim), atol=1e-5)
    pattern = (r"synthesis\.b\d+\.epilogue[01]\.style\.weight" if arch == "stylegan1" else
               r"synthesis\.L[0-3]_\d+_\d+\.affine\.weight")
    ref, _ = official_closed_form(G.state_dict(), pattern)
    assert np.allclose(np.abs(np.sum(v * ref, axis=1)), 1, atol=1e-4)


def test_direction_from_examples_is_the_normalised_difference_of_means(G2):
    from interpolate.paths.keys import map_z
    from interpolate.seeds import z_from_seed

    d = from_examples(G2, [3, 17], [5, 6, 7], "middle")
    w = lambda s: map_z(G2, np.concatenate([z_from_seed(x, G2.z_dim) for x in s]))[:, 0].mean(axis=0)  # noqa: E731
    diff = w([3, 17]) - w([5, 6, 7])
    assert np.allclose(d.vectors[0], diff / np.linalg.norm(diff), atol=1e-6)
    assert d.layers == (4, 5, 6, 7) and np.abs(d.offset(0, 1.0)[:4]).max() == 0
    with pytest.raises(WaifuError, match="both sides"):
        from_examples(G2, [3, 5], [5, 6])


def test_cli_writes_directions_and_a_sheet(tmp_path, G2, capsys):
    ckpt = save_native(tmp_path / "g.pt", G2, init_kwargs={**SG2_KW, "architecture": "resnet"})
    out, sheet = tmp_path / "dirs.npz", tmp_path / "dirs.png"
    assert cli("directions", ckpt, "--style", "middle", "-o", out, "--sheet", sheet, "--sheet-rows", 3,
               "--sheet-seeds", "1,2", "--columns", 3) == 0
    dirs = load_directions(out)
    assert dirs.method == "sefa" and dirs.layers == (4, 5, 6, 7) and len(dirs) == G2.w_dim
    assert np.allclose(dirs.vectors, sefa(G2, "middle").vectors, atol=1e-6)
    img = Image.open(sheet)
    assert img.size[1] == 34 + 3 * 96 and img.size[0] == 110 + 2 * (3 * 96 + 6)
    red = tmp_path / "red.npz"
    assert cli("directions", ckpt, "--from-seeds", "3,17", "--against", "5", "--label", "red eyes", "-o", red, "-q") == 0
    assert load_directions(red).labels == ["red eyes"]
    capsys.readouterr()
    for args, words in [(["--from-seeds", "3"], "go together"), (["--style", "cascade"], "not a cascade"),
                        (["--layers", "0-99"], "out of range"), (["--sheet", tmp_path / "s.gif"], ".png")]:
        assert cli("directions", ckpt, "-o", tmp_path / "bad.npz", *args) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "bad.npz").exists()
    other = tmp_path / "other.npz"
    np.savez(other, w=np.zeros(3))
    with pytest.raises(WaifuError, match="not a directions file"):
        load_directions(other)


def test_a_walk_runs_from_a_to_b_and_loops_back(tmp_path, G2):
    from interpolate.directions.walk import make_walk

    path = tmp_path / "dirs.npz"
    sefa(G2, "coarse").save(path)
    walk = make_walk(G2, f"{path}:1", "-3:2", loop=False)
    s = walk.strengths(np.arange(11), 11)
    assert s[0] == -3 and s[-1] == 2 and np.all(np.diff(s) > 0)
    looped = make_walk(G2, f"{path}:1", "-3:2", loop=True).strengths(np.arange(10), 10)
    assert looped[0] == -3 and looped[5] == 2 and np.allclose(looped[1:5], looped[9:5:-1])
    off = walk.offsets(np.array([10]), 11, G2.num_ws)[0]
    assert np.allclose(off[:4], 2 * sefa(G2, "coarse").vectors[1]) and np.abs(off[4:]).max() == 0
    for spec, strength, words in [(f"{path}:300", "1", "out of range"), (f"{path}:1", "lots", "number or a range"),
                                  (f"{path}:1", "1:2:3", "number or a range"), (tmp_path / "none.npz", "1", "not found")]:
        with pytest.raises(WaifuError, match=words):
            make_walk(G2, str(spec), strength, loop=False)
    other = tiny("stylegan2", {**SG2_KW, "w_dim": 8, "z_dim": 8})
    with pytest.raises(WaifuError, match="num_ws 8, w_dim 16.*num_ws 8, w_dim 8"):
        make_walk(other, str(path), "1", loop=False)
