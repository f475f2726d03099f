"""The Python API: plan_path(G, keys, spec) with in-memory W keys, render_path with typed specs, reels
without temp files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from fakes import FakeGenerator  # noqa: E402

from interpolate.errors import WaifuError  # noqa: E402
from interpolate.options import RenderOptions  # noqa: E402
from interpolate.paths import PathSpec, Styles, Timing, Truncation, WKey, plan_path  # noqa: E402


@pytest.fixture(scope="module")
def G():
    return FakeGenerator()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"))


def w_values(G, seed: int) -> np.ndarray:
    """A W of shape [num_ws, w_dim] (float32) that is not any seed's."""
    return (np.random.RandomState(seed).randn(G.num_ws, G.w_dim) * 0.7).astype(np.float32)


SPEC = PathSpec(interp="cubic", easing="smoothstep", timing=Timing(fps=10, frames=5, hold=0.2),
                styles=Styles(style="cascade"), truncation=Truncation(psi=0.7, psi_end=0.9))


@pytest.mark.parametrize("shape", ["w_dim", "num_ws,w_dim", "1,num_ws,w_dim"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_in_memory_w_plans_exactly_as_the_same_w_in_a_file(G, tmp_path, shape, kind):
    w = w_values(G, 1)
    if shape == "w_dim":
        w = w[0]
    elif shape == "1,num_ws,w_dim":
        w = w[None]
    np.save(tmp_path / "me.npy", w)
    value = torch.from_numpy(w) if kind == "torch" else w
    from_file = plan_path(G, ["3", str(tmp_path / "me.npy"), "17"], SPEC)
    in_memory = plan_path(G, ["3", WKey(value, "me.npy"), 17], SPEC)
    n = from_file.num_frames
    assert n == in_memory.num_frames == 2 * 5 + 3 * 2 + 1        # transitions, holds, the last key
    assert np.array_equal(from_file.ws_frames(0, n), in_memory.ws_frames(0, n))
    assert in_memory.key_labels == ["3", "me.npy", "17"] == from_file.key_labels
    assert in_memory.params["keys"] == ["3", "me.npy", 17]


def test_bare_arrays_are_labelled_by_position_and_bad_shapes_are_one_line(G):
    path = plan_path(G, [w_values(G, 1), w_values(G, 2)], PathSpec(timing=Timing(frames=3)))
    assert path.key_labels == ["w0", "w1"] and path.num_frames == 4
    with pytest.raises(WaifuError, match=r"W key 'w1' has shape \[3, 6\] but this model needs \[6\], \[10, 6\]") as err:
        plan_path(G, [w_values(G, 1), np.zeros((3, 6), np.float32)], PathSpec())
    assert "\n" not in str(err.value)
    with pytest.raises(WaifuError, match="NaN"):
        plan_path(G, [w_values(G, 1), np.full((10, 6), np.nan, np.float32)], PathSpec())


def test_render_options_and_their_specs_plan_the_same_path(G):
    opts = RenderOptions(keys=["3,17", "42"], style="fine", frames=4, loop=True, psi=0.6, noise="smooth", fps=12)
    a, b = plan_path(G, opts), plan_path(G, opts.keys, opts.path_spec())
    assert np.array_equal(a.ws_frames(0, a.num_frames), b.ws_frames(0, b.num_frames))
    assert a.params == b.params and a.params["keys"] == ["3,17", "42"]
    assert opts.path_spec().flat() == {k: v for k, v in opts.to_dict().items() if k in opts.path_spec().flat()}
    assert opts.path_spec().replace(style="coarse").styles.style == "coarse"


def test_render_from_in_memory_w_equals_the_cli_render_of_the_same_w_file(tiny_checkpoint, tmp_path):
    """Plan and render through the public API (in-memory W, typed specs) = `waifu-morph render` with a W file."""
    from PIL import Image

    from interpolate import load_generator
    from interpolate.cli import main
    from interpolate.render import DeviceSpec, OutputSpec, render_path

    G = load_generator(tiny_checkpoint, device="cpu")
    w = (np.random.RandomState(5).randn(G.num_ws, G.w_dim) * 0.5).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    with pytest.raises(SystemExit) as code:
        main(["render", tiny_checkpoint, "--keys", f"{tmp_path / 'w.npy'},4", "--style", "coarse", "--frames", "3",
              "--batch-size", "2", "-q", "-o", str(tmp_path / "cli")])
    assert code.value.code in (0, None)
    spec = PathSpec(styles=Styles(style="coarse"), timing=Timing(frames=3))
    path = plan_path(G, [torch.from_numpy(w), 4], spec)
    result = render_path(G, path, OutputSpec(output=str(tmp_path / "api"), quiet=True), device=DeviceSpec(batch_size=2))
    assert result.frames == 4
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "api").iterdir()) and len(names) == 4
    for name in names:
        a = np.asarray(Image.open(tmp_path / "cli" / name))
        b = np.asarray(Image.open(tmp_path / "api" / name))
        assert np.array_equal(a, b)
    import json

    side = json.loads((tmp_path / "api.json").read_text())
    assert side["options"]["style"] == "coarse" and side["options"]["batch_size"] == 2
    assert side["path"]["key_labels"] == ["w0", "4"]


def test_a_reel_writes_no_temporary_w_file(tiny_checkpoint, tmp_path, monkeypatch):
    """Reel keys reach plan_path as W values: no .npy is saved anywhere, the temp folder stays empty."""
    import tempfile

    from interpolate.cli import main

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    saved = []
    real_save = np.save
    monkeypatch.setattr(np, "save", lambda *a, **k: (saved.append(a[0]), real_save(*a, **k)))
    reel = tmp_path / "r.toml"
    reel.write_text(f'[reel]\ncheckpoint = "{tiny_checkpoint}"\noutput = "r.gif"\nfps = 10\nbatch_size = 2\n'
                    '[[segment]]\nkeys = "3,17"\nseconds = 0.3\n[[segment]]\nkeys = "42"\nstyle = "fine"\nseconds = 0.3\n')
    with pytest.raises(SystemExit) as code:
        main(["reel", str(reel), "-q"])
    assert code.value.code in (0, None)
    assert saved == [] and list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.gif", "r.gif.json", "r.toml", "scratch"]
    import json

    groups = json.loads((tmp_path / "r.gif.json").read_text())["path"]["groups"]
    assert [g["base_label"] for g in groups] == ["3", "17"]
