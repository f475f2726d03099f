"""Every file the project writes gets the mode the user's umask gives a new file (0640 under umask
027), whichever writer made it: videos, GIFs, WebPs, PNG frames (folder and pattern), sidecars,
latents, figures, stills, the data set's PNGs, batch and reel outputs."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_render_cli import cli, tiny_checkpoint  # noqa: E402,F401


@pytest.fixture
def umask_027():
    before = os.umask(0o027)
    yield
    os.umask(before)


def modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in sorted(folder.rglob("*"))}


def test_every_output_has_the_umask_mode(tmp_path, tiny_checkpoint, umask_027):
    out = tmp_path / "out"
    common = ["--seeds", "1,2", "--frames", "2", "--device", "cpu", "-q"]
    for o, more in (("a.mp4", ["--save-latents", out / "a.npz"]), ("b.gif", []), ("c.webp", []),
                    ("frames/", []), ("pat/%03d.png", [])):
        assert cli("render", tiny_checkpoint, *common, "-o", out / o, *more) == 0
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", "-q", "--device", "cpu", "-o", out / "mix.png") == 0
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", "-q", "--device", "cpu", "--video", "--seconds", "0.1",
               "--fps", "10", "-o", out / "mix.gif") == 0
    assert cli("image", tiny_checkpoint, "--seeds", "1", "-q", "--device", "cpu", "-o", out / "stills") == 0
    assert cli("dataset", "--n", "1", "--size", "32", "--contact-sheet", out / "sheet.png", "-o", out / "data") == 0
    (tmp_path / "jobs.toml").write_text(f'[[job]]\ncheckpoint = "{tiny_checkpoint}"\nkeys = "1,2"\nframes = 2\n'
                                        'output = "out/batch/j.gif"\n')
    assert cli("batch", tmp_path / "jobs.toml", "-q", "--device", "cpu") == 0
    (tmp_path / "r.toml").write_text(f'[reel]\ncheckpoint = "{tiny_checkpoint}"\noutput = "out/reel.gif"\n\n'
                                     '[[segment]]\nkeys = "1,2"\nframes = 2\n')
    assert cli("reel", tmp_path / "r.toml", "-q", "--device", "cpu") == 0

    found = modes(out)
    files = {k: v for k, v in found.items() if (out / k).is_file()}
    folders = {k: v for k, v in found.items() if (out / k).is_dir()}
    for name in ("a.mp4", "a.mp4.json", "a.npz", "b.gif", "b.gif.json", "c.webp", "frames/00000.png", "pat/000.png",
                 "mix.png", "mix.gif", "sheet.png", "batch/j.gif", "batch/j.gif.json", "reel.gif", "reel.gif.json"):
        assert name in files, sorted(files)
    assert any(k.startswith("stills/") for k in files) and any(k.startswith("data/") for k in files)
    assert {k: v for k, v in files.items() if v != 0o640} == {}
    assert {k: v for k, v in folders.items() if v != 0o750} == {}
    assert not [k for k in found if os.path.basename(k).startswith(".")]
