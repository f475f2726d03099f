"""Batch jobs: TOML/CSV parsing, layering, shards, resume checks, isolated failures, summary, CLI."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from interpolate.batch import jobs as J
from interpolate.batch import runner as R
from interpolate.errors import WaifuError
from interpolate.options import RenderOptions

JOBS_TOML = """
[defaults]
checkpoint = "models/tiny.pt"
preset = "discord-gif"
seconds = 0.5

[[job]]
keys = "3,17,42"
output = "out/a.gif"

[[job]]
name = "vertical"
keys = [5, 6]
preset = "reel-vertical"
output = "out/b.mp4"
fps = 12

[[job]]
keys = "7,8"
output = "/abs/c.gif"
x264_preset = "slow"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_toml_jobs_layer_presets_defaults_and_job_values(tmp_path):
    jobs = J.load_jobs(write(tmp_path / "jobs.toml", JOBS_TOML))
    assert [j.index for j in jobs] == [0, 1, 2]
    a, b, c = (j.options for j in jobs)
    assert a.max_size == "10MB" and a.size == "512x512" and a.seconds == 0.5 and a.keys == ["3,17,42"]
    assert a.output == str(tmp_path / "out/a.gif") and a.checkpoint == str(tmp_path / "models/tiny.pt")
    assert jobs[0].name == "a.gif" and jobs[1].name == "vertical"
    assert b.size == "1080x1920" and b.fps == 12.0 and b.max_size == "10MB" and b.keys == ["5", "6"]
    assert c.output == "/abs/c.gif" and c.x264_preset == "slow"


def test_csv_jobs_convert_cells_by_field_type(tmp_path):
    f = write(tmp_path / "jobs.csv", 'keys,output,seconds,loop,frames,durations,preset\n'
                                     '"3,17",a.gif,1.5,true,,,\n'
                                     '5 6 7,b.webp,,no,4,"0.5,1",x-gif\n')
    a, b = J.load_jobs(f)
    assert a.options.keys == ["3,17"] and a.options.seconds == 1.5 and a.options.loop is True and a.options.frames is None
    assert b.options.keys == ["5 6 7"] and b.options.loop is False and b.options.frames == 4
    assert b.options.durations == [0.5, 1.0] and b.options.max_size == "15MB" and b.options.output.endswith("b.webp")


@pytest.mark.parametrize("name, text, match", [
    ("j.toml", "[[job]]\noutput = 'a.gif'\n[[job]]\noutput = 'a.gif'\n", r"job 2 .* and job 1 .* both write"),
    ("j.toml", "[job]\noutput = 'a.gif'\n", r"must be tables"),
    ("j.toml", "[defaults]\nfps = 3\n", r"has no jobs"),
    ("j.toml", "[defaults]\nfsp = 3\n[[job]]\noutput = 'a.gif'\n", r"unknown key 'fsp' in \[defaults\] .*'fps'"),
    ("j.toml", "[[jobz]]\n", r"unknown top-level key"),
    ("j.toml", "[[job]\n", r"is not valid TOML"),
    ("j.csv", "output\na.gif,b\n", r"line 2 .* more cells than the header"),
    ("j.json", "{}", r"must be .toml or .csv"),
])
def test_bad_job_files_are_one_line_errors(tmp_path, name, text, match):
    with pytest.raises(WaifuError, match=match):
        J.load_jobs(write(tmp_path / name, text))


@pytest.mark.parametrize("name, text, match", [
    ("j.toml", "[[job]]\nkeys = '1,2'\n", r"job 2 of '.*j.toml' has no 'output'"),
    ("j.toml", "[[job]]\nkeys = '1,2'\noutput = 'a.gif'\nstlye = 'fine'\n", r"unknown key 'stlye' in job 2 .*did you mean 'style'"),
    ("j.toml", "[[job]]\noutput = 'a.gif'\nfps = 'fast'\n", r"'fps' in job 2 of '.*j.toml' must be a number"),
    ("j.toml", "[[job]]\noutput = 'a.gif'\npreset = 'nope'\n", r"unknown preset 'nope'; .*available: cascade"),
    ("j.csv", "output,fps\nok.gif,3\na.gif,x\n", r"'fps' in line 3 of '.*j.csv' must be a number, got 'x'"),
    ("j.csv", "output,loop\nok.gif,no\na.gif,maybe\n", r"'loop' in line 3 .* must be true or false"),
])
def test_a_bad_job_fails_alone(tmp_path, name, text, match):
    if name.endswith(".toml"):
        text = "[[job]]\noutput = 'ok.gif'\n" + text
    good, bad = J.load_jobs(write(tmp_path / name, text))
    assert good.error is None and good.options.output.endswith("ok.gif")
    assert bad.error is not None and re.search(match, bad.error) and "\n" not in bad.error
    (result,) = R.run_jobs([bad], load=Recorder().load, render=Recorder().render, quiet=True)
    assert result.status == "failed" and result.reason == bad.error


