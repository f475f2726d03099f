"""Same command, same machine -> same bytes, even when the machine is busy during one of the runs
(the batch size is a rule, not a timing: render/batching.py). Through the real entry point, in
fresh processes, with the shipped model (GIF: the palette amplifies any rounding difference)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from interpolate.render.video import SHIPPED_CHECKPOINT

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 120: pass\n"


def render(out: Path, *extra: str) -> bytes:
    cmd = [sys.executable, "-m", "interpolate", "render", str(SHIPPED_CHECKPOINT), "--seeds", "3,17", "--frames", "24",
           "--fps", "12", "--quiet", "-o", str(out), *extra]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out.read_bytes()


def test_a_render_under_load_and_one_without_are_byte_identical(tmp_path):
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]   # one per core of a 2-core box
    try:
        loaded = render(tmp_path / "loaded.gif")
    finally:
        for p in busy:
            p.kill()
            p.wait()
    quiet = render(tmp_path / "quiet.gif")
    assert loaded == quiet
    side = [json.loads((tmp_path / f"{name}.gif.json").read_text()) for name in ("loaded", "quiet")]
    assert side[0]["output"]["batch_size"] == side[1]["output"]["batch_size"] == 16


def test_render_from_the_sidecar_repeats_the_output(tmp_path):
    first = render(tmp_path / "a.gif")
    again = subprocess.run([sys.executable, "-m", "interpolate", "render", "--from", str(tmp_path / "a.gif.json"),
                            "--quiet", "-o", str(tmp_path / "b.gif")], capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()[-400:]
    assert (tmp_path / "b.gif").read_bytes() == first
