"""Per-key hold: `render --hold 0,1.5,0` (one per key, in key order), `hold = [0, 1.5, 0]` in presets,
reels and batch jobs, `Timing(hold=(0, 1.5, 0))` in Python. A key is shown exactly on
round(hold * fps) + 1 frames; the clip's length follows; a uniform list is the scalar's plan bit for
bit; the sidecar and --save-latents replay it; bad values are one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from test_project import SG2_KW, tiny  # noqa: E402
from test_render_cli import cli  # noqa: E402

from interpolate.errors import WaifuError  # noqa: E402
from interpolate.formats.native import save_native  # noqa: E402
from interpolate.paths import LatentPath, plan_path  # noqa: E402
from interpolate.paths.spec import PathSpec, Timing, Truncation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("hold")
    G = tiny("stylegan2", SG2_KW)
    return G, str(save_native(d / "g.pt", G, init_kwargs=SG2_KW))


def spec(hold, **timing) -> PathSpec:
    return PathSpec(interp="linear", timing=Timing(fps=10, frames=4, hold=hold, **timing), truncation=Truncation(psi=1))


def runs_of_equal(ws: np.ndarray) -> list[int]:
    """Lengths of the runs of bit-identical consecutive frames."""
    runs = [1]
    for a, b in zip(ws[:-1], ws[1:]):
        if np.array_equal(a, b):
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def frames_of(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


def test_cli_hold_per_key_shows_each_key_for_its_frames_and_sizes_the_clip(tmp_path, setup):
    G, ckpt = setup
    out, plan = tmp_path / "frames", tmp_path / "plan.npz"
    assert cli("render", ckpt, "--seeds", "1,2,3", "--interp", "linear", "--frames", 4, "--fps", 10, "--psi", 1,
               "--hold", "0,1.5,0", "--size", "native", "-o", f"{out}/", "--save-latents", plan, "-q") == 0
    # key 0: 1 frame, 4 moving, key 1: 15 + 1 frames, 4 moving, key 2: 1 frame
    with np.load(plan) as data:
        ws, key_frames, meta = data["ws"], data["key_frames"], json.loads(str(data["meta"]))
    assert len(ws) == 1 + 3 + 16 + 3 + 1 == 24 and key_frames.tolist() == [0, 4, 23]
    assert runs_of_equal(ws) == [1, 1, 1, 1, 16, 1, 1, 1, 1]
    assert meta["hold_frames"] == [0, 15, 0] and meta["params"]["hold"] == [0.0, 1.5, 0.0]
    png = frames_of(out)
    assert len(png) == 24
    assert all(np.array_equal(png[4], png[k]) for k in range(4, 20))
    assert not np.array_equal(png[3], png[4]) and not np.array_equal(png[19], png[20])


def test_without_loop_the_last_keys_hold_is_the_still_the_clip_ends_on(setup):
    G, _ = setup
    path = plan_path(G, [1, 2, 3], spec((0.0, 0.0, 1.0)))
    ws = path.ws_frames(0, path.num_frames)
    assert path.num_frames == 4 + 4 + 11 and path.key_frames.tolist() == [0, 4, 8]
    assert runs_of_equal(ws)[-1] == 11 and path.label(path.num_frames - 1) == "3"


def test_with_loop_each_key_holds_before_it_leaves_and_key_0_opens_the_clip(setup):
    G, _ = setup
    path = plan_path(G, [1, 2], spec((0.5, 0.2), loop=True))
    ws = path.ws_frames(0, path.num_frames)
    # key 0 on frames 0-5, 3 frames towards key 1, key 1 on 9-11, 3 frames back (key 0 would come at 15)
    assert path.num_frames == 15 and path.key_frames.tolist() == [0, 9]
    assert runs_of_equal(ws) == [6, 1, 1, 1, 3, 1, 1, 1]


def test_a_uniform_list_is_the_scalars_plan_bit_for_bit(setup):
    G, _ = setup
    for loop in (False, True):
        a = plan_path(G, [1, 2, 3], spec(0.3, loop=loop))
        b = plan_path(G, [1, 2, 3], spec((0.3, 0.3, 0.3), loop=loop))
        assert a.timeline == b.timeline and a.num_frames == b.num_frames
        assert a.ws_frames(0, a.num_frames).tobytes() == b.ws_frames(0, b.num_frames).tobytes()


def test_the_hold_moves_with_its_key_when_the_keys_are_shuffled(setup):
    G, _ = setup
    path = plan_path(G, [1, 2, 3], PathSpec(shuffle_seed=4, timing=Timing(fps=10, frames=3, hold=(0.0, 0.8, 0.0))))
    at = path.key_labels.index("2")
    assert path.key_labels != ["1", "2", "3"]
    assert path.timeline.holds.tolist() == [8 if i == at else 0 for i in range(3)]


def test_sidecar_and_latents_replay_a_per_key_hold(tmp_path, setup):
    G, ckpt = setup
    gif, plan = tmp_path / "h.gif", tmp_path / "h.npz"
    assert cli("render", ckpt, "--seeds", "1,2,3", "--frames", 3, "--hold", "0.4,0,0.2", "--loop", "-o", gif,
               "--save-latents", plan, "-q") == 0
    assert json.loads((tmp_path / "h.gif.json").read_text())["options"]["hold"] == [0.4, 0.0, 0.2]
    again = tmp_path / "again.gif"
    assert cli("render", "--from", tmp_path / "h.gif.json", "-o", again, "-q") == 0
    assert again.read_bytes() == gif.read_bytes()
    replay = tmp_path / "replay.gif"
    assert cli("render", ckpt, "--from-latents", plan, "-o", replay, "-q") == 0
    assert replay.read_bytes() == gif.read_bytes()
    back = LatentPath.from_latents(plan, G)
    assert back.timeline.hold_frames == (12, 0, 6)
    fresh = plan_path(G, [1, 2, 3], PathSpec(timing=Timing(fps=30, frames=3, hold=(0.4, 0.0, 0.2), loop=True)))
    assert back.ws_frames(0, back.num_frames).tobytes() == fresh.ws_frames(0, fresh.num_frames).tobytes()
    resaved = tmp_path / "resaved.npz"
    back.save_latents(resaved)
    with np.load(plan) as a, np.load(resaved) as b:
        assert a["ws"].tobytes() == b["ws"].tobytes()
        assert json.loads(str(a["meta"]))["hold_frames"] == json.loads(str(b["meta"]))["hold_frames"] == [12, 0, 6]


def test_a_scalar_hold_still_writes_and_reads_one_number(tmp_path, setup):
    G, _ = setup
    plan = tmp_path / "old.npz"
    plan_path(G, [1, 2], spec(0.2)).save_latents(plan)
    with np.load(plan) as data:
        assert json.loads(str(data["meta"]))["hold_frames"] == 2
    assert LatentPath.from_latents(plan, G).timeline.hold_frames == 2


def test_presets_batch_csv_and_reels_take_a_hold_list(tmp_path, setup):
    from interpolate.batch.jobs import load_jobs
    from interpolate.batch.reel import load_reel, plan_reel

    G, ckpt = setup
    preset = tmp_path / "pause.toml"
    preset.write_text('description = "pause on the middle key"\nhold = [0, 1.5, 0]\nframes = 4\n')
    out = tmp_path / "p"
    assert cli("render", ckpt, "--seeds", "1,2,3", "--preset", preset, "--fps", 10, "--size", "native",
               "-o", f"{out}/", "-q") == 0
    assert len(frames_of(out)) == 24
    jobs = tmp_path / "jobs.csv"
    jobs.write_text('keys,hold,output\n"1,2,3","0,1.5,0",a.gif\n"1,2",0.5,b.gif\n')
    a, b = load_jobs(jobs)
    assert a.error is None and a.options.hold == [0.0, 1.5, 0.0] and b.options.hold == 0.5
    reel = tmp_path / "r.toml"
    reel.write_text(f'[reel]\ncheckpoint = "{ckpt}"\nfps = 10\n\n[[segment]]\nkeys = "1,2"\nframes = 4\n'
                    f'hold = [0, 1]\n\n[[segment]]\nkeys = "2,3"\nframes = 4\nhold = [5, 0.5]\n')
    path = plan_reel(G, load_reel(reel))
    # 1 (0 held) -> 2 (held 10) -> 3 (held 5): the repeated key 2's entry (5) is not used
    assert path.key_frames.tolist() == [0, 4, 18] and path.num_frames == 18 + 5 + 1


@pytest.mark.parametrize("hold,words", [("0,1", "2 holds for 3 keys"), ("0,-1,0", "--hold must be >= 0"),
                                        ("0,nan,0", "--hold must be a finite number"), ("x", "--hold takes seconds"),
                                        ("-0.5", "--hold must be >= 0")])
def test_bad_holds_are_one_line_and_write_nothing(tmp_path, setup, capsys, hold, words):
    _, ckpt = setup
    out = tmp_path / "x.gif"
    assert cli("render", ckpt, "--seeds", "1,2,3", "--frames", 2, "--hold", hold, "-o", out) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_beat_keys_refuse_a_per_key_hold_in_one_line(tmp_path, setup, capsys):
    _, ckpt = setup
    assert cli("render", ckpt, "--seeds", "1,2", "--audio", tmp_path / "song.wav", "--hold", "0,1",
               "-o", tmp_path / "x.mp4") == 2
    err = capsys.readouterr().err
    assert "one --hold for every key" in err and len(err.strip().splitlines()) == 1, err


def test_a_grid_splits_the_holds_with_the_keys(setup):
    from interpolate.options import RenderOptions
    from interpolate.render.video import plan_render

    G, ckpt = setup
    opts = RenderOptions(checkpoint=ckpt, keys=["1,2,3,4"], grid="2x1", frames=3, fps=10, hold=[0, 1, 0.5, 0])
    paths, cols, rows = plan_render(G, opts)
    assert (cols, rows) == (2, 1) and [p.timeline.holds.tolist() for p in paths] == [[0, 10], [5, 0]]
    with pytest.raises(WaifuError, match="3 holds for 4 keys"):
        plan_render(G, RenderOptions(checkpoint=ckpt, keys=["1,2,3,4"], grid="2x1", hold=[0, 1, 0]))
