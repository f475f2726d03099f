"""One clip across workers, through the CLI: `render --shard I/N` parts joined == one render; bad input."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from interpolate.render.ffmpeg import ffmpeg_exe
from test_render_cli import cli  # noqa: E402  (the console script's entry point; its exit code)

CLIP = ["--seeds", "1,2,3", "--frames", "7", "--loop", "--label", "-q"]     # 21 frames: parts of 7; captions by frame
SIZE = ["--size", "native"]     # models under 256 px are upscaled by default; compare the native frames


def render(*args) -> None:
    assert cli("render", *CLIP, *SIZE, *args) == 0


def read_video(path) -> np.ndarray:
    import imageio.v2 as iio

    with iio.get_reader(str(path)) as reader:
        return np.stack([np.asarray(f)[..., :3] for f in reader])


def read_frames(folder) -> np.ndarray:
    import imageio.v2 as iio

    return np.stack([iio.imread(p)[..., :3] for p in sorted(Path(folder).glob("*.png"))])


def keyframes(path) -> list[int]:
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-vf", "showinfo", "-f", "null", "-"],
                          capture_output=True, text=True).stderr
    return [int(m.group(1)) for m in re.finditer(r"n:\s*(\d+).*?iskey:1", info)]


def psnr(a, b) -> float:
    mse = ((a.astype(np.float64) - b) ** 2).mean()
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> np.ndarray:
    """The clip rendered in one process, as PNG frames."""
    out = tmp_path_factory.mktemp("truth") / "frames"
    render("-o", f"{out}/")
    return read_frames(out)


def test_three_png_shards_join_into_the_same_frames(tmp_path, truth):
    for i in (2, 0, 1):                             # any order: the last to finish joins
        render("--shard", f"{i}/3", "-o", f"{tmp_path}/frames/")
    joined = read_frames(tmp_path / "frames")
    assert joined.shape == truth.shape == (21, *truth.shape[1:])
    assert np.array_equal(joined, truth)
    side = json.loads((tmp_path / "frames.json").read_text())
    assert side["output"]["frames"] == 21 and side["joined"]["parts"] == 3 and "shard" not in side


def test_three_mp4_shards_join_by_stream_copy(tmp_path, truth):
    render("-o", tmp_path / "one.mp4")
    for i in range(3):
        render("--shard", f"{i}/3", "-o", tmp_path / "clip.mp4")
    one, joined = read_video(tmp_path / "one.mp4"), read_video(tmp_path / "clip.mp4")
    assert joined.shape == one.shape == truth.shape
    assert keyframes(tmp_path / "clip.mp4") == [0, 7, 14]          # each part starts with an IDR frame
    q_one = [psnr(one[k], truth[k]) for k in range(21)]
    q_joined = [psnr(joined[k], truth[k]) for k in range(21)]
    for k in (6, 7, 13, 14):                         # at the seams: as good as the one-pass encode, nearly
        assert q_joined[k] > q_one[k] - 2.0, (k, q_joined[k], q_one[k])
    assert min(q_joined) > min(q_one) - 2.0
    side = json.loads((tmp_path / "clip.mp4.json").read_text())
    assert side["output"]["frames"] == 21 and side["options"]["output"] == str(tmp_path / "clip.mp4")
    # the join command by hand gives the same file, and a retry of a part leaves the clip as it is
    parts = sorted(str(p) for p in tmp_path.glob("clip.part-*-of-3.mp4"))
    assert cli("join", *parts, "-o", tmp_path / "again.mp4", "-q") == 0
    assert (tmp_path / "again.mp4").read_bytes() == (tmp_path / "clip.mp4").read_bytes()
    before = (tmp_path / "clip.mp4").stat().st_mtime_ns
    render("--shard", "1/3", "-o", tmp_path / "clip.mp4")
    assert (tmp_path / "clip.mp4").stat().st_mtime_ns == before


@pytest.mark.parametrize("flags, message", [
    (["--shard", "3/3", "-o", "c.mp4"], "I counts from 0"),
    (["--shard", "one", "-o", "c.mp4"], "must be I/N"),
    (["--shard", "0/2", "-o", "c.gif"], "needs the whole clip"),
    (["--shard", "0/50", "-o", "c.mp4"], "at most 21 parts"),
    (["--shard", "0/2", "--ray", "auto", "-o", "c.mp4"], "pass one of them"),
])
def test_bad_shard_specs_are_one_line_errors(tmp_path, monkeypatch, capsys, flags, message):
    monkeypatch.chdir(tmp_path)
    assert cli("render", *CLIP, *SIZE, *flags) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_join_refuses_missing_repeated_and_foreign_parts(tmp_path, capsys):
    render("--shard", "0/2", "-o", tmp_path / "a.mp4")
    assert cli("render", "--seeds", "1,3", "--frames", "7", "--loop", "-q", *SIZE, "--shard", "1/2",
               "-o", tmp_path / "b.mp4") == 0                                   # another plan
    a0, b1 = tmp_path / "a.part-0-of-2.mp4", tmp_path / "b.part-1-of-2.mp4"
    capsys.readouterr()
    for parts, message in [([a0], "missing part 1 of 2"), ([a0, a0], "given twice"),
                           ([a0, b1], "belongs to another render"),
                           ([a0, tmp_path / "nope.mp4"], "does not exist"),
                           ([tmp_path / "a.part-0-of-2.mp4.json"], "has no sidecar")]:
        assert cli("join", *parts, "-o", tmp_path / "out.mp4") == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out.mp4*"))


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 3 CPUs (3 workers), started once for the module's Ray tests."""
    ray = pytest.importorskip("ray", reason="Ray is the optional [ray] extra: pip install 'waifu-morph[ray]'")
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_splits_one_clip_across_workers(tmp_path, truth, local_ray):
    render("--ray", "auto", "-o", f"{tmp_path}/frames/")
    assert np.array_equal(read_frames(tmp_path / "frames"), truth)
    assert json.loads((tmp_path / "frames.json").read_text())["joined"]["parts"] == 3     # one per worker
    assert not list(tmp_path.glob("frames.part-*"))          # the driver removes its parts


def test_ray_with_more_workers_than_frames_renders_fewer_parts(tmp_path, local_ray, capsys):
    short = ["--seeds", "1,2", "--frames", "1", "--loop", "--size", "native"]       # 2 frames, 3 workers
    assert cli("render", *short, "-q", "-o", f"{tmp_path}/one/") == 0
    assert cli("render", *short, "--ray", "auto", "-o", tmp_path / "ray.mp4") == 0
    assert cli("render", *short, "-q", "--ray", "auto", "-o", f"{tmp_path}/frames/") == 0
    said = capsys.readouterr()
    assert "rendered 2 frames in 2 parts on Ray" in said.out + said.err
    assert np.array_equal(read_frames(tmp_path / "frames"), read_frames(tmp_path / "one"))
    assert len(read_video(tmp_path / "ray.mp4")) == 2
    assert json.loads((tmp_path / "ray.mp4.json").read_text())["joined"]["parts"] == 2
    assert not list(tmp_path.glob("*.part-*"))
