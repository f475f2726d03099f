"""torch.compile against eager synthesis at a fixed batch: compile time, s per image, max abs error.

    python bench/bench_compile.py [CHECKPOINT] [--batch 4] [--rounds 3]

Prints a markdown table. Eager and compiled alternate (ABAB); the best round of each is shown.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", default=None)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mode", default="default", help="torch.compile mode (default, reduce-overhead, max-autotune)")
    args = ap.parse_args()

    from interpolate.loading import load_generator
    from interpolate.render.compiled import compile_synthesis
    from interpolate.render.video import default_checkpoint

    G = load_generator(args.checkpoint or default_checkpoint(), device=torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    z = torch.randn(args.batch, G.z_dim, generator=g)
    with torch.inference_mode():
        ws = G.mapping(z, None)
    t0 = time.perf_counter()
    compiled = compile_synthesis(G, args.batch, mode=args.mode)
    with torch.inference_mode():
        ref = G.synthesis(ws, noise_mode="const")
        out = compiled(ws, noise_mode="const")
    compile_s = time.perf_counter() - t0
    err = (out - ref).abs().max().item()
    best = {"eager": float("inf"), "compiled": float("inf")}
    with torch.inference_mode():
        for _ in range(args.rounds):
            for name, fn in (("eager", G.synthesis), ("compiled", compiled)):
                t = time.perf_counter()
                fn(ws, noise_mode="const")
                best[name] = min(best[name], (time.perf_counter() - t) / args.batch)
    print(f"| model | batch | threads | eager s/image | compiled s/image | speed-up | compile s | max abs err |")
    print(f"|---|---|---|---|---|---|---|---|")
    print(f"| {G.img_resolution} px {getattr(G, 'arch', '')} | {args.batch} | {torch.get_num_threads()} | "
          f"{best['eager']:.4f} | {best['compiled']:.4f} | {best['eager'] / best['compiled']:.2f}x | {compile_s:.1f} | {err:.1e} |")


if __name__ == "__main__":
    main()
