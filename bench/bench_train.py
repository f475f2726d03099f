"""How long `waifu-morph train run --data FOLDER` takes per kimg on this machine; prints a table.

    python bench/bench_train.py                       # 64 px, the default network, batch 8, 1 thread
    python bench/bench_train.py --resolution 32 --steps 20 --threads 2

A folder of procedural chibi images (written to a temporary folder) is the data; rows:
  no augmentation    --augment none
  ADA at p = 0       the start of every --data run (p = 0 skips the augmentation entirely)
  ADA at p = 0.5     what a small data set costs once ADA has ramped up (--augment fixed --aug-p 0.5)
Each row: the best of --repeat timings of --steps steps after 2 warm-up steps (the machine may be
shared; the best is the least disturbed), as seconds per step, images/s and minutes per kimg.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from interpolate.train.config import TrainConfig
from interpolate.train.dataset import chibi_images
from interpolate.train.trainer import Trainer


def seconds_per_step(cfg: TrainConfig, steps: int, repeat: int) -> float:
    trainer = Trainer(cfg)
    for _ in range(2):
        trainer.step()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for i, img in enumerate(chibi_images(0, args.images, args.resolution)):
            Image.fromarray(img).save(Path(tmp) / f"{i:05d}.png")
        base = dict(resolution=args.resolution, batch=args.batch, data=tmp, threads=args.threads)
        rows = [("no augmentation", TrainConfig(**base, augment="none")),
                ("ADA at p = 0", TrainConfig(**base, augment="ada")),
                ("ADA at p = 0.5", TrainConfig(**base, augment="fixed", aug_p=0.5))]
        print(f"train step, {args.resolution} px, batch {args.batch}, {args.threads} torch thread(s), "
              f"default network, best of {args.repeat} x {args.steps} steps")
        print(f"| {'':<18} | s/step | images/s | min/kimg |")
        print(f"|{'-' * 20}|-------:|---------:|---------:|")
        for name, cfg in rows:
            s = seconds_per_step(cfg, args.steps, args.repeat)
            print(f"| {name:<18} | {s:6.3f} | {args.batch / s:8.1f} | {1000 / args.batch * s / 60:8.1f} |", flush=True)


if __name__ == "__main__":
    main()
