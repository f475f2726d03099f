"""The model card's pictures: a seed grid, per-scale style strips and a data-set contact sheet.

A style strip moves only one style group (coarse / middle / fine, from `paths.styles.style_groups`)
from seed a to seed b, linearly in W, and keeps every other layer at seed a: the still frames of what
`waifu-morph render --style fine` animates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..files import atomic_path
from ..paths.styles import style_groups
from ..seeds import z_from_seed
from .dataset import chibi_images, contact_sheet
from ..images import to_uint8_numpy as to_uint8


def _ws(G: torch.nn.Module, seeds: list[int], psi: float) -> torch.Tensor:
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds])).float()
    from .check import class_labels

    return G.mapping(z, class_labels(G, len(z)), truncation_psi=psi)


@torch.no_grad()
def seed_grid(G: torch.nn.Module, seeds: list[int], psi: float = 0.7, cols: int = 4) -> Image.Image:
    return contact_sheet(to_uint8(G.synthesis(_ws(G, seeds, psi), noise_mode="const")), cols=cols)


@torch.no_grad()
def style_strip(G: torch.nn.Module, seed_a: int, seed_b: int, style: str = "fine", frames: int = 3,
                psi: float = 0.7) -> np.ndarray:
    """uint8 [frames, H, W, 3]: seed a's image with the `style` layers moved to seed b's."""
    layers = style_groups(G)[style]
    ws = _ws(G, [seed_a, seed_b], psi)
    out = ws[:1].repeat(frames, 1, 1)
    for i, t in enumerate(np.linspace(0.0, 1.0, frames)):
        out[i, layers] = ws[0, layers].lerp(ws[1, layers], float(t))
    return to_uint8(G.synthesis(out, noise_mode="const"))


def style_sheet(G: torch.nn.Module, pairs: list[tuple[int, int]], style: str, frames: int = 3,
                psi: float = 0.7) -> Image.Image:
    """One row per seed pair, `frames` columns."""
    rows = [style_strip(G, a, b, style, frames, psi) for a, b in pairs]
    return contact_sheet(np.concatenate(rows), cols=frames)


def _save(img: Image.Image, path: Path, scale: int) -> Path:
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp)
    return path


def write_card_figures(G: torch.nn.Module, outdir: Path, name: str, psi: float = 0.7, scale: int = 2,
                       dataset_seed: int = 0) -> list[Path]:
    """{name}-grid.png (seeds 0-15), {name}-{coarse,middle,fine}.png (3 frames, 3 seed pairs),
    {name}-dataset.png (the first 32 data-set images)."""
    outdir.mkdir(parents=True, exist_ok=True)
    pairs = [(1, 2), (3, 4), (5, 6)]
    written = [_save(seed_grid(G, list(range(16)), psi), outdir / f"{name}-grid.png", scale)]
    for style in ("coarse", "middle", "fine"):
        written.append(_save(style_sheet(G, pairs, style, 3, psi), outdir / f"{name}-{style}.png", scale))
    data = contact_sheet(chibi_images(dataset_seed, 32, G.img_resolution), cols=8)
    written.append(_save(data, outdir / f"{name}-dataset.png", scale))
    return written
