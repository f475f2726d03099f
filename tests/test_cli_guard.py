"""What every command runs inside (interpolate/cli/guard.py): SIGTERM and SIGHUP clean up exactly as
Ctrl-C does (older output untouched, no temp file, no ffmpeg left), for render, mix --video, reel and
batch; an unexpected exception is one line naming the traceback file, exit 3; --help keeps its text.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from interpolate.cli import app, main  # noqa: E402
from test_render_cli import cli, tiny_checkpoint  # noqa: E402,F401


# --- stopping signals -------------------------------------------------------------------------------
def ffmpeg_writing_under(folder: Path) -> list[str]:
    """Any ffmpeg process on the machine (orphans included) whose command line names `folder`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and b"ffmpeg" in os.path.basename(args[0]) and any(str(folder).encode() in a for a in args):
            found.append(cmdline.parent.name)
    return found


def stop_while_rendering(args: list[str], folder: Path, signum: int) -> tuple[int, str]:
    """Start `waifu-morph ARGS` in its own session, wait until its temp file exists, send `signum` to
    the process alone (as `kill` and `timeout` do); its exit status and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "interpolate", *map(str, args)], stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.endswith(".part") for p in folder.rglob(".*")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()
        time.sleep(0.3)                          # into the stream, ffmpeg running
        os.kill(proc.pid, signum)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def assert_clean_stop(code: int, err: str, signum: int, folder: Path, kept: dict[str, bytes]) -> None:
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    assert err.strip() == f"interrupted by {name}: nothing partial was left behind", err
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert left == sorted(kept), left                                    # no .part file or folder
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]
    for rel, data in kept.items():
        assert (folder / rel).read_bytes() == data                        # the older output is untouched
    assert ffmpeg_writing_under(folder) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_during_a_render_clean_up_like_ctrl_c(tmp_path, tiny_checkpoint, signum):
    out = tmp_path / "a.mp4"
    out.write_bytes(b"older video")
    code, err = stop_while_rendering(["render", tiny_checkpoint, "--seeds", "1,2", "--frames", "100000",
                                      "--device", "cpu", "-y", "-o", out], tmp_path, signum)
    assert_clean_stop(code, err, signum, tmp_path, {"a.mp4": b"older video"})


def test_sigterm_during_mix_video_reel_and_batch_cleans_up(tmp_path, tiny_checkpoint):
    """The same mechanism (the CLI's guard) covers every long command that writes a file."""
    mix = tmp_path / "mix"
    mix.mkdir()
    (mix / "m.gif").write_bytes(b"older gif")
    code, err = stop_while_rendering(["mix", tiny_checkpoint, "--rows", "1,2", "--cols", "3", "--video", "--seconds", "3000",
                                      "--fps", "10", "--device", "cpu", "-y", "-o", mix / "m.gif"], mix, signal.SIGTERM)
    assert_clean_stop(code, err, signal.SIGTERM, mix, {"m.gif": b"older gif"})

    reel = tmp_path / "reel"
    reel.mkdir()
    (reel / "r.toml").write_text(f'[reel]\ncheckpoint = "{tiny_checkpoint}"\noutput = "r.mp4"\n\n'
                                 '[[segment]]\nkeys = "1,2"\nframes = 100000\n')
    code, err = stop_while_rendering(["reel", reel / "r.toml", "--device", "cpu"], reel, signal.SIGTERM)
    assert_clean_stop(code, err, signal.SIGTERM, reel, {"r.toml": (reel / "r.toml").read_bytes()})

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "j.toml").write_text(f'[defaults]\ncheckpoint = "{tiny_checkpoint}"\n\n'
                                 '[[job]]\nkeys = "1,2"\nframes = 100000\noutput = "j.mp4"\n')
    code, err = stop_while_rendering(["batch", jobs / "j.toml", "--device", "cpu", "-q"], jobs, signal.SIGTERM)
    assert_clean_stop(code, err, signal.SIGTERM, jobs, {"j.toml": (jobs / "j.toml").read_bytes()})


# --- bugs -------------------------------------------------------------------------------------------
def test_an_unexpected_exception_is_one_line_naming_the_traceback_file(tmp_path, tiny_checkpoint, capfd, monkeypatch):
    import tempfile

    import interpolate.render.video as video

    def broken(*a, **k):
        raise ZeroDivisionError("the planner divided by zero")

    monkeypatch.setattr(video, "render_paths", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("WAIFU_MORPH_DEBUG", raising=False)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "-o", tmp_path / "a.gif") == 3
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("bug:") and "ZeroDivisionError" in lines[0] and "--debug" in lines[0]
    report = Path(re.search(r"traceback is in (\S+?\.txt)", lines[0]).group(1))
    assert report.parent == tmp_path
    text = report.read_text()
    assert "Traceback" in text and "the planner divided by zero" in text and "def broken" not in text
    assert "in broken" in text                                            # where it was raised

    # --debug and WAIFU_MORPH_DEBUG=1 let the traceback through instead
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "-o", str(tmp_path / "b.gif")])
    monkeypatch.setenv("WAIFU_MORPH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "-o", str(tmp_path / "b.gif")])


def test_bad_input_stays_exit_2_and_a_bug_is_not(tmp_path, tiny_checkpoint, capfd):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--style", "sideways", "-o", tmp_path / "a.gif") == 2
    err = capfd.readouterr().err
    assert err.startswith("error:") and "bug" not in err


# --- --help keeps its text --------------------------------------------------------------------------
def all_commands():
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(root, []))


@pytest.mark.parametrize("path, cmd", all_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_help_shows_every_bracket_of_its_text(path, cmd):
    """Rich markup would swallow '[reel]' or 'waifu-morph[ray]': every bracketed word of a command's
    help text (after its escapes) is in the rendered --help."""
    res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})
    assert res.exit_code == 0, res.output
    shown = " ".join(res.output.split())
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    for text in texts:
        for word in re.findall(r"\S*\[[^\]\s]*\]+\S*", text.replace("\\[", "[")):
            assert word.rstrip(".,);") in shown, (word, path)


def test_reel_and_batch_help_name_their_tables():
    runner = CliRunner()
    reel = " ".join(runner.invoke(app, ["reel", "--help"], env={"COLUMNS": "250"}).output.split())
    batch = " ".join(runner.invoke(app, ["batch", "--help"], env={"COLUMNS": "250"}).output.split())
    assert "[reel]" in reel and "[[segment]]" in reel
    assert "[defaults]" in batch and "[[job]]" in batch and "waifu-morph[ray]" in batch