def test_shards_partition_jobs_by_file_position():
    jobs = [J.Job(index=i, name=str(i), options=RenderOptions(output=f"{i}.gif")) for i in range(10)]
    parts = [J.shard(jobs, J.parse_shard(f"{i}/3")) for i in range(3)]
    assert [[j.index for j in p] for p in parts] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert J.shard(jobs, J.parse_shard(None)) == jobs
    for bad in ("3/3", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(WaifuError, match="--shard"):
            J.parse_shard(bad)


def test_checkpoint_groups_keep_first_appearance_order():
    jobs = [J.Job(index=i, name=str(i), options=RenderOptions(output=f"{i}", checkpoint=c))
            for i, c in enumerate(["a", "b", "a", None, "b"])]
    assert [(c, [j.index for j in g]) for c, g in J.by_checkpoint(jobs)] == [("a", [0, 2]), ("b", [1, 4]), (None, [3])]


# --- the runner with a stand-in model and renderer ---------------------------------------------------
class Recorder:
    """A renderer stand-in: writes the output via temp + rename and a sidecar, or fails on key 'boom'."""

    def __init__(self):
        self.loads, self.renders = [], []

    def load(self, checkpoint, device):
        self.loads.append(checkpoint)
        if checkpoint and checkpoint.endswith("broken.pt"):
            raise WaifuError(f"'{checkpoint}' is not a checkpoint")
        return object()

    def render(self, G, opts, on_frames):
        self.renders.append(opts.output)
        if "boom" in opts.keys:
            raise WaifuError("no keyframes given; pass seeds")
        on_frames(3, 5)
        on_frames(2)
        tmp = opts.output + ".part"
        Path(tmp).write_bytes(b"x" * 100)
        os.replace(tmp, opts.output)
        Path(opts.output + ".json").write_text(json.dumps({"options": opts.to_dict()}))
        return 5


def test_runner_loads_each_checkpoint_once_isolates_failures_and_resumes(tmp_path):
    f = write(tmp_path / "jobs.toml", "\n".join(
        f"[[job]]\ncheckpoint = '{ck}'\nkeys = '{k}'\noutput = 'out/{i}.gif'\n"
        for i, (ck, k) in enumerate([("m1.pt", "1,2"), ("m2.pt", "3,4"), ("m1.pt", "boom"), ("broken.pt", "5,6"),
                                     ("m1.pt", "7,8")])))
    rec = Recorder()
    results = R.run_jobs(J.load_jobs(f), load=rec.load, render=rec.render, quiet=True)
    assert [r.status for r in results] == ["done", "done", "failed", "failed", "done"]
    assert [Path(p).name for p in rec.loads] == ["m1.pt", "m2.pt", "broken.pt"]
    assert results[2].reason == "no keyframes given; pass seeds" and "is not a checkpoint" in results[3].reason
    assert results[0].frames == 5 and results[0].size == 100
    assert not any(p.name.endswith(".part") for p in (tmp_path / "out").iterdir())

    rec2 = Recorder()                                    # a re-run renders nothing new
    again = R.run_jobs(J.load_jobs(f), load=rec2.load, render=rec2.render, quiet=True)
    assert [r.status for r in again] == ["skipped", "skipped", "failed", "failed", "skipped"]
    assert [Path(p).name for p in rec2.loads] == ["m1.pt", "broken.pt"] and len(rec2.renders) == 1

    table = R.summary_table(again)
    console = Console(record=True, width=200)
    console.print(table)
    text = console.export_text()
    assert "0 rendered, 3 skipped, 2 failed" in text and "no keyframes given" in text


def test_changed_options_are_not_skipped_nor_silently_replaced(tmp_path):
    f = write(tmp_path / "jobs.toml", "[[job]]\nkeys = '1,2'\noutput = 'a.gif'\n")
    rec = Recorder()
    R.run_jobs(J.load_jobs(f), load=rec.load, render=rec.render, quiet=True)
    write(f, "[[job]]\nkeys = '1,3'\noutput = 'a.gif'\n")
    (r,) = R.run_jobs(J.load_jobs(f), load=rec.load, render=rec.render, quiet=True)
    assert r.status == "failed" and "exists from other options (keys differ)" in r.reason
    (r,) = R.run_jobs(J.load_jobs(f), load=rec.load, render=rec.render, quiet=True, overwrite=True)
    assert r.status == "done" and json.loads((tmp_path / "a.gif.json").read_text())["options"]["keys"] == ["1,3"]
    os.unlink(tmp_path / "a.gif.json")                  # an output without its sidecar cannot be trusted
    (r,) = R.run_jobs(J.load_jobs(f), load=rec.load, render=rec.render, quiet=True)
    assert r.status == "failed" and "without its sidecar" in r.reason


# --- end to end: a tiny StyleGAN2 checkpoint, the real loader and renderer ----------------------------
SHIPPED = ("cascade", "color-cycle", "discord-gif", "pose-sweep", "reel-vertical", "seed-tour", "x-gif")
FAST = {"fps": 8.0, "seconds": 0.5, "hold": 0.0, "batch_size": 8}      # short clips


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A random 64-px StyleGAN2 (all three style groups present) saved in the native format."""
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"))


def decoded_frames(path: str) -> tuple[int, tuple[int, int]]:
    """(frame count, (width, height)) of a rendered file, read back with imageio."""
    import imageio.v2 as iio

    with (iio.get_reader(path, format="FFMPEG") if path.endswith(".mp4") else iio.get_reader(path)) as reader:
        frames = [frame for frame in reader]        # (not list(): the ffmpeg reader's length hint is inf)
    return len(frames), (frames[0].shape[1], frames[0].shape[0])


def preset_job(name: str, out: Path, checkpoint: str) -> str:
    from interpolate.presets import resolve

    ext = Path(resolve(name).get("output", "x.mp4")).suffix
    size = "36x64" if name == "reel-vertical" else "64x64"                # keep each preset's shape, small
    fast = "\n".join(f"{k} = {v!r}" for k, v in FAST.items())
    return (f"[[job]]\nname = '{name}'\npreset = '{name}'\ncheckpoint = '{checkpoint}'\nkeys = '1,2'\n"
            f"output = '{out / (name + ext)}'\nsize = '{size}'\n{fast}\n")


def test_batch_renders_every_shipped_preset_isolates_a_broken_job_and_resumes(tmp_path, tiny_checkpoint, capsys):
    from interpolate.cli import main

    out = tmp_path / "out"
    broken = (f"[[job]]\nname = 'broken'\ncheckpoint = '{tiny_checkpoint}'\nkeys = '1,2'\nstyle = 'sideways'\n"
              f"output = '{out / 'broken.gif'}'\n")
    jobs = write(tmp_path / "jobs.toml", "".join(preset_job(n, out, tiny_checkpoint) for n in SHIPPED[:3]) + broken
                 + "".join(preset_job(n, out, tiny_checkpoint) for n in SHIPPED[3:]))
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(jobs), "--quiet"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "7 rendered, 0 skipped, 1 failed" in captured.out
    assert "failed job 4 (broken): unknown style 'sideways'" in captured.out
    results = R.run_jobs(J.load_jobs(jobs), quiet=True)                    # a re-run renders nothing new
    assert [r.status for r in results] == ["skipped"] * 3 + ["failed"] + ["skipped"] * 4
    assert "unknown style 'sideways'" in results[3].reason and not (out / "broken.gif").exists()
    for name in SHIPPED:
        (path,) = [p for p in out.iterdir() if p.stem == name and not p.name.endswith(".json")]
        count, size = decoded_frames(str(path))
        loops = name == "color-cycle"
        assert count == (2 * 4 if loops else 4 + 1), name                   # 0.5 s at 8 fps per transition
        assert size == ((36, 64) if name == "reel-vertical" else (64, 64)), name
        assert path.suffix == {"x-gif": ".gif", "discord-gif": ".gif", "reel-vertical": ".mp4"}.get(name, ".mp4")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []          # no temp files left


def test_shards_split_a_batch_between_processes(tmp_path, tiny_checkpoint):
    from interpolate.batch.runner import run_batch_file

    jobs = write(tmp_path / "jobs.csv", "keys,output,checkpoint,size,fps,seconds\n" + "".join(
        f"\"{i},{i + 1}\",o{i}.gif,{tiny_checkpoint},32x32,8,0.25\n" for i in range(3)))
    console = Console(record=True, width=200)
    assert [r.status for r in R.plan_jobs(J.load_jobs(jobs))] == ["todo"] * 3
    assert run_batch_file(jobs, dry_run=True, quiet=True, console=console) == 0
    assert not list(tmp_path.glob("o*.gif"))                                # a dry run writes nothing
    assert run_batch_file(jobs, shard="1/2", quiet=True, console=console) == 0
    assert sorted(p.name for p in tmp_path.glob("o*.gif")) == ["o1.gif"]
    assert run_batch_file(jobs, shard="0/2", quiet=True, console=console) == 0
    assert sorted(p.name for p in tmp_path.glob("o*.gif")) == ["o0.gif", "o1.gif", "o2.gif"]
    assert [r.status for r in R.plan_jobs(J.load_jobs(jobs))] == ["skipped"] * 3


def test_ray_runner_on_a_local_ray(tmp_path, tiny_checkpoint):
    ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra: pip install 'waifu-morph[ray]')")
    from interpolate.batch.ray_runner import run_jobs_on_ray

    jobs = write(tmp_path / "jobs.toml", "".join(
        f"[[job]]\ncheckpoint = '{tiny_checkpoint}'\nkeys = '{k}'\noutput = 'r{i}.gif'\nsize = '32x32'\n"
        f"fps = 8.0\nseconds = 0.25\n" for i, k in enumerate(["1,2", "3,4", "nope.npy", "5,6"])))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        stats: list = []
        results = run_jobs_on_ray(J.load_jobs(jobs), address="auto", quiet=True, stats=stats)
        assert [r.status for r in results] == ["done", "done", "failed", "done"]
        assert "nope.npy' not found" in results[2].reason
        assert all(s["loads"] <= 1 for s in stats) and sum(s["loads"] for s in stats) >= 1
        again = run_jobs_on_ray(J.load_jobs(jobs), address="auto", quiet=True)
        assert [r.status for r in again] == ["skipped", "skipped", "failed", "skipped"]
    finally:
        ray.shutdown()


def test_a_retrained_checkpoint_is_not_taken_for_complete(tmp_path, tiny_checkpoint):
    import shutil

    ckpt = tmp_path / "model.pt"
    shutil.copy(tiny_checkpoint, ckpt)
    jobs = write(tmp_path / "jobs.toml", "[[job]]\ncheckpoint = 'model.pt'\nkeys = '1,2'\noutput = 'a.gif'\n"
                                         "size = '32x32'\nfps = 8.0\nseconds = 0.25\n")
    assert [r.status for r in R.run_jobs(J.load_jobs(jobs), quiet=True)] == ["done"]
    assert [r.status for r in R.run_jobs(J.load_jobs(jobs), quiet=True)] == ["skipped"]
    with open(ckpt, "ab") as f:                       # same path and options, other content
        f.write(b"retrained")
    (r,) = R.run_jobs(J.load_jobs(jobs), quiet=True)
    assert r.status == "failed" and "the checkpoint's content" in r.reason and "--overwrite" in r.reason


def test_summary_shows_reasons_with_brackets_verbatim():
    results = [R.JobResult(index=0, name="[x]", output="o.gif", status="failed", reason="move it to [reel]")]
    console = Console(record=True, width=200)
    R.print_summary(results, console)
    text = console.export_text()
    assert "failed job 1 ([x]): move it to [reel]" in text


def test_csv_x264_preset_column_is_read(tmp_path):
    """A CSV column `x264_preset` (the x264 speed) loads as that field; it used to crash the loader."""
    from interpolate.batch import jobs as J

    f = tmp_path / "jobs.csv"
    f.write_text('keys,output,x264_preset\n"3,17",a.mp4,fast\n')
    (job,) = J.load_jobs(f)
    assert job.error is None and job.options.x264_preset == "fast" and job.options.keys == ["3,17"]


def test_a_dry_run_validates_and_plans_every_job_and_writes_nothing(tmp_path, tiny_checkpoint, capsys):
    """An unknown style, a layer the model lacks, a missing W file or an unwritable output is 'failed'
    in the dry run (as the render would fail), not 'to render'; the good job is 'todo'; nothing is written."""
    from interpolate.batch.runner import run_batch_file

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    jobs = write(tmp_path / "jobs.toml", f"""
[defaults]
checkpoint = "{tiny_checkpoint}"
frames = 2

[[job]]
keys = "1,2"
output = "new/ok.gif"

[[job]]
keys = "1,2"
style = "sideways"
output = "bad-style.gif"

[[job]]
keys = "1,2"
layers = "0-99"
output = "bad-layers.gif"

[[job]]
keys = "1,missing.npy"
output = "bad-key.gif"

[[job]]
keys = "1,2"
output = "blocked/x.gif"
""")
    with pytest.raises(SystemExit) as exit_info:
        from interpolate.cli import main

        main(["batch", str(jobs), "--dry-run"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "1 to render, 0 skipped, 4 failed" in out, out
    assert "failed job 2 (bad-style.gif): unknown style 'sideways'" in out
    assert "failed job 3" in out and "failed job 4" in out and "missing.npy" in out and "failed job 5" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "jobs.toml"]      # not even new/
    results = R.plan_jobs(J.load_jobs(jobs))
    assert [r.status for r in results] == ["todo", "failed", "failed", "failed", "failed"]
    assert run_batch_file(jobs, dry_run=False, quiet=True, console=Console(record=True, width=200)) == 1
    assert [r.status for r in R.plan_jobs(J.load_jobs(jobs))] == ["skipped", "failed", "failed", "failed", "failed"]
