"""Projector speed and fit quality; prints two tables.

    python bench/bench_project.py [--steps 100,300,1000] [--images 4] [--speed-steps 10] [--threads N]

1. Speed: optimisation steps/s on this machine for the shipped checkpoints/chibi-64.pt and a random
   256 px StyleGAN2 (FFHQ-like widths halved: channel_max 256), batches of 1 and 4 images.
2. Quality: the shipped model draws images from known seeds (psi 0.7, const noise); each is
   projected in W and W+ for each step count; the table gives the mean PSNR (dB, 8-bit scale) and
   the loss's distance of the final fit, next to the mean-W image's PSNR (where a fit starts).
   The loss is VGG16 (LPIPS-style, unit channel weights) when torchvision's weights are found,
   else the weight-free MS-SSIM + L1; the table says which.
Anchor: GANInverter's benchmark of W-space optimisation (1000 steps, FFHQ-1024, learned LPIPS):
LPIPS 0.197, PSNR 15.8 dB. That is a different model, data and distance: compare the order of
magnitude, not the digits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interpolate import load_generator, networks  # noqa: E402
from interpolate.projection import Schedule, make_loss, project_tensors  # noqa: E402
from interpolate.projection.losses import psnr  # noqa: E402
from interpolate.seeds import z_from_seed  # noqa: E402

SHIPPED = ROOT / "checkpoints" / "chibi-64.pt"
RANDOM_256 = dict(z_dim=512, w_dim=512, img_resolution=256, img_channels=3, channel_base=16384, channel_max=256,
                  mapping_kwargs={"num_layers": 8})


@torch.no_grad()
def drawn(G, seeds, psi=0.7) -> torch.Tensor:
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds])).float()
    return G.synthesis(G.mapping(z, None, truncation_psi=psi)).clamp(-1, 1)


def steps_per_second(G, n: int, steps: int, loss) -> float:
    """Steps/s of the optimisation loop alone (from the end of step 1 to the end of the last)."""
    targets = drawn(G, list(range(n)), psi=1.0)
    stamps: list[float] = []
    project_tensors(G, targets, loss, schedule=Schedule(steps=steps + 1, w_avg_samples=1000),
                    callback=lambda info: stamps.append(time.perf_counter()))
    return steps / (stamps[-1] - stamps[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="100,300,1000", help="step counts of the quality table")
    ap.add_argument("--images", type=int, default=4, help="images (seeds 0..N-1) per quality row")
    ap.add_argument("--speed-steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-256", action="store_true", help="leave the 256 px speed rows out")
    ap.add_argument("--spaces", default="w,wplus", help="spaces of the quality table")
    ap.add_argument("--skip-speed", action="store_true", help="only the quality table")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    G = load_generator(SHIPPED, device="cpu")
    loss = make_loss("auto", None, "cpu")
    print(f"loss: {loss.name}; torch threads: {torch.get_num_threads()}")

    print(f"\n{'model':<30} {'batch':>5} {'steps/s':>8} {'image-steps/s':>14}")
    models = [] if args.skip_speed else [("chibi-64 (shipped, 64 px)", G)]
    if not args.skip_256 and not args.skip_speed:
        torch.manual_seed(0)
        models.append(("random StyleGAN2 256 px", networks.build("stylegan2", **RANDOM_256).eval().requires_grad_(False)))
    for name, model in models:
        for n in (1, 4):
            rate = steps_per_second(model, n, args.speed_steps, loss)
            print(f"{name:<30} {n:>5} {rate:>8.2f} {rate * n:>14.2f}")

    seeds = list(range(args.images))
    targets = drawn(G, seeds)
    with torch.no_grad():
        z = torch.from_numpy(np.random.RandomState(123).randn(10000, G.z_dim)).float()
        w_avg = G.mapping(z)[:, :1].mean(dim=0, keepdim=True)
        start = psnr(G.synthesis(w_avg.expand(len(seeds), G.num_ws, -1)), targets).mean()
    print(f"\nchibi-64, seeds {seeds[0]}-{seeds[-1]} at psi 0.7; mean-W image: PSNR {start:.2f} dB")
    print(f"{'space':<6} {'steps':>6} {'PSNR dB':>8} {'min':>6} {loss.name + ' dist':>16} {'seconds':>8}")
    for steps in [int(s) for s in args.steps.split(",")]:
        for space in args.spaces.split(","):
            t0 = time.perf_counter()
            fit = project_tensors(G, targets, loss, schedule=Schedule(steps=steps), space=space)
            print(f"{space:<6} {steps:>6} {np.mean(fit.psnr):>8.2f} {np.min(fit.psnr):>6.2f} "
                  f"{np.mean(fit.distance):>16.4f} {time.perf_counter() - t0:>8.1f}")
    print("\nanchor: GANInverter, W-space optimisation, 1000 steps, FFHQ-1024: LPIPS 0.197, PSNR 15.8 dB")


if __name__ == "__main__":
    main()
