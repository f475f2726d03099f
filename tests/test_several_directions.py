"""Several directions at once: `render --direction A --strength 2 --direction B --strength -1:1`,
`direction = [...]` / `strength = [...]` in presets and batch jobs, `PathSpec(direction=[...])` in
Python. The edits add up (each on its own layers, after style mixing, before truncation); one direction
in a list is the single form bit for bit; sidecars, --from and --save-latents replay it; the single
form of older sidecars still replays; a count mismatch is one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_project import SG2_KW, tiny  # noqa: E402
from test_render_cli import cli  # noqa: E402

from interpolate import sefa  # noqa: E402
from interpolate.formats.native import save_native  # noqa: E402
from interpolate.paths import plan_path  # noqa: E402
from interpolate.paths.spec import PathSpec, Timing, Truncation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("dirs")
    G = tiny("stylegan2", SG2_KW)
    ckpt = save_native(d / "g.pt", G, init_kwargs=SG2_KW)
    coarse, fine = sefa(G, "coarse"), sefa(G, "middle")   # "fine": the middle layers here (no fine layers at 32 px)
    coarse.save(d / "coarse.npz")
    fine.save(d / "fine.npz")
    return G, str(ckpt), d / "coarse.npz", d / "fine.npz", coarse, fine


def ws_of(G, keys, direction=None, strength=None, loop=False, psi=1.0) -> np.ndarray:
    spec = PathSpec(interp="cubic", direction=direction, strength=strength,
                    timing=Timing(fps=10, frames=5, loop=loop), truncation=Truncation(psi=psi))
    path = plan_path(G, keys, spec)
    return path.ws_frames(0, path.num_frames).astype(np.float64)


@pytest.mark.parametrize("loop", [False, True])
def test_two_directions_are_the_sum_of_their_edits(setup, loop):
    G, _, _, _, coarse, fine = setup
    plain = ws_of(G, [3, 17], loop=loop)
    for second in ((fine, 0), (coarse, 3)):                   # other layers; the same layers
        a = ws_of(G, [3, 17], (coarse, 1), "1:2", loop)
        b = ws_of(G, [3, 17], second, "-1.5", loop)
        both = ws_of(G, [3, 17], [(coarse, 1), second], ["1:2", "-1.5"], loop)
        assert np.allclose(both, plain + (a - plain) + (b - plain), atol=1e-5)
        assert not np.allclose(both, a, atol=1e-3) and not np.allclose(both, b, atol=1e-3)


def test_the_edits_come_before_truncation(setup):
    G, _, _, _, coarse, fine = setup
    w_avg = G.w_avg.double().numpy()
    untruncated = ws_of(G, [3, 17], [(coarse, 1), (fine, 2)], ["2", "-1:1"])
    truncated = ws_of(G, [3, 17], [(coarse, 1), (fine, 2)], ["2", "-1:1"], psi=0.5)
    assert np.allclose(truncated, w_avg + 0.5 * (untruncated - w_avg), atol=1e-5)


def test_one_direction_in_list_form_is_the_single_form_bit_for_bit(setup):
    G, _, path, _, coarse, _ = setup
    for single, listed in (((f"{path}:1", "-2:3"), ([f"{path}:1"], ["-2:3"])),
                           (((coarse, 2), (-1.0, 2.0)), ([(coarse, 2)], (-1.0, 2.0))),
                           (((coarse, 2), None), ([(coarse, 2)], None))):
        for loop in (False, True):
            a = plan_path(G, [3, 17], PathSpec(direction=single[0], strength=single[1], timing=Timing(frames=4, loop=loop)))
            b = plan_path(G, [3, 17], PathSpec(direction=listed[0], strength=listed[1], timing=Timing(frames=4, loop=loop)))
            assert a.ws_frames(0, a.num_frames).tobytes() == b.ws_frames(0, b.num_frames).tobytes()


def test_a_walk_on_one_key_walks_every_direction_together(setup):
    G, _, _, _, coarse, fine = setup
    ws = ws_of(G, [3], [(coarse, 1), (fine, 0)], ["-2:3", "1:-1"])
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim)).float()
    w = G.mapping(z).double().numpy()[0]
    assert len(ws) == 6
    assert np.allclose(ws[0], w + coarse.offset(1, -2.0) + fine.offset(0, 1.0), atol=1e-5)
    assert np.allclose(ws[-1], w + coarse.offset(1, 3.0) + fine.offset(0, -1.0), atol=1e-5)


def test_cli_repeated_directions_record_and_replay(tmp_path, setup):
    G, ckpt, cpath, fpath, coarse, fine = setup
    gif, plan = tmp_path / "d.gif", tmp_path / "d.npz"
    args = ["--seeds", "3,17", "--frames", 5, "--fps", 10, "--psi", 1, "--direction", f"{cpath}:1", "--strength", "1:2",
            "--direction", f"{fpath}:0", "--strength", "-1.5"]
    assert cli("render", ckpt, *args, "-o", gif, "--save-latents", plan, "-q") == 0
    recorded = json.loads((tmp_path / "d.gif.json").read_text())
    assert recorded["options"]["direction"] == [f"{cpath}:1", f"{fpath}:0"]
    assert recorded["options"]["strength"] == ["1:2", "-1.5"]
    assert [w["direction"] for w in recorded["path"]["direction_walks"]] == [f"{cpath}:1", f"{fpath}:0"]
    with np.load(plan) as data:
        saved = data["ws"].astype(np.float64)
    assert np.array_equal(saved, ws_of(G, [3, 17], [(coarse, 1), (fine, 0)], ["1:2", "-1.5"]))
    again, replay = tmp_path / "again.gif", tmp_path / "replay.gif"
    assert cli("render", "--from", tmp_path / "d.gif.json", "-o", again, "-q") == 0
    assert cli("render", ckpt, "--from-latents", plan, "-o", replay, "-q") == 0
    assert again.read_bytes() == gif.read_bytes() == replay.read_bytes()


def test_an_old_single_form_sidecar_still_replays(tmp_path, setup):
    _, ckpt, cpath, _, _, _ = setup
    gif = tmp_path / "one.gif"
    assert cli("render", ckpt, "--seeds", "3,17", "--frames", 3, "--direction", f"{cpath}:1", "--strength", "-1:2",
               "-o", gif, "-q") == 0
    sidecar = tmp_path / "one.gif.json"
    data = json.loads(sidecar.read_text())
    assert data["options"]["direction"] == f"{cpath}:1" and data["options"]["strength"] == "-1:2"
    assert "direction_walk" in data["path"] and "direction_walks" not in data["path"]
    data["options"]["strength"] = "-1:2"                          # as sidecars before lists wrote it
    sidecar.write_text(json.dumps(data))
    again = tmp_path / "again.gif"
    assert cli("render", "--from", sidecar, "-o", again, "-q") == 0
    assert again.read_bytes() == gif.read_bytes()


def test_presets_and_batch_jobs_take_direction_lists(tmp_path, setup):
    from interpolate.batch.jobs import load_jobs

    _, ckpt, cpath, fpath, _, _ = setup
    flags = ["--seeds", "3,17", "--frames", 3, "-q"]
    typed = tmp_path / "typed.gif"
    assert cli("render", ckpt, *flags, "--direction", f"{cpath}:1", "--strength", "1:2", "--direction", f"{fpath}:0",
               "--strength", "-1", "-o", typed) == 0
    preset = tmp_path / "both.toml"
    preset.write_text(f'direction = ["{cpath}:1", "{fpath}:0"]\nstrength = ["1:2", -1]\n')
    from_preset = tmp_path / "preset.gif"
    assert cli("render", ckpt, *flags, "--preset", preset, "-o", from_preset) == 0
    assert from_preset.read_bytes() == typed.read_bytes()
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f'keys,direction,strength,output\n"3,17","{cpath}:1,{fpath}:0","1:2,-1",a.gif\n'
                    f'"3,17",{cpath}:2,-2:2,b.gif\n')
    a, b = load_jobs(jobs)
    assert a.error is None and a.options.direction == [f"{cpath}:1", f"{fpath}:0"] and a.options.strength == ["1:2", "-1"]
    assert b.options.direction == f"{cpath}:2" and b.options.strength == "-2:2"


@pytest.mark.parametrize("args,words", [
    (["--direction", "C:1", "--direction", "F:0", "--strength", "1"], "2 --direction and 1 --strength given"),
    (["--direction", "C:1", "--strength", "1", "--strength", "2"], "1 --direction and 2 --strength given"),
    (["--direction", "C:1", "--direction", "F:99"], "direction 99 is out of range"),
    (["--strength", "1", "--strength", "2"], "--strength needs --direction"),
])
def test_bad_direction_lists_are_one_line_and_write_nothing(tmp_path, setup, capsys, args, words):
    _, ckpt, cpath, fpath, _, _ = setup
    args = [a.replace("C:", f"{cpath}:").replace("F:", f"{fpath}:") for a in args]
    out = tmp_path / "x.gif"
    assert cli("render", ckpt, "--seeds", "3,17", "--frames", 2, *args, "-o", out) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not list(tmp_path.iterdir())
