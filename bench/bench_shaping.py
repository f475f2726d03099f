"""Frame shaping on the host (Pillow, render/frames.Geometry.apply) vs the torch passes
(render/shaping.DeviceShaper) on this machine's CPU (and CUDA when there is one): ms per frame.

    python bench/bench_shaping.py                 # 64->256 and 512->1080x1920 pad/crop, 1 and 2 threads
    python bench/bench_shaping.py --frames 16 --device cuda

The torch passes give the same bytes as Pillow (tests/test_shaping.py); this decides where shaping
runs (render/shaping.shaping_place: a fixed rule, not a timing).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from interpolate.render.frames import Geometry
from interpolate.render.shaping import DeviceShaper

CASES = [((64, 64), (256, 256), "pad"), ((512, 512), (1080, 1920), "pad"), ((512, 512), (1080, 1920), "crop"),
         ((1024, 1024), (1080, 1920), "crop")]


def frames(n: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x ^ y) % 256], -1)
    return np.clip(base[None] + rng.normal(0, 12, (n, h, w, 3)), 0, 255).astype(np.uint8)


def best_ms(fn, n: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1000 * best / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"| case | torch threads | Pillow ms/frame | torch ({device.type}) ms/frame | same bytes |")
    print("|---|---|---|---|---|")
    for (sw, sh), (ow, oh), fit in CASES:
        if device.type == "cpu" and sw > 512:
            continue
        imgs = frames(args.frames, sh, sw)
        g = Geometry(sw, sh, ow, oh, fit)
        shaper = DeviceShaper(g, device)
        t = torch.from_numpy(imgs).to(device)

        def on_device():
            out = shaper(t)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return out

        same = np.array_equal(on_device().cpu().numpy(), np.stack([g.apply(f) for f in imgs]))
        pil = best_ms(lambda: [g.apply(f) for f in imgs], args.frames)
        for threads in (int(v) for v in args.threads.split(",")):
            torch.set_num_threads(threads)
            dev = best_ms(on_device, args.frames)
            print(f"| {sw}x{sh} -> {ow}x{oh} {fit} | {threads} | {pil:.2f} | {dev:.2f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
