"""waifu-morph against NVIDIA's own code on this CPU: synthesis per image and the issue-17 clip end to end.

    python bench/bench_official.py --official /tmp/stylegan3          # a checkout of NVlabs/stylegan3
    python bench/bench_official.py --official /tmp/stylegan3 --rounds 3 --skip-e2e
    python bench/bench_official.py --official /tmp/stylegan3 --skip-e2e --threads 1 --models "StyleGAN3-T 64"

Get the official code outside this repository (never commit it), e.g.
    git clone https://github.com/NVlabs/stylegan3 /tmp/stylegan3
On a CPU its custom ops (bias_act, upfirdn2d, filtered_lrelu) fall back to their reference
implementations in plain PyTorch; nothing is compiled.

Synthesis: random-weight generators built by the official classes, the same state dict loaded into
waifu-morph's, the same ws; seconds per image at batch 1 (both), and waifu-morph at the batch its
renderer picks (render/batching.py). Models: StyleGAN2 "paper256" (channel_base 16384, channel_max
512, 8 mapping layers, conv_clamp 256), StyleGAN3-T at 64 and 256 px (channel_base 16384 as the
official 256 px configs; 14 layers). The outputs are compared too (max abs error, float32).

End to end: the issue's clip, a 36-frame 256 px cubic loop of seeds 0-2 at 60 fps to MP4, from a
cold process to the finished file: `waifu-morph render ckpt --seeds 0-2 --loop --interp cubic
--frames 12 --fps 60` against the official gen_video.py's `gen_interp_video(..., w_frames=12,
kind='cubic', device=cpu)` (its only change: the device), both decoded back and compared (PSNR).

The machine may be shared: every measurement alternates the two implementations (ABAB ...) for
--rounds rounds and the table shows the best round of each, and the ratio of the two; for synthesis
also the process's CPU time per image, which a loaded machine disturbs less than the wall clock
(with several threads it includes OpenMP's spin-waits, on both sides).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from interpolate.render.ffmpeg import ffmpeg_exe
import torch

REPO = Path(__file__).resolve().parents[1]
SG2_256 = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3, channel_base=16384, channel_max=512,
               num_fp16_res=4, conv_clamp=256, mapping_kwargs=dict(num_layers=8))
SG3_T = dict(z_dim=512, c_dim=0, w_dim=512, img_channels=3, channel_base=16384, channel_max=512, num_fp16_res=4,
             conv_clamp=256, mapping_kwargs=dict(num_layers=2))
MODELS = {
    "StyleGAN2 paper256": ("stylegan2", "training.networks_stylegan2", SG2_256),
    "StyleGAN3-T 64": ("stylegan3", "training.networks_stylegan3", {**SG3_T, "img_resolution": 64}),
    "StyleGAN3-T 256": ("stylegan3", "training.networks_stylegan3", {**SG3_T, "img_resolution": 256}),
}

OFFICIAL_RUNNER = r"""
import sys, types, torch
sys.path.insert(0, sys.argv[1])
try:
    import tqdm
except ImportError:                      # gen_video.py only uses tqdm for its progress bar
    sys.modules["tqdm"] = types.SimpleNamespace(tqdm=lambda it: it)
