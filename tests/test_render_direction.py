"""`render --direction FILE:I --strength A:B`: a walk on one key or added to a morph, exactly
path + strength(frame) * direction on the direction's layers; recorded and replayed by the sidecar and
--save-latents; accepted by presets and batch jobs and by PathSpec in Python; bad values are one line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from test_project import SG2_KW, cli, tiny  # noqa: E402

from interpolate import sefa  # noqa: E402
from interpolate.formats.native import save_native  # noqa: E402
from interpolate.images import to_uint8_numpy  # noqa: E402
from interpolate.paths import plan_path  # noqa: E402
from interpolate.paths.spec import PathSpec, Timing, Truncation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("dir")
    G = tiny("stylegan2", SG2_KW)
    ckpt = save_native(d / "g.pt", G, init_kwargs=SG2_KW)
    dirs = sefa(G, "coarse")
    dirs.save(d / "dirs.npz")
    return G, str(ckpt), d / "dirs.npz", dirs


def frames_of(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


@torch.no_grad()
def drawn(G, ws: np.ndarray) -> np.ndarray:
    return to_uint8_numpy(G.synthesis(torch.from_numpy(ws).float()))


def test_a_walk_on_one_key_runs_from_a_to_b_on_the_directions_layers(tmp_path, setup):
    G, ckpt, path, dirs = setup
    out = tmp_path / "walk"
    assert cli("render", ckpt, "--seeds", 3, "--direction", f"{path}:1", "--strength", "-2:3", "--frames", 4,
               "--psi", 1, "--size", "native", "-o", f"{out}/", "-q", "--no-sidecar") == 0
    got = frames_of(out)
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim)).float()
    w = G.mapping(z).double().numpy()[0]
    ends = np.stack([w + dirs.offset(1, -2.0), w + dirs.offset(1, 3.0)])
    diff = np.abs(got[[0, -1]].astype(int) - drawn(G, ends).astype(int))   # batching may round differently
    assert len(got) == 5 and diff.max() <= 1 and diff.mean() < 0.01
    assert not np.array_equal(got[0], got[-1])


def test_a_direction_is_added_to_every_frame_of_a_morph_and_replays(tmp_path, setup):
    G, ckpt, path, dirs = setup
    plain, walked = tmp_path / "plain.npz", tmp_path / "walked.npz"
    common = ["--seeds", "3,17", "--frames", 6, "--psi", 1, "--loop", "-q"]
    assert cli("render", ckpt, *common, "-o", tmp_path / "p.gif", "--save-latents", plain) == 0
    assert cli("render", ckpt, *common, "-o", tmp_path / "w.gif", "--save-latents", walked,
               "--direction", f"{path}:0", "--strength", "1:2") == 0
    with np.load(plain) as a, np.load(walked) as b:
        ws_plain, ws_walked = a["ws"].astype(np.float64), b["ws"].astype(np.float64)
    n = len(ws_plain)
    s = 1 + np.minimum(np.arange(n), n - np.arange(n)) / (n / 2)             # 1 -> 2 -> back towards 1
    expected = ws_plain + s[:, None, None] * np.pad(np.broadcast_to(dirs.vectors[0], (4, G.w_dim)), ((0, G.num_ws - 4), (0, 0)))
    assert np.allclose(ws_walked, expected, atol=1e-5)
    again = tmp_path / "again.gif"
    assert cli("render", "--from", tmp_path / "w.gif.json", "-o", again, "-q") == 0
    assert again.read_bytes() == (tmp_path / "w.gif").read_bytes()
    replay = tmp_path / "replay.gif"
    assert cli("render", ckpt, "--from-latents", walked, "-o", replay, "-q") == 0
    assert replay.read_bytes() == (tmp_path / "w.gif").read_bytes()


def test_presets_batch_jobs_and_pathspec_take_a_direction(tmp_path, setup, monkeypatch):
    G, ckpt, path, dirs = setup
    preset = tmp_path / "walk.toml"
    preset.write_text(f'description = "walk"\ndirection = "{path}:2"\nstrength = 2.5\nframes = 3\n')
    assert cli("render", ckpt, "--seeds", 5, "--preset", preset, "-o", tmp_path / "a.gif", "-q") == 0
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'[defaults]\ncheckpoint = "{ckpt}"\nframes = 3\n\n[[job]]\nkeys = "5"\ndirection = "{path}:2"\n'
                    f'strength = "0:2.5"\noutput = "{tmp_path / "b.gif"}"\n')
    assert cli("batch", jobs, "-q") == 0
    assert (tmp_path / "b.gif").read_bytes() == (tmp_path / "a.gif").read_bytes()
    spec = PathSpec(direction=(dirs, 2), strength=(0, 2.5), timing=Timing(frames=3), truncation=Truncation(psi=1))
    lp = plan_path(G, [5], spec)
    w5 = G.mapping(torch.from_numpy(np.random.RandomState(5).randn(1, G.z_dim)).float()).double().numpy()[0]
    assert np.allclose(lp.chunk(3, 4).ws[0].double().numpy(), w5 + dirs.offset(2, 2.5), atol=1e-5)
    assert lp.describe()["direction"] == "sefa:2"


@pytest.mark.parametrize("args,words", [
    (["--direction", "DIRS:99"], "out of range"),
    (["--direction", "DIRS:1", "--strength", "strong"], "number or a range"),
    (["--direction", "DIRS:1", "--strength", "1:2:3"], "number or a range"),
    (["--strength", "2"], "needs --direction"),
    (["--direction", "missing.npz:1"], "not found"),
    (["--direction", "OTHER:0"], "w_dim 8"),
])
def test_bad_direction_values_are_one_line_and_write_nothing(tmp_path, setup, capsys, args, words):
    G, ckpt, path, _ = setup
    other = tmp_path / "other.npz"
    sefa(tiny("stylegan2", {**SG2_KW, "w_dim": 8, "z_dim": 8})).save(other)
    args = [str(a).replace("DIRS", str(path)).replace("OTHER", str(other)) for a in args]
    out = tmp_path / "x.gif"
    assert cli("render", ckpt, "--seeds", 3, "--frames", 2, *args, "-o", out) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists() and not Path(f"{out}.json").exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_directions_files_are_a_clean_success_or_one_line(tmp_path_factory, setup, data):
    """Random damage to a valid dirs.npz (bytes flipped, cut short, arrays replaced): render either
    works or says one line with exit 2; never a traceback or the bug exit (3)."""
    import io
    import zipfile

    G, ckpt, path, dirs = setup
    d = tmp_path_factory.mktemp("fuzz")
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["flip", "cut", "array"]))
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif how == "cut":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        name = data.draw(st.sampled_from(["directions", "layers", "num_ws", "w_dim", "values", "labels"]))
        value = data.draw(st.sampled_from([np.zeros(0), np.array(["x"]), np.full((2, 3), np.nan), np.int64(-1),
                                           np.arange(40), np.ones((1, G.w_dim)), np.float32(2.5)]))
        buf = io.BytesIO()
        with np.load(path, allow_pickle=False) as old:
            arrays = {k: old[k] for k in old.files}
        arrays[name] = value
        np.savez(buf, **arrays)
        raw = bytearray(buf.getvalue())
        assert zipfile.is_zipfile(io.BytesIO(raw))
    bad = d / "dirs.npz"
    bad.write_bytes(bytes(raw))
    code = cli("render", ckpt, "--seeds", 3, "--frames", 1, "--direction", f"{bad}:0", "-o", d / "x.gif", "-q",
               "--no-sidecar")
    assert code in (0, 2), code
