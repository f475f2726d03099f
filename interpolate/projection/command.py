"""`waifu-morph project`: check everything, fit the images in batches, write each result safely.

Per image NAME, into the output folder:
    NAME.npz   w [1, num_ws, w_dim] float32 (NVIDIA's projected_w.npz layout; `render --keys NAME.npz`)
    NAME.png   the target and the fit side by side
    NAME.mp4   with --save-video: the optimisation, target beside the fit at every step
Every input is read and every output name checked before the first step, so a bad image or an
existing output stops the run with nothing written; each file appears only once it is complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WaifuError
from ..files import atomic_path
from ..images import to_uint8_numpy
from .projector import SPACES, Schedule, StepInfo, project_tensors
from .targets import load_targets

CHECKPOINT_SUFFIXES = (".pkl", ".pt", ".pth")


def split_inputs(inputs: list[str]) -> tuple[str | None, list[str]]:
    """[CKPT] IMAGE...: the first argument is the checkpoint when it ends in .pkl/.pt/.pth."""
    if inputs and inputs[0].lower().endswith(CHECKPOINT_SUFFIXES):
        return inputs[0], inputs[1:]
    return None, list(inputs)


def side_by_side(target: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 target | fit."""
    assert target.shape == fit.shape and target.ndim == 3, (target.shape, fit.shape)
    return np.concatenate([target, fit], axis=1)


def rgb_u8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> [N, H, W, 3] uint8 (grey models repeat their channel)."""
    u8 = to_uint8_numpy(images)
    return np.repeat(u8, 3, axis=3) if u8.shape[3] == 1 else u8[..., :3]


def write_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def write_w(ws: np.ndarray, path: Path) -> None:
    """One image's [num_ws, w_dim] as NVIDIA's projector saves it: np.savez(w=[1, num_ws, w_dim])."""
    assert ws.ndim == 2, ws.shape
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, w=ws[None].astype(np.float32))


class VideoWriters:
    """One MP4 per image of the batch, target beside the step's fit, written through temp files."""

    def __init__(self, paths: list[Path], targets: list[np.ndarray], fps: float = 30.0):
        import contextlib

        from ..render.encode import EncodeSettings, Mp4Encoder

        self.targets = targets
        self.stack = contextlib.ExitStack()
        self.encoders = []
        h, w = targets[0].shape[:2]
        for path in paths:
            tmp = self.stack.enter_context(atomic_path(path, suffix=".mp4"))
            self.encoders.append(Mp4Encoder(tmp, 2 * w, h, EncodeSettings(fps=fps)))

    def __call__(self, info: StepInfo) -> None:
        for enc, target, frame in zip(self.encoders, self.targets, rgb_u8(info.images)):
            enc.write(side_by_side(target, frame))

    def finish(self) -> None:
        for enc in self.encoders:
            enc.finish()
        self.stack.close()                      # renames every temp file over its target

    def abort(self, exc: BaseException) -> None:
        for enc in self.encoders:
            enc.abort()
        self.stack.__exit__(type(exc), exc, exc.__traceback__)   # removes the temp files


def run_project(inputs: list[str], *, outdir: Path, steps: int, space: str, seed: int, fit: str, loss: str,
                vgg: str | None, save_video: bool, batch_size: int | None, overwrite: bool, class_idx: int | None,
                device: str, quiet: bool, console: Any) -> list[Path]:
    from ..device import pick_device
    from ..loading import load_generator
    from ..paths.keys import class_vector
    from ..render.video import default_checkpoint
    from . import make_loss

    checkpoint, images = split_inputs(inputs)
    if space not in SPACES:
        raise WaifuError(f"unknown --space '{space}'; use w (one w for every layer) or wplus (one per layer)")
    if steps < 1:
        raise WaifuError(f"--steps must be at least 1, got {steps}")
    if batch_size is not None and batch_size < 1:
        raise WaifuError(f"--batch-size must be at least 1, got {batch_size}")
    dev = pick_device(device)
    G = load_generator(checkpoint or default_checkpoint(), device=dev)
    targets = load_targets(images, G.img_width, G.img_height, fit)
    outputs = [(outdir / f"{t.name}.npz", outdir / f"{t.name}.png", outdir / f"{t.name}.mp4") for t in targets]
    for npz, png, mp4 in outputs:
        for path in (npz, png) + ((mp4,) if save_video else ()):
            if path.exists() and not overwrite:
                raise WaifuError(f"'{path}' exists; pass --overwrite to replace it (it is replaced only once the new one is complete)")
    c = class_vector(G, 1, class_idx)
    loss_fn = make_loss(loss, vgg, dev)
    if not quiet:
        for t in targets:
            for note in t.notes:
                console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
        if loss_fn.name != "vgg16":
            from .losses import fallback_note

            console.print(f"[yellow]note:[/] {fallback_note()}", highlight=False, soft_wrap=True)
    batch_size = batch_size or (8 if dev.type == "cuda" else 4)
    written: list[Path] = []
    results = []
    from ..render.pipeline import cpu_threads

    with _progress(quiet, console) as progress, cpu_threads(dev):     # OpenMP teams spin on shared cores
        for start in range(0, len(targets), batch_size):
            chunk = targets[start:start + batch_size]
            fit_result = _fit_chunk(G, chunk, outputs[start:start + batch_size], loss_fn, steps, space, seed, c,
                                    save_video, progress)
            for t, (npz, png, mp4), ws, img, p, d in zip(chunk, outputs[start:start + batch_size], fit_result.ws,
                                                         rgb_u8(fit_result.images), fit_result.psnr, fit_result.distance):
                write_w(ws, npz)
                write_png(side_by_side(t.array, img), png)
                written += [npz, png] + ([mp4] if save_video else [])
                results.append((t.name, p, d))
    if not quiet:
        for name, p, d in results:
            console.print(f"{name}: PSNR {p:.2f} dB, {loss_fn.name} {d:.4f}", highlight=False)
        console.print(f"wrote {len(written)} file(s) to {outdir} ({space}, {steps} steps, {loss_fn.name} loss)", highlight=False)
    return written


def _fit_chunk(G, chunk, outputs, loss_fn, steps, space, seed, c, save_video, progress):
    targets = torch.stack([t.tensor(G.img_channels) for t in chunk]).to(G.w_avg.device)
    names = ", ".join(t.name for t in chunk)
    task = progress.add_task(names, total=steps, loss=float("nan"), psnr=float("nan"), rate=0.0)
    started = time.perf_counter()
    video = VideoWriters([o[2] for o in outputs], [t.array for t in chunk]) if save_video else None

    def on_step(info: StepInfo) -> None:
        if video is not None:
            video(info)
        rate = info.step / max(time.perf_counter() - started, 1e-9)
        progress.update(task, completed=info.step, loss=float(info.loss.mean()), psnr=float(info.psnr.mean()), rate=rate)

    try:
        cc = None if c is None else c.expand(len(chunk), -1)
        result = project_tensors(G, targets, loss_fn, schedule=Schedule(steps=steps), space=space, seed=seed, c=cc,
                                 callback=on_step)
    except BaseException as exc:
        if video is not None:
            video.abort(exc)
        raise
    if video is not None:
        video.finish()
    return result


def _progress(quiet: bool, console: Any):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}  PSNR {task.fields[psnr]:.2f} dB  {task.fields[rate]:.1f} steps/s"),
                    TimeRemainingColumn(), console=console, disable=quiet)
