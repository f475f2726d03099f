"""Plan and evaluate latent paths on a StyleGAN2-FFHQ-shaped fake mapping; prints a table.

    python bench/bench_paths.py [--frames 100000]

Columns: setting, plan seconds, evaluation throughput (frames/s of ws, chunks of 32), and the peak
resident memory growth while walking every frame (the path must not hold all ws).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes import FakeGenerator  # noqa: E402

from interpolate.options import RenderOptions  # noqa: E402
from interpolate.paths import plan_path  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=32)
    args = ap.parse_args()
    res = [r for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024) for _ in (0, 1)]
    G = FakeGenerator(z_dim=512, w_dim=512, ws_resolution=res, noise_shapes=())
    keys = ["0-49"]
    seconds = args.frames / 30 / 49
    settings = [
        dict(interp="cubic"),
        dict(interp="slerp"),
        dict(interp="cubic", style="cascade"),
        dict(interp="cubic", pace="even"),
        dict(interp="linear", style="fine", psi=0.7, psi_end=0.5),
    ]
    print(f"{'setting':<42} {'frames':>7} {'plan s':>7} {'ws frames/s':>12} {'peak RSS +MB':>13}")
    for kw in settings:
        opts = RenderOptions(keys=keys, seconds=seconds, fps=30, **kw)
        before = peak_mb()
        t0 = time.perf_counter()
        path = plan_path(G, opts)
        t1 = time.perf_counter()
        for frames in path.chunks(args.chunk):
            pass
        t2 = time.perf_counter()
        name = ", ".join(f"{k}={v}" for k, v in kw.items())
        print(f"{name:<42} {path.num_frames:>7} {t1 - t0:>7.2f} {path.num_frames / (t2 - t1):>12.0f} "
              f"{peak_mb() - before:>13.0f}")


if __name__ == "__main__":
    main()
