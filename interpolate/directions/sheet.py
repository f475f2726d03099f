"""The directions sheet: what each direction does, at a glance.

A row per direction, labelled on the left (its number and, for SeFa, its share of the eigenvalues);
in each row, for each seed, columns from -strength to +strength (the middle column, strength 0, is
the seed itself); strengths along the top. Each seed's untruncated ws are moved,
ws[:, layers] += s * direction, then truncated with the checkpoint's psi: exactly what
`render --direction` does to a frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import WaifuError
from ..files import atomic_path
from ..images import to_uint8_numpy
from .file import Directions

GAP = 6
LABEL_W, HEAD_H = 110, 34


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):   # Pillow without FreeType
        return ImageFont.load_default()


@torch.no_grad()
def sheet_cells(G, dirs: Directions, rows: list[int], seeds: list[int], strengths: np.ndarray, psi: float | None,
                batch: int = 16) -> np.ndarray:
    """uint8 [len(rows), len(seeds), len(strengths), H, W, 3]."""
    from ..paths.truncation import resolve_truncation, truncate
    from ..seeds import z_from_seed

    psi, cutoff = resolve_truncation(G, psi, None)
    device = G.w_avg.device
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds])).to(device, torch.float32)
    base = G.mapping(z, None).double().cpu().numpy()                    # [S, num_ws, w_dim] untruncated
    ws = np.stack([[base[s] + dirs.offset(r, strengths) for s in range(len(seeds))] for r in rows])
    flat = torch.from_numpy(ws.reshape(-1, G.num_ws, G.w_dim).astype(np.float32))
    flat = truncate(flat, G.w_avg.detach().float().cpu(), psi, cutoff).to(device)
    images = np.concatenate([to_uint8_numpy(G.synthesis(flat[i:i + batch])) for i in range(0, len(flat), batch)])
    images = np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images[..., :3]
    return images.reshape(len(rows), len(seeds), len(strengths), *images.shape[1:])


def draw_sheet(G, dirs: Directions, path: str | Path, rows: list[int], seeds: list[int], strength: float,
               columns: int = 5, psi: float | None = None, cell: int | None = None) -> Path:
    """Render and write the sheet PNG; returns its path."""
    from PIL import Image, ImageDraw

    if G.c_dim:
        raise WaifuError("the directions sheet is for unconditional models; this one has classes")
    if columns < 2:
        raise WaifuError(f"--columns must be at least 2, got {columns}")
    for r in rows:
        dirs.check_index(r)
    strengths = np.linspace(-strength, strength, columns)
    cells = sheet_cells(G, dirs, rows, seeds, strengths, psi)
    h, w = cells.shape[3:5]
    cell = cell or min(256, max(96, h))
    cw = round(cell * w / h)
    label_w, head_h = LABEL_W, HEAD_H
    width = label_w + len(seeds) * (columns * cw + GAP)
    height = head_h + len(rows) * cell
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = _font(12)
    total = float(np.sum(dirs.values)) if dirs.method == "sefa" and np.sum(dirs.values) > 0 else 0.0
    for j in range(len(seeds)):
        x0 = label_w + j * (columns * cw + GAP)
        draw.text((x0 + 4, 2), f"seed {seeds[j]}", font=font, fill=(0, 0, 0))
        for k, s in enumerate(strengths):
            draw.text((x0 + k * cw + 4, 18), f"{s:+.1f}", font=font, fill=(0, 0, 0))
    for i, r in enumerate(rows):
        y0 = head_h + i * cell
        text = f"#{r}" + (f"\n{100 * dirs.values[r] / total:.1f}%" if total else "") + f"\n{dirs.labels[r]}"[:40]
        draw.multiline_text((6, y0 + 6), text, font=font, fill=(0, 0, 0))
        for j in range(len(seeds)):
            x0 = label_w + j * (columns * cw + GAP)
            for k in range(columns):
                tile = Image.fromarray(cells[i, j, k])
                if tile.size != (cw, cell):
                    tile = tile.resize((cw, cell), Image.LANCZOS)
                canvas.paste(tile, (x0 + k * cw, y0))
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise WaifuError(f"--sheet must be a .png file, got '{path.name}'")
    with atomic_path(path, suffix=".png") as tmp:
        canvas.save(tmp, format="PNG", optimize=True)
    return path
