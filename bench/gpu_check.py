"""The GPU check: correctness and speed of the CUDA path in one prepared run; writes a markdown table.

    python bench/gpu_check.py                              # on a CUDA machine (< 8 minutes on an H100/H200)
    python bench/gpu_check.py --device cpu --tiny          # the same steps on tiny models, to prove the script
    python bench/gpu_check.py --out gpu_check.md --skip-tests

For random-weight generators in official configs (StyleGAN2 config-f 256/512/1024, StyleGAN3-T 256/1024,
StyleGAN1 512; --tiny: the same architectures at 32-64 px with few channels):
  accuracy    the device in float32 (TF32 off) against the CPU in float32 on the same ws: max abs error
              on the [-1, 1] image (must be < 1e-3); the checkpoint's fp16 layers against float32 on the
              device: PSNR of the uint8 frames (n/a on a CPU, where every layer is float32)
  synthesis   frames/s of G.synthesis at each batch size (the renderer's precision: fp16 layers on CUDA),
              and the peak device memory at the largest one
Then, for StyleGAN2-1024 (--tiny: 64 px): end-to-end `render` to MP4 at its size and to a 1080x1920 reel
(--size 1080x1920 --fit crop), each with generation alone, shaping + encoding alone, end to end and the
efficiency = end to end / the slower stage (the issue asks for >= 0.9), the reel also with its frames
shaped on the host (WAIFU_MORPH_SHAPING=host); the reel's shaping alone, host (Pillow) against the
device (render/shaping.py), ms per frame and same bytes; x264 frames/s with 1, 2 and 4
encoders on contiguous chunks and NVENC, skipped where none works (bench/bench_encoders.py); and last the
test suite's CUDA tests (`pytest -k cuda`, which skip without a GPU).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

SG2F = dict(z_dim=512, w_dim=512, img_channels=3, channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256,
            mapping_kwargs=dict(num_layers=8))
SG3T = dict(z_dim=512, w_dim=512, img_channels=3, channel_max=512, num_fp16_res=4, conv_clamp=256,
            mapping_kwargs=dict(num_layers=2))
SG1 = dict(z_dim=512, w_dim=512, img_channels=3, fmap_base=8192, fmap_max=512)
FULL = [("StyleGAN2 config-f 256", "stylegan2", {**SG2F, "img_resolution": 256}),
        ("StyleGAN2 config-f 512", "stylegan2", {**SG2F, "img_resolution": 512}),
        ("StyleGAN2 config-f 1024", "stylegan2", {**SG2F, "img_resolution": 1024}),
        ("StyleGAN3-T 256", "stylegan3", {**SG3T, "img_resolution": 256, "channel_base": 16384}),
        ("StyleGAN3-T 1024", "stylegan3", {**SG3T, "img_resolution": 1024, "channel_base": 32768}),
        ("StyleGAN1 512", "stylegan1", {**SG1, "img_resolution": 512})]
TINY = [("StyleGAN2 tiny 64", "stylegan2", {**SG2F, "img_resolution": 64, "channel_base": 1024, "channel_max": 64}),
        ("StyleGAN3-T tiny 32", "stylegan3", {**SG3T, "img_resolution": 32, "channel_base": 512, "channel_max": 32}),
        ("StyleGAN1 tiny 64", "stylegan1", {**SG1, "img_resolution": 64, "fmap_base": 256, "fmap_max": 64})]
FULL_BATCHES, TINY_BATCHES = (1, 2, 4, 8, 16, 32), (1, 4, 16)


def build(arch: str, kwargs: dict):
    from interpolate.networks import build as build_network

    torch.manual_seed(0)
    G = build_network(arch, **kwargs).eval().requires_grad_(False)
    with torch.no_grad():                        # random weights, but every bias and noise strength in play
        for name, t in G.named_parameters():
            if name.endswith("noise_strength"):
                t.fill_(0.1)
    return G


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_u8(img: torch.Tensor) -> np.ndarray:
    return (img.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


@torch.inference_mode()
def accuracy(G, ws: torch.Tensor, device: torch.device) -> tuple[float, float | None]:
    """(max abs error device fp32 vs CPU fp32, PSNR fp16 layers vs fp32 on the device or None)."""
    ref = G.synthesis(ws, noise_mode="const")
    Gd = G.to(device)
    Gd.force_fp32 = True
    out32 = Gd.synthesis(ws.to(device), noise_mode="const")
    err = (out32.float().cpu() - ref).abs().max().item()
    fp16 = None
    if device.type == "cuda" and getattr(Gd.synthesis, "fp16_resolutions", []):
        Gd.force_fp32 = False
        fp16 = psnr_u8(to_u8(Gd.synthesis(ws.to(device), noise_mode="const")), to_u8(out32))
    Gd.force_fp32 = False
    return err, fp16


@torch.inference_mode()
def synthesis_rates(G, device: torch.device, batches: tuple[int, ...], seconds: float) -> tuple[dict, float]:
    """{batch: frames/s} with the renderer's precision, and the peak device memory (GiB; NaN on a CPU)."""
    rates = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for b in batches:
        ws = G.mapping(torch.randn(b, G.z_dim, device=device), None, truncation_psi=0.7)
        try:
            G.synthesis(ws, noise_mode="const")              # warm-up: kernel choice, allocations
            sync(device)
            n, t0 = 0, time.perf_counter()
            while n == 0 or time.perf_counter() - t0 < seconds:
                G.synthesis(ws, noise_mode="const")
                n += b
                if device.type == "cuda":
                    sync(device)
            rates[b] = n / (time.perf_counter() - t0)
        except torch.OutOfMemoryError:
            rates[b] = float("nan")
            torch.cuda.empty_cache()
            break
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return rates, peak


