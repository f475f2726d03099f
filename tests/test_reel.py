"""Reels: segments chained into one path that continues through each join; titles; one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakes import FakeGenerator  # noqa: E402

from interpolate.batch.reel import draw_title, group_segments, load_reel, plan_reel  # noqa: E402
from interpolate.errors import WaifuError  # noqa: E402
from interpolate.paths import load_keys, style_groups  # noqa: E402

REEL = """
[reel]
output = "reel.mp4"
fps = 10
psi = 0.8

[[segment]]
keys = "3,17"
preset = "color-cycle"         # fine styles; its loop is not used in a reel
title = "Colours"
duration = 1.0

[[segment]]
keys = "17,42"                 # repeats the previous last key: dropped
style = "fine"
seconds = 1.0

[[segment]]
keys = [8, 9]
preset = "pose-sweep"
title = "Pose"
"""


def write(tmp_path, text, name="reel.toml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def steps(ws: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(ws.astype(np.float64), axis=0).reshape(len(ws) - 1, -1), axis=1)


@pytest.fixture
def G():
    return FakeGenerator()


def test_three_segments_chain_into_one_continuous_path(tmp_path, G):
    reel = load_reel(write(tmp_path, REEL))
    assert [s.options.style for s in reel.segments] == ["fine", "fine", "coarse"]
    assert reel.options.output == str(tmp_path / "reel.mp4") and reel.options.loop is False
    assert [len(g) for g in group_segments(reel.segments)] == [2, 1]          # same shape -> one path
    path = plan_reel(G, reel)
    assert path.key_labels == ["3", "17", "42", "8", "9"]
    assert path.num_frames == 10 + 10 + (2 * 20 + 2 * 3) + 1 and path.fps == 10
    ws = path.ws_frames(0, path.num_frames)
    assert ws.shape == (path.num_frames, G.num_ws, G.w_dim)
    # chunked evaluation gives the same frames
    assert np.array_equal(np.concatenate([path.chunk(s, s + 7).ws.numpy() for s in range(0, path.num_frames, 7)]), ws)
    # no jump anywhere: the largest step is bounded by the motion inside the segments
    d = steps(ws)
    join = int(path.groups[1].first_frame)
    assert d[join - 1] < d.max() and d[join] < d.max()
    # the fine segment moved only fine layers; the coarse one starts where it ended
    groups = style_groups(G)
    fine, coarse = groups["fine"], groups["coarse"]
    assert np.array_equal(ws[:join + 1, coarse], np.broadcast_to(ws[0, coarse], ws[:join + 1, coarse].shape))
    assert not np.array_equal(ws[join, fine], ws[0, fine])
    assert np.array_equal(ws[join:, fine], np.broadcast_to(ws[join, fine], ws[join:, fine].shape))
    # titles at the starts of their segments, faded in
    assert path.titles == [(0, 20, "Colours"), (join, 20, "Pose")]
    assert path.title_at(0)[0] == "Colours" and path.title_at(0)[1] < path.title_at(5)[1] == 1.0
    assert path.title_at(join + 20) is None and path.title_at(join + 19)[0] == "Pose"


def test_keys_are_shown_exactly_with_the_reel_truncation(G):
    reel_text = REEL.replace("psi = 0.8", "psi = 1.0")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = plan_reel(G, load_reel(write(Path(d), reel_text)))
    keys = {k.label: k.w for k in load_keys(G, ["3,17,42,8,9"])}
    ws = path.ws_frames(0, path.num_frames)
    groups = style_groups(G)
    fine, coarse = groups["fine"], groups["coarse"]
    kf = path.key_frames
    np.testing.assert_array_equal(ws[kf[0]], keys["3"].astype(np.float32))
    np.testing.assert_array_equal(ws[kf[2], fine], keys["42"][fine].astype(np.float32))
    np.testing.assert_array_equal(ws[kf[4], coarse], keys["9"][coarse].astype(np.float32))
    np.testing.assert_array_equal(ws[kf[4], fine], keys["42"][fine].astype(np.float32))


def _accel(flat: np.ndarray, k: int) -> float:
    return float(np.linalg.norm(flat[k + 1] - 2 * flat[k] + flat[k - 1]))


def test_same_style_join_is_c1_a_style_change_is_continuous(tmp_path, G):
    text = """