import gen_video
from training import networks_stylegan2
saved = torch.load(sys.argv[2], weights_only=True)
G = networks_stylegan2.Generator(**saved["init_kwargs"]).eval().requires_grad_(False)
G.load_state_dict(saved["state_dict"])
gen_video.gen_interp_video(G=G, mp4=sys.argv[3], seeds=[0, 1, 2], w_frames=12, kind="cubic", device=torch.device("cpu"))
"""


def official_module(official: Path, name: str):
    try:
        import pkg_resources  # noqa: F401  (the official torch_utils import it; setuptools 81+ dropped it)
    except ImportError:
        raise SystemExit("bench_official: NVIDIA's code imports pkg_resources; run `pip install 'setuptools<81'` "
                         "in this environment (a venv keeps it apart) and rerun")
    sys.path.insert(0, str(official))
    import importlib

    return importlib.import_module(name)


def build_pair(official: Path, arch: str, module: str, kwargs: dict):
    """(official G, waifu-morph G) with the same random weights, eval, no grad, on the CPU."""
    from interpolate.networks import build

    torch.manual_seed(0)
    G_off = official_module(official, module).Generator(**kwargs).eval().requires_grad_(False)
    G_ours = build(arch, **kwargs).eval().requires_grad_(False)
    G_ours.load_state_dict(G_off.state_dict())
    return G_off, G_ours


def seconds_per_image(fn, n: int) -> tuple[float, float]:
    """(wall, CPU) seconds per image: the CPU time of this process is what a loaded, shared machine
    disturbs least (time spent waiting for a core does not count)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def bench_synthesis(official: Path, rounds: int, images: int, models: dict) -> list[dict]:
    from interpolate.render.batching import rule_batch_size, synthesis_weights

    rows = []
    for name, (arch, module, kwargs) in models.items():
        G_off, G_ours = build_pair(official, arch, module, kwargs)
        res = kwargs["img_resolution"]
        batch = rule_batch_size(torch.device("cpu"), res * res, synthesis_weights(G_ours))
        with torch.inference_mode():
            ws = G_off.mapping(torch.from_numpy(np.stack([np.random.RandomState(s).randn(512) for s in range(images)])).float(), None)
            err = (G_off.synthesis(ws[:1], noise_mode="const") - G_ours.synthesis(ws[:1], noise_mode="const")).abs().max().item()
            one_off = lambda: [G_off.synthesis(ws[i:i + 1], noise_mode="const") for i in range(images)]    # noqa: E731
            one_ours = lambda: [G_ours.synthesis(ws[i:i + 1], noise_mode="const") for i in range(images)]  # noqa: E731
            batched = lambda: [G_ours.synthesis(ws[i:i + batch], noise_mode="const") for i in range(0, images, batch)]  # noqa: E731
            t = {"official": [], "ours": [], "ours_batched": []}
            for _ in range(rounds):                                          # ABAB: alternate within each round
                t["official"].append(seconds_per_image(one_off, images))
                t["ours"].append(seconds_per_image(one_ours, images))
                if batch > 1:
                    t["ours_batched"].append(seconds_per_image(batched, images))
        best = {k: min(w for w, _ in v) for k, v in t.items() if v}
        cpu = {f"{k}_cpu": min(c for _, c in v) for k, v in t.items() if v}
        rows.append(dict(model=name, err=err, batch=batch, **best, **cpu))
        print(f"  {name}: official {best['official']:.3f} s, waifu-morph {best['ours']:.3f} s per image "
              f"(CPU {cpu['official_cpu']:.3f} s, {cpu['ours_cpu']:.3f} s)", flush=True)
    return rows


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, 256, 256, 3)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def bench_end_to_end(official: Path, rounds: int, tmp: Path) -> dict:
    from interpolate.formats.native import save_native

    G_off, G_ours = build_pair(official, *MODELS["StyleGAN2 paper256"])
    ckpt = save_native(tmp / "paper256.pt", G_ours, init_kwargs=SG2_256)
    torch.save({"init_kwargs": SG2_256, "state_dict": G_off.state_dict()}, tmp / "official.pt")
    runner = tmp / "run_gen_video.py"
    runner.write_text(OFFICIAL_RUNNER)
    ours_cmd = [sys.executable, "-m", "interpolate", "render", str(ckpt), "--seeds", "0-2", "--loop", "--interp", "cubic",
                "--frames", "12", "--fps", "60", "--quiet", "--overwrite", "-o", str(tmp / "ours.mp4")]
    off_cmd = [sys.executable, str(runner), str(official), str(tmp / "official.pt"), str(tmp / "official.mp4")]
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    t = {"official": [], "ours": []}
    for _ in range(rounds):
        for key, cmd in (("official", off_cmd), ("ours", ours_cmd)):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            t[key].append(time.perf_counter() - t0)
        print(f"  round: official {t['official'][-1]:.1f} s, waifu-morph {t['ours'][-1]:.1f} s", flush=True)
    a, b = decode(tmp / "official.mp4"), decode(tmp / "ours.mp4")
    side = json.loads((tmp / "ours.mp4.json").read_text())
    return dict(official=min(t["official"]), ours=min(t["ours"]), frames=(len(a), len(b)),
                psnr=psnr(a, b) if len(a) == len(b) else float("nan"), batch=side["output"].get("batch_size"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", type=Path, required=True, help="a checkout of NVlabs/stylegan3 (outside this repo)")
    ap.add_argument("--rounds", type=int, default=2, help="ABAB rounds; the best of each side is shown")
    ap.add_argument("--images", type=int, default=2, help="images per synthesis measurement")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-synthesis", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the synthesis comparison (default: torch's)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of: " + ", ".join(MODELS))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.official / "gen_video.py").is_file():
        sys.exit(f"{args.official} is not a checkout of NVlabs/stylegan3 (no gen_video.py)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {load:.1f} at the start; ABAB x {args.rounds}", flush=True)
    lines = []
    if not args.skip_synthesis:
        unknown = sorted(set(args.models.split(",")) - set(MODELS))
        if unknown:
            sys.exit(f"unknown model(s) {', '.join(unknown)}; expected some of {', '.join(MODELS)}")
        rows = bench_synthesis(args.official, args.rounds, args.images, {m: MODELS[m] for m in args.models.split(",")})
        lines += ["| synthesis, s per image | official (batch 1) | waifu-morph batch 1 | speed-up | waifu-morph at its batch "
                  "| CPU s: official / waifu-morph (speed-up) | max abs err |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            batched = f"{r['ours_batched']:.3f} (batch {r['batch']}, {r['official'] / r['ours_batched']:.2f}x)" \
                if "ours_batched" in r else "batch 1"
            lines.append(f"| {r['model']} | {r['official']:.3f} | {r['ours']:.3f} | {r['official'] / r['ours']:.2f}x | "
                         f"{batched} | {r['official_cpu']:.3f} / {r['ours_cpu']:.3f} ({r['official_cpu'] / r['ours_cpu']:.2f}x) "
                         f"| {r['err']:.1e} |")
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory() as d:
            e = bench_end_to_end(args.official, args.rounds, Path(d))
        lines += ["", "| end to end, 36-frame 256 px cubic loop to MP4 | gen_video.py on CPU | waifu-morph render | speed-up | frames | PSNR |",
                  "|---|---|---|---|---|---|",
                  f"| StyleGAN2 paper256, seeds 0-2, 60 fps | {e['official']:.1f} s | {e['ours']:.1f} s (batch {e['batch']}) | "
                  f"{e['official'] / e['ours']:.2f}x | {e['frames'][0]} / {e['frames'][1]} | {e['psnr']:.1f} dB |"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