def end_to_end(G, device: torch.device, frames: int, size: str | None, folder: str) -> dict:
    """Generation alone, shaping + encoding alone, end to end (frames/s) and the efficiency."""
    from bench_render import encoding, make_path, warm_up
    from interpolate.device import DeviceSpec
    from interpolate.render import OutputSpec, render_path
    from interpolate.render.frames import Geometry
    from interpolate.render.pipeline import FrameSource, cpu_threads

    path = make_path(G, frames)
    warm_up(G, path, device)                 # kernel choice and allocations stay out of the rates
    source = FrameSource(G, [path])
    w, h = source.width, source.height
    out_w, out_h = (int(v) for v in size.split("x")) if size else (w, h)
    geometry = Geometry(w, h, out_w, out_h, "crop")
    on_device = source.shape_on_device(geometry)   # then generation includes the shaping, as in render
    made = []
    t0 = time.perf_counter()
    with cpu_threads(source.device):
        for batch in source.batches():
            made.extend(batch.numpy())
    gen = len(made) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    shaped = made if on_device else [geometry.apply(f) for f in made]
    shape_s = time.perf_counter() - t0
    args = argparse.Namespace(x264_preset="veryfast")
    enc_rate, _ = encoding("mp4", shaped, args, folder)
    enc = len(made) / (len(made) / enc_rate + shape_s)
    out = os.path.join(folder, "e2e.mp4")
    t0 = time.perf_counter()
    result = render_path(G, path, OutputSpec(output=out, overwrite=True, sidecar=False, quiet=True, size=size, fit="crop",
                                                    encoder="x264"),   # the encoding stage above times x264
                         device=DeviceSpec(device=str(device)))
    e2e = result.frames / (time.perf_counter() - t0)
    return dict(gen=gen, enc=enc, e2e=e2e, eff=e2e / min(gen, enc), batch=result.batch_size, size=f"{out_w}x{out_h}")


def shaping_rows(device: torch.device, tiny: bool) -> list[str]:
    """The 1080x1920 reel's frame shaping, host (device -> host copy, then Pillow per frame on one
    thread, as the writer does) against the device (render/shaping.py, then the copy of the shaped
    frames): ms per frame, and whether the bytes are the same."""
    from interpolate.render.frames import Geometry
    from interpolate.render.shaping import DeviceShaper

    src, n = (256, 4) if tiny else (1024, 16)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:src, 0:src]
    base = np.stack([x * 255 / src, y * 255 / src, (x ^ y) % 256], -1)
    frames = torch.from_numpy(np.clip(base[None] + rng.normal(0, 12, (n, src, src, 3)), 0, 255).astype(np.uint8)).to(device)
    rows = ["", f"Frame shaping of a 1080x1920 reel from {src} px frames ({n} per batch): the host (copy, then "
                f"Pillow on the writer thread) against the device (render/shaping.py, then the copy)", "",
            "| fit | host ms/frame | device ms/frame | speed-up | same bytes |", "|---|---|---|---|---|"]
    for fit in ("crop", "pad"):
        geometry = Geometry(src, src, 1080, 1920, fit)
        shaper = DeviceShaper(geometry, device)

        def host():
            return np.stack([geometry.apply(f) for f in frames.cpu().numpy()])

        def on_device():
            return shaper(frames).cpu().numpy()

        same = np.array_equal(host(), on_device())
        times = {}
        for name, fn in (("host", host), ("device", on_device)):
            best = math.inf
            for _ in range(3):
                sync(device)
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            times[name] = 1000 * best / n
        rows.append(f"| {fit} | {times['host']:.2f} | {times['device']:.2f} | {times['host'] / times['device']:.1f}x | {same} |")
        print(rows[-1], flush=True)
    return rows