[reel]
fps = 20
[[segment]]
keys = "1,2"
[[segment]]
keys = "3"
stagger = STAGGER
[[segment]]
keys = "4"
style = "coarse"
"""
    one = plan_reel(G, load_reel(write(tmp_path, text.replace("STAGGER", "0.5"))))
    two = plan_reel(G, load_reel(write(tmp_path, text.replace("STAGGER", "0.25"))))   # shape differs: split
    assert [len(g.segments) for g in one.groups] == [2, 1] and [len(g.segments) for g in two.groups] == [1, 1, 1]
    j = int(one.key_frames[1])                     # the join of segments 1 and 2 (frame 40 in both)
    assert j == int(two.key_frames[1]) == 40
    a = one.ws_frames(0, one.num_frames).astype(np.float64).reshape(one.num_frames, -1)
    b = two.ws_frames(0, two.num_frames).astype(np.float64).reshape(two.num_frames, -1)
    # one spline through the join: the velocity changes there no more than at the frames around it
    assert _accel(a, j) < 2 * max(_accel(a, j - 3), _accel(a, j + 3))
    # planned apart, the velocity kinks at the join (C0 only): what merging avoids
    assert _accel(b, j) > 3 * _accel(a, j)
    # a style change: continuous (no step larger than the motion around it)
    j2 = int(one.groups[1].first_frame)
    d = steps(a.reshape(one.num_frames, G.num_ws, G.w_dim))
    assert d[j2] < 1.5 * max(d[j2 - 1], d[j2 + 1])


@pytest.mark.parametrize("text, match", [
    ("[[segment]]\nkeys='1,2'\npsi = 0.5\n", r"'psi' in segment 1 of .* is reel-wide .* move it to \[reel\]"),
    ("[[segment]]\nkeys='1,2'\nstlye='fine'\n", r"unknown key 'stlye' in segment 1 .* did you mean 'style'"),
    ("[reel]\nfps='x'\n[[segment]]\nkeys='1,2'\n", r"'fps' in \[reel\] of .* must be a number"),
    ("[[segment]]\nkeys='1,2'\n[[segment]]\nkeys='2'\n", r"segment 2 .* has no key to travel to"),
    ("[[segment]]\nkeys='1,2'\nduration=0\n", r"'duration' in segment 1 .* must be > 0"),
    ("[[segment]]\nkeys='1,2'\ntitle=3\n", r"'title' in segment 1 .* must be a string"),
    ("[reel]\nfps=10\n", r"has no segments"),
    ("[reel]\nkeys='1,2'\n[[segment]]\nstyle='fine'\n", r"'keys' in \[reel\] .* belong to the segments"),
    ("[[segment]]\nkeys='1,2'\npreset='nope'\n", r"unknown preset 'nope'"),
])
def test_bad_reels_are_one_line_errors(tmp_path, G, text, match):
    with pytest.raises(WaifuError, match=match):
        plan_reel(G, load_reel(write(tmp_path, text)))


def test_title_is_drawn_in_a_band_and_fades():
    frame = np.full((64, 96, 3), 200, np.uint8)
    full, faint = draw_title(frame, "Hi"), draw_title(frame, "Hi", 0.2)
    assert full.shape == frame.shape and full.dtype == np.uint8
    band = full[int(64 * 0.6):int(64 * 0.85)]
    assert (band != 200).any() and np.array_equal(full[:20], frame[:20])
    assert np.abs(faint.astype(int) - 200).sum() < np.abs(full.astype(int) - 200).sum()


# --- end to end: the `reel` command on a tiny StyleGAN2 ---------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"))


def read_frames(path) -> np.ndarray:
    """A GIF/MP4 file's frames, or the PNGs of a frames folder, as int16 [N, H, W, 3]."""
    import imageio.v2 as iio

    path = Path(path)
    if path.is_dir():
        return np.stack([iio.imread(p)[..., :3] for p in sorted(path.glob("*.png"))]).astype(np.int16)
    with iio.get_reader(str(path)) as reader:
        return np.stack([np.asarray(f)[..., :3] for f in reader]).astype(np.int16)


def test_reel_command_renders_three_segments_into_one_video(tmp_path, tiny_checkpoint):
    from interpolate.cli import main

    text = REEL.replace("fps = 10", f"fps = 8\ncheckpoint = '{tiny_checkpoint}'\nsize = '64x64'").replace(
        "duration = 1.0", "duration = 0.5").replace("seconds = 1.0", "seconds = 0.5")
    text = text.replace('title = "Pose"', 'title = "Pose"\ntitle_seconds = 0.25').replace(
        'title = "Colours"', 'title = "Colours"\ntitle_seconds = 0.25') + "seconds = 0.25\nhold = 0.0\n"
    f = write(tmp_path, text)
    G = __import__("interpolate.loading", fromlist=["x"]).load_generator(tiny_checkpoint, device="cpu")
    planned = plan_reel(G, load_reel(f))
    for name, body in (("titled", text), ("plain", text.replace('title = "Pose"', "").replace('title = "Colours"', ""))):
        write(tmp_path, body, "r.toml")
        with pytest.raises(SystemExit) as exit_info:
            main(["reel", str(tmp_path / "r.toml"), "-o", str(tmp_path / name), "--quiet"])
        assert exit_info.value.code in (0, None)
    titled, plain = read_frames(tmp_path / "titled"), read_frames(tmp_path / "plain")   # lossless PNG frames
    assert titled.shape == plain.shape == (planned.num_frames, 64, 64, 3)
    diff = np.abs(titled - plain).mean(axis=(2, 3))              # per frame and row
    band = slice(int(64 * 0.6), int(64 * 0.85))
    with_title = [i for i in range(planned.num_frames) if planned.title_at(i)]
    without = [i for i in range(planned.num_frames) if not planned.title_at(i)]
    assert with_title and without
    in_band, above = diff[with_title][:, band].mean(), diff[with_title][:, :band.start].mean()
    assert in_band > 10 and in_band > 2 * above
    assert diff[without].max() == 0
