"""The style-mixing figure of the StyleGAN paper (Karras et al. 2019, fig. 3), as a PNG or a video.

Column sources along the top, row sources down the left; cell (r, c) is row r's w with the chosen
styles (coarse / middle / fine / explicit layers) taken from column c's w:

    w = mix_layers(w_row, w_col, layers);  img = G.synthesis(w)     (interpolate.paths.styles)

`--video` animates every cell from its row's character to the mix and back (a seamless loop),
through the same streaming renderer as `render`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..errors import WaifuError
from ..files import atomic_path
from ..images import to_uint8
from ..paths.path import Frames
from ..paths.styles import mix_layers
from .spec import OutputSpec

MAX_CELL = 256
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MIX_STYLES = ("coarse", "middle", "fine", "all")


def mixed_layers(G, style: str, layers: str | None) -> list[int]:
    from ..paths import resolve_style

    if layers is None and style not in MIX_STYLES and "+" not in style:
        raise WaifuError(f"unknown mixing style '{style}'; use coarse, middle, fine, all (or e.g. coarse+middle), or --layers")
    return list(resolve_style(G, style, layers).moving)


@torch.no_grad()
def seed_ws(G, seeds: list[int], psi: float | None) -> torch.Tensor:
    """[len(seeds), num_ws, w_dim] truncated ws, as NVIDIA's style_mixing.py maps them (psi None: the
    checkpoint's own truncation, as render and image use)."""
    from ..paths.truncation import resolve_truncation, truncate
    from ..seeds import z_from_seed

    if G.c_dim:
        raise WaifuError("the style-mixing figure is for unconditional models; this one has classes")
    psi, cutoff = resolve_truncation(G, psi, None)
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds])).to(G.w_avg.device, torch.float32)
    return truncate(G.mapping(z, None, truncation_psi=1.0), G.w_avg, psi, cutoff)


def mixing_ws(w_rows: torch.Tensor, w_cols: torch.Tensor, layers: list[int], alpha: float = 1.0) -> torch.Tensor:
    """ws of every cell, [R, C, num_ws, w_dim]: row's w with `layers` moved `alpha` of the way to the column's."""
    R, C = w_rows.shape[0], w_cols.shape[0]
    return mix_layers(w_rows[:, None].expand(R, C, *w_rows.shape[1:]), w_cols[None], layers, alpha)


class MixCellPath:
    """One cell of the animated figure (a paths.RenderablePath)."""

    def __init__(self, w_from: torch.Tensor, w_to: torch.Tensor, layers: list[int], num_frames: int, fps: float,
                 noise_mode: str, text: str):
        self.w_from, self.w_to, self.layers = w_from.cpu().float(), w_to.cpu().float(), layers
        self.num_frames, self.fps, self.noise_mode, self.text = num_frames, fps, noise_mode, text

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        return 0.5 - 0.5 * np.cos(2 * math.pi * frame / self.num_frames)

    def chunk(self, start: int, stop: int) -> Frames:
        stop = min(stop, self.num_frames)
        a = torch.from_numpy(self.alpha(np.arange(start, stop, dtype=np.float64))).float()
        ws = mix_layers(self.w_from[None].repeat(len(a), 1, 1), self.w_to[None], self.layers, a[:, None, None])
        return Frames(start, ws, None, self.noise_mode)

    def label(self, frame: int) -> str:
        return self.text

    def describe(self) -> dict:
        return {"figure": "style-mixing", "cell": self.text, "layers": self.layers, "num_frames": self.num_frames}


