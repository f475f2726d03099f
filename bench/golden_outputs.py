"""Render ~15 representative commands into a folder, or compare two such folders byte for byte.

    python bench/golden_outputs.py run /tmp/before          # before a refactor
    python bench/golden_outputs.py run /tmp/after           # after it
    python bench/golden_outputs.py compare /tmp/before /tmp/after

Every command pins --batch-size (the adaptive batch size changes float rounding). Sidecars are
compared as JSON with 'created' (a timestamp) and absolute paths of the run folder normalised; any
other difference is listed by key.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "interpolate"]

REEL = """[reel]
output = "reel.mp4"
fps = 12
batch_size = 2
[[segment]]
keys = "3,17"
seconds = 0.5
title = "One"
[[segment]]
keys = "42"
style = "fine"
seconds = 0.5
"""

JOBS = """[defaults]
seconds = 0.4
fps = 10
batch_size = 3
[[job]]
keys = "3,17"
output = "batch/a.gif"
[[job]]
keys = "5,6,7"
preset = "cascade"
output = "batch/b.mp4"
"""

COMMANDS = [
    ("render mp4", ["render", "--seeds", "3,17,42", "--frames", "8", "--batch-size", "1", "-o", "r1.mp4"]),
    ("render gif fine", ["render", "--seeds", "3,17", "--style", "fine", "--frames", "8", "--batch-size", "4", "-o", "r2.gif"]),
    ("render webp cascade", ["render", "--seeds", "1,2", "--style", "cascade", "--frames", "6", "--batch-size", "2", "-o", "r3.webp"]),
    ("render png frames", ["render", "--seeds", "1,2", "--frames", "4", "--batch-size", "2", "-o", "r4/%05d.png"]),
    ("render preset gif", ["render", "--preset", "color-cycle", "--seeds", "3,17", "--frames", "6", "--batch-size", "3", "-o", "r5.gif"]),
    ("render grid label size", ["render", "--seeds", "0-3", "--grid", "2x1", "--label", "--size", "160x96", "--frames", "4",
                                "--batch-size", "2", "-o", "r6.mp4"]),
    ("render W file + psi + even + latents", ["render", "--keys", "w.npy,5", "--psi", "0.7", "--psi-end", "1", "--pace", "even",
                                              "--frames", "6", "--batch-size", "2", "--save-latents", "lat.npz", "-o", "r7.mp4"]),
    ("render --from-latents gif", ["render", "--from-latents", "lat.npz", "--batch-size", "2", "-o", "r8.gif"]),
    ("render --from sidecar", ["render", "--from", "r1.mp4.json", "-o", "r9.mp4"]),
    ("render slerp loop noise smooth", ["render", "--seeds", "4,9", "--interp", "slerp", "--loop", "--noise", "smooth", "--frames", "5",
                                        "--batch-size", "2", "-o", "r10.gif"]),
    ("mix png", ["mix", "--rows", "1,2", "--cols", "7,8", "-o", "mix.png"]),
    ("mix video gif", ["mix", "--rows", "1", "--cols", "7,8", "--video", "--seconds", "0.3", "--fps", "10", "-o", "mix.gif"]),
    ("image pngs", ["image", "--seeds", "0-2", "-o", "img"]),
    ("reel mp4", ["reel", "reel.toml"]),
    ("batch gif+mp4", ["batch", "jobs.toml"]),
]


def run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "reel.toml").write_text(REEL)
    (out / "jobs.toml").write_text(JOBS)
    np.save(out / "w.npy", (np.random.RandomState(0).randn(256) * 0.5).astype(np.float32))
    for name, args in COMMANDS:
        proc = subprocess.run(CLI + args + ["--quiet"], cwd=out, capture_output=True, text=True)
        print(f"{name:<40} rc={proc.returncode}")
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _norm(obj, root: str):
    if isinstance(obj, dict):
        return {k: _norm(v, root) for k, v in obj.items() if k != "created"}
    if isinstance(obj, list):
        return [_norm(v, root) for v in obj]
    if isinstance(obj, str):
        return obj.replace(root, "<RUN>")
    return obj


def _diff(a, b, where="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k} {'added' if k not in a else 'removed'}")
            else:
                out += _diff(a[k], b[k], f"{where}.{k}")
        return out
    return [] if a == b else [f"{where}: {str(a)[:60]} -> {str(b)[:60]}"]


def compare(a: Path, b: Path) -> int:
    fa, fb = _files(a), _files(b)
    bad = 0
    print(f"| file | identical | note |\n|---|---|---|")
    for name in sorted(set(fa) | set(fb)):
        if name not in fa or name not in fb:
            print(f"| {name} | no | only in {'after' if name not in fa else 'before'} |")
            bad += 1
            continue
        da, db = fa[name].read_bytes(), fb[name].read_bytes()
        if da == db:
            print(f"| {name} | yes | |")
            continue
        if name.endswith(".json"):
            ja, jb = _norm(json.loads(da), str(a.resolve())), _norm(json.loads(db), str(b.resolve()))
            d = _diff(ja, jb)
            print(f"| {name} | {'yes (JSON, created/run folder normalised)' if not d else 'no'} | {'; '.join(d)[:300]} |")
            bad += bool(d)
            continue
        if name.endswith(".npz"):
            import zipfile
            with zipfile.ZipFile(fa[name]) as za, zipfile.ZipFile(fb[name]) as zb:
                same_names = za.namelist() == zb.namelist()
                diff = [m for m in za.namelist() if same_names and za.read(m) != zb.read(m)]
            if same_names and not diff:
                print(f"| {name} | members yes (zip entry timestamps differ) | |")
                continue
            if same_names and diff == ["meta.npy"]:
                ma = json.loads(str(np.load(fa[name])["meta"]))
                mb = json.loads(str(np.load(fb[name])["meta"]))
                d = _diff(_norm(ma, str(a.resolve())), _norm(mb, str(b.resolve())))
                print(f"| {name} | {'members yes (meta normalised)' if not d else 'no'} | {'; '.join(d)[:300]} |")
                bad += bool(d)
                continue
        print(f"| {name} | no | sha256 {hashlib.sha256(da).hexdigest()[:10]} vs {hashlib.sha256(db).hexdigest()[:10]} |")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(Path(sys.argv[2]))
    else:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