def cuda_tests() -> str:
    # no extra -q: pyproject's addopts has one, and a second drops pytest's summary line
    proc = subprocess.run([sys.executable, "-m", "pytest", "-rs", "-k", "cuda", str(REPO / "tests")],
                          capture_output=True, text=True, cwd=REPO)
    lines = [l.strip() for l in proc.stdout.splitlines() if l.strip()]
    summary = [l for l in lines if any(w in l for w in (" passed", " failed", " skipped", " deselected", " error"))]
    skips = [l for l in lines if l.startswith("SKIPPED")]
    return "; ".join(summary[-1:] + skips) if summary else f"pytest exited {proc.returncode}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --tiny: a dry run of every step)")
    ap.add_argument("--tiny", action="store_true", help="tiny models, short clips: proves the script anywhere")
    ap.add_argument("--out", type=Path, default=Path("gpu_check.md"), help="the markdown table (also printed)")
    ap.add_argument("--seconds", type=float, default=None, help="time per synthesis measurement")
    ap.add_argument("--skip-tests", action="store_true")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible: run with --device cpu --tiny for a dry run")
    torch.backends.cuda.matmul.allow_tf32 = False        # float32 means float32 in the accuracy rows
    torch.backends.cudnn.allow_tf32 = False
    models, batches = (TINY, TINY_BATCHES) if args.tiny else (FULL, FULL_BATCHES)
    seconds = args.seconds if args.seconds is not None else (0.3 if args.tiny else 2.0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    started = time.perf_counter()
    lines = [f"GPU check on {name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}", "",
             "| model | max abs err fp32 vs CPU | fp16 layers PSNR | " + " | ".join(f"batch {b} fps" for b in batches)
             + " | peak memory |", "|---" * (4 + len(batches)) + "|"]
    for label, arch, kwargs in models:
        G = build(arch, kwargs)
        ws = G.mapping(torch.randn(1, G.z_dim), None, truncation_psi=0.7)
        err, fp16 = accuracy(G, ws, device)
        rates, peak = synthesis_rates(G, device, batches, seconds)
        ok = "ok" if err < 1e-3 else "FAIL"
        cells = " | ".join(f"{rates[b]:.1f}" if b in rates else "-" for b in batches)
        lines.append(f"| {label} | {err:.1e} ({ok}) | {'n/a' if fp16 is None else f'{fp16:.1f} dB'} | {cells} | "
                     f"{'n/a' if math.isnan(peak) else f'{peak:.2f} GiB'} |")
        print(lines[-1], flush=True)
        del G
        if device.type == "cuda":
            torch.cuda.empty_cache()
    label, arch, kwargs = models[0 if args.tiny else 2]
    G = build(arch, kwargs).to(device)
    frames = 24 if args.tiny else 240
    lines += ["", f"| end to end, {label}, {frames} frames | generation fps | shaping + encoding fps | end to end fps | "
                  "efficiency | batch |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        reel = "108x192" if args.tiny else "1080x1920"
        for what, size, place in (("MP4 at its size", None, "auto"), ("reel 1080x1920 crop", reel, "auto"),
                                  ("reel 1080x1920 crop, shaped on the host", reel, "host")):
            os.environ["WAIFU_MORPH_SHAPING"] = place       # auto: on the device on CUDA (render/shaping.py)
            r = end_to_end(G, device, frames, size, folder)
            lines.append(f"| {what} ({r['size']}) | {r['gen']:.1f} | {r['enc']:.1f} | {r['e2e']:.1f} | {r['eff']:.2f} | {r['batch']} |")
            print(lines[-1], flush=True)
        os.environ.pop("WAIFU_MORPH_SHAPING", None)
    lines += shaping_rows(device, args.tiny)
    enc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_encoders.py"), "--sizes", "256" if args.tiny else "1024",
                          "--encoders", "1,2,nvenc" if args.tiny else "1,2,4,nvenc", "--frames", "24" if args.tiny else "120"],
                         capture_output=True, text=True)
    lines += ["", "Encoding: one x264 against several on contiguous chunks joined by stream copy, and NVENC "
                  "(`--encoder nvenc`; bench/bench_encoders.py)", ""]
    lines += [l for l in enc.stdout.splitlines() if l.startswith("|")] or [f"bench_encoders failed: {enc.stderr[-300:]}"]
    if not args.skip_tests:
        lines += ["", f"CUDA tests (`pytest -k cuda`): {cuda_tests()}"]
    lines += ["", f"(whole check: {time.perf_counter() - started:.0f} s)"]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