def style_mixing(checkpoint: str | None, *, rows: str, cols: str, style: str = "coarse", layers: str | None = None,
                 psi: float | None = None, noise: str = "const", output: str = "mix.png", video: bool = False,
                 seconds: float = 2.0, fps: float = 30.0, cell: int | None = None, overwrite: bool = False,
                 device: str = "auto", quiet: bool = False, console=None):
    """Write the figure (PNG) or its animation (--video: mp4/gif/webp) and return the output path."""
    from ..device import pick_device
    from ..loading import load_generator
    from ..seeds import parse_seeds
    from .video import default_checkpoint

    row_seeds, col_seeds = parse_seeds(rows), parse_seeds(cols)
    if noise not in ("const", "random", "none"):
        raise WaifuError(f"unknown noise mode '{noise}'; use const, random or none")
    out = Path(output)
    if not video and out.suffix.lower() not in STILL_SUFFIXES:
        raise WaifuError(f"the figure is an image: name it .png (or .jpg/.webp), got '{out.name}'; "
                         f"pass --video for an .mp4 or .gif")
    if not video and out.exists() and not overwrite:
        raise WaifuError(f"'{out}' exists; pass -y/--overwrite to replace it")
    if not (seconds > 0 and fps > 0):
        raise WaifuError("--seconds and --fps must be > 0")
    G = load_generator(checkpoint or default_checkpoint(), device=pick_device(device))
    moved = mixed_layers(G, style, layers)
    cell = int(cell or MAX_CELL)            # 256 px: small models upscaled, large ones reduced (Lanczos)
    if not 8 <= cell <= 2048:
        raise WaifuError(f"--cell must be 8-2048 px, got {cell}")
    w_rows, w_cols = seed_ws(G, row_seeds, psi), seed_ws(G, col_seeds, psi)
    R, C = len(row_seeds), len(col_seeds)

    if video:
        return _mix_video(G, w_rows, w_cols, row_seeds, col_seeds, moved, noise, output, seconds, fps, cell,
                          overwrite, device, quiet, console)
    with torch.no_grad():
        mixed = mixing_ws(w_rows, w_cols, moved).reshape(R * C, G.num_ws, G.w_dim)
        imgs = _synth(G, torch.cat([w_cols, w_rows, mixed]), noise)
    cw = round(cell * G.img_width / G.img_height)
    canvas = np.full(((R + 1) * cell, (C + 1) * cw, 3), 255, np.uint8)
    tiles = [_resize(img, cw, cell) for img in imgs]
    for c in range(C):
        canvas[:cell, (c + 1) * cw:(c + 2) * cw] = tiles[c]
    for r in range(R):
        canvas[(r + 1) * cell:(r + 2) * cell, :cw] = tiles[C + r]
        for c in range(C):
            canvas[(r + 1) * cell:(r + 2) * cell, (c + 1) * cw:(c + 2) * cw] = tiles[C + R + r * C + c]
    _write_image(canvas, out)
    if console is not None and not quiet:
        console.print(f"wrote {out}  {(C + 1) * cw}x{(R + 1) * cell}  rows {','.join(map(str, row_seeds))} x "
                      f"cols {','.join(map(str, col_seeds))}, {style if layers is None else 'layers ' + layers} "
                      f"styles from the columns", highlight=False, soft_wrap=True)
    return out


def _synth(G, ws: torch.Tensor, noise_mode: str, batch: int = 8) -> np.ndarray:
    parts = []
    for i in range(0, len(ws), batch):
        u8 = to_uint8(G.synthesis(ws[i:i + batch], noise_mode=noise_mode))
        u8 = u8.expand(-1, 3, -1, -1) if u8.shape[1] == 1 else u8[:, :3]
        parts.append(u8.permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(parts)


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    if img.shape[:2] == (h, w):
        return img
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((w, h), Image.LANCZOS))


def _write_image(array: np.ndarray, out: Path) -> None:
    from PIL import Image

    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}[out.suffix.lower()]
    with atomic_path(out, suffix=out.suffix.lower()) as tmp:
        Image.fromarray(array).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def _mix_video(G, w_rows, w_cols, row_seeds, col_seeds, moved, noise, output, seconds, fps, cell, overwrite,
               device, quiet, console):
    from .video import render_paths

    R, C = len(row_seeds), len(col_seeds)
    n = max(2, int(round(2 * seconds * fps)))            # there and back
    still = lambda w, text: MixCellPath(w, w, [], n, fps, noise, text)  # noqa: E731
    cells = [still(G.w_avg[None].repeat(G.num_ws, 1), "")]
    cells += [still(w_cols[c], f"seed {col_seeds[c]}") for c in range(C)]
    for r in range(R):
        cells.append(still(w_rows[r], f"seed {row_seeds[r]}"))
        cells += [MixCellPath(w_rows[r], w_cols[c], moved, n, fps, noise, "") for c in range(C)]
    cw = round(cell * G.img_width / G.img_height)
    out = OutputSpec(output=str(output), overwrite=overwrite, quiet=quiet, sidecar=False,
                     size=f"{(C + 1) * cw}x{(R + 1) * cell}")

    def blank_corner(index: int, frame: np.ndarray) -> np.ndarray:
        frame = frame.copy()
        frame[:cell, :cw] = 255
        return frame

    result = render_paths(G, cells, out, cols=C + 1, rows=R + 1, frame_hook=blank_corner, console=console)
    if console is not None and not quiet:
        from rich.markup import escape

        for note in result.notes:
            console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
        console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    return Path(output)
