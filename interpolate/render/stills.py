"""Still images: one PNG per seed, drawn as NVIDIA's gen_images.py draws them.

z = RandomState(seed).randn(1, z_dim); ws = truncate(mapping(z, c), psi, cutoff) (paths/truncation.py,
the official formula); img = synthesis(ws, noise_mode); uint8 by interpolate.images (the official
rounding). Seeds go through the network in batches; each PNG is written through interpolate.files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import WaifuError
from ..files import atomic_path
from ..images import to_uint8_numpy
from ..seeds import parse_seeds, z_from_seed

NOISE_MODES = ("const", "random", "none")


def write_png(array: np.ndarray, path: Path) -> None:
    """Write one HxWxC uint8 image atomically (interpolate.files.atomic_path)."""
    from PIL import Image

    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(array.shape[2])
    if mode is None:
        raise WaifuError(f"cannot write a {array.shape[2]}-channel image as PNG")
    img = Image.fromarray(array[:, :, 0] if mode == "L" else array, mode)
    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp, format="PNG")


def seed_file_name(seed: int) -> str:
    return f"seed{seed:04d}.png"


@torch.no_grad()
def render_seeds(G: torch.nn.Module, seeds: Sequence[int], psi: float = 1.0, cutoff: int | None = None,
                 noise_mode: str = "const", class_idx: int | None = None, batch_size: int = 8):
    """Yield (seed, uint8 HxWxC image) for each seed, synthesizing `batch_size` at a time."""
    from ..paths.keys import class_vector
    from ..paths.truncation import truncate

    device = G.w_avg.device
    for start in range(0, len(seeds), batch_size):
        chunk = list(seeds[start:start + batch_size])
        z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in chunk])).to(device, torch.float32)
        c = class_vector(G, len(chunk), class_idx)
        ws = truncate(G.mapping(z, c, truncation_psi=1.0), G.w_avg, psi, cutoff)
        images = to_uint8_numpy(G.synthesis(ws, noise_mode=noise_mode))
        yield from zip(chunk, images)


def write_seed_images(checkpoint: str | Path | None, seeds: str | Sequence[int] = "0-7", psi: float | None = None, cutoff: int | None = None,
                      noise_mode: str = "const", outdir: str | Path = "out", device: str | None = "auto", quiet: bool = False,
                      console: Any = None, class_idx: int | None = None, batch_size: int | None = None) -> list[Path]:
    """Load `checkpoint` and write outdir/seedNNNN.png for each seed; returns the paths written.

    psi / cutoff None: the checkpoint's own truncation (StyleGAN1 Gs: 0.7 on ws[:8]), else none.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..device import pick_device
    from ..loading import load_generator
    from ..paths.keys import class_vector
    from ..paths.truncation import resolve_truncation

    if noise_mode not in NOISE_MODES:
        raise WaifuError(f"--noise-mode {noise_mode!r} is not one of {', '.join(NOISE_MODES)}")
    seed_list = parse_seeds(seeds)
    if not seed_list:
        raise WaifuError("no seeds given; pass e.g. --seeds 0-7")
    dev = pick_device(device)
    if psi is not None and not math.isfinite(psi):
        raise WaifuError(f"--psi must be a finite number, got {psi}")
    if checkpoint is None:
        from .video import default_checkpoint

        checkpoint = default_checkpoint()
    G = load_generator(checkpoint, device=dev)
    if cutoff is not None and not 0 <= cutoff <= G.num_ws:
        raise WaifuError(f"--cutoff {cutoff} is out of range; this model has {G.num_ws} ws (0-{G.num_ws})")
    psi, cutoff = resolve_truncation(G, psi, cutoff)
    class_vector(G, 1, class_idx)       # a conditional model needs a valid --class-idx: fail before writing
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WaifuError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    if batch_size is None:
        batch_size = 8 if dev.type == "cpu" else 16
    written: list[Path] = []
    progress = Progress(TextColumn("[bold]images"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, disable=quiet, transient=False)
    with progress:
        task = progress.add_task("images", total=len(seed_list))
        for seed, image in render_seeds(G, seed_list, psi, cutoff, noise_mode, class_idx, batch_size):
            path = out / seed_file_name(seed)
            try:
                write_png(image, path)
            except OSError as exc:
                raise WaifuError(f"cannot write {path}: {exc.strerror or exc}") from None
            written.append(path)
            progress.advance(task)
    if not quiet and console is not None:
        trunc = f"psi {psi:g}" + (f" on ws[:{cutoff}]" if cutoff is not None and psi != 1 else "")
        console.print(f"wrote {len(written)} image(s) to {out} ({trunc})")
    return written
