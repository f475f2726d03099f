"""Frame shaping on the host: output size (resize with Lanczos, then pad or crop) and captions.

The default output size: a model under 256 px is upscaled so the short side is 256 px (a 64 px model
gives 256x256); `--size WxH` wins, `--size native` keeps the generated size.

    geometry = Geometry(src_w, src_h, out_w, out_h, fit="pad")     # parse_size('1080x1920'), FITS
    out_w, out_h, how = output_size(None, 64, 64, 64, 64)           # (256, 256, 'upscaled from 64x64 ...')
    frame = geometry.apply(frame)                                   # HxWx3 uint8 -> out_h x out_w x 3
    labeler = Labeler(paths, geometry, cols, rows, cell_w, cell_h)  # one caption per grid cell
    frame = labeler(index, frame)

The grid itself is tiled on the device by render/pipeline.FrameSource (`parse_grid` reads --grid). On
CUDA, Geometry.apply's resize/pad/crop runs there too, with the same bytes (render/shaping.py); captions
are always drawn here, on the shaped frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import WaifuError

FITS = ("pad", "crop")
MAX_SIDE = 8192             # --size / grid limit per side


NATIVE = "native"           # --size native: the generator's own size


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1080x1920' -> (1080, 1920); None or 'native' -> None (the size is chosen from the model)."""
    if text in (None, "") or str(text).strip().lower() == NATIVE:
        return None
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise WaifuError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 512x512 or 1080x1920; got '{text}'") from None
    if not (2 <= w <= MAX_SIDE and 2 <= h <= MAX_SIDE):
        raise WaifuError(f"--size {text} is out of range; each side must be 2-{MAX_SIDE} px")
    return w, h


AUTO_SHORT_SIDE = 256      # models under this draw a postage stamp: by default the output is upscaled to it


def output_size(size: str | None, src_w: int, src_h: int, model_w: int, model_h: int) -> tuple[int, int, str]:
    """(width, height, how it was chosen) of the output frame for --size, from the generated frame
    (src, a grid of cells of the model's size): WIDTHxHEIGHT as given; 'native' the generated size; by
    default (None) a model under AUTO_SHORT_SIDE px is upscaled (Lanczos) so the short side is that."""
    fixed = parse_size(size)
    if fixed is not None:
        return fixed[0], fixed[1], ""
    native = str(size).strip().lower() == NATIVE if size is not None else False
    if native or min(model_w, model_h) >= AUTO_SHORT_SIDE or min(src_w, src_h) >= AUTO_SHORT_SIDE:
        return src_w, src_h, ""
    scale = AUTO_SHORT_SIDE / min(src_w, src_h)
    w, h = max(AUTO_SHORT_SIDE, round(src_w * scale)), max(AUTO_SHORT_SIDE, round(src_h * scale))
    return w, h, f"upscaled from {src_w}x{src_h}, Lanczos; --size native keeps {src_w}x{src_h}"


def parse_grid(text: str | None) -> tuple[int, int]:
    """'3x2' -> (3 columns, 2 rows); None -> (1, 1)."""
    if text in (None, ""):
        return 1, 1
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        cols, rows = (int(p) for p in parts)
    except ValueError:
        raise WaifuError(f"--grid must be COLSxROWS, e.g. 3x2; got '{text}'") from None
    if not (1 <= cols <= 16 and 1 <= rows <= 16):
        raise WaifuError(f"--grid {text} is out of range; use 1-16 columns and rows")
    return cols, rows


@dataclass
class Geometry:
    """How a generated (grid) frame becomes an output frame: Lanczos resize, then pad or crop."""
    src_w: int
    src_h: int
    out_w: int
    out_h: int
    fit: str = "pad"

    def __post_init__(self):
        if self.fit not in FITS:
            raise WaifuError(f"unknown fit '{self.fit}'; use pad (black bars) or crop (fill the frame)")
        pick = min if self.fit == "pad" else max
        self.scale = pick(self.out_w / self.src_w, self.out_h / self.src_h)
        self.res_w = max(1, round(self.src_w * self.scale))
        self.res_h = max(1, round(self.src_h * self.scale))
        self.off_x = (self.out_w - self.res_w) // 2        # negative when cropping
        self.off_y = (self.out_h - self.res_h) // 2

    @property
    def identity(self) -> bool:
        return (self.src_w, self.src_h) == (self.out_w, self.out_h)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        if self.identity:
            return frame
        from PIL import Image

        img = Image.fromarray(frame)
        if (self.res_w, self.res_h) != (self.src_w, self.src_h):
            img = img.resize((self.res_w, self.res_h), Image.LANCZOS)
        if self.off_x >= 0 and self.off_y >= 0 and (self.res_w, self.res_h) == (self.out_w, self.out_h):
            return np.asarray(img)
        canvas = Image.new("RGB", (self.out_w, self.out_h))
        canvas.paste(img, (self.off_x, self.off_y))
        return np.asarray(canvas)

    def map_rect(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        """A source rectangle in output pixels (clipped to the frame)."""
        f = lambda v, off, hi: int(min(max(v * self.scale + off, 0), hi))  # noqa: E731
        return (f(x0, self.off_x, self.out_w), f(y0, self.off_y, self.out_h),
                f(x1, self.off_x, self.out_w), f(y1, self.off_y, self.out_h))


class Labeler:
    """Seed numbers on the frames: one caption per grid cell, bottom-left, white with a dark outline."""

    def __init__(self, paths: Sequence, geometry: Geometry, cols: int, rows: int, cell_w: int, cell_h: int):
        from PIL import ImageFont

        self.paths, self.cols = paths, cols
        self.rects = [geometry.map_rect(c * cell_w, r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h)
                      for r in range(rows) for c in range(cols)]
        h = min(y1 - y0 for _, y0, _, y1 in self.rects)
        self.size = max(9, int(h / 12))
        try:
            self.font = ImageFont.load_default(size=self.size)
        except (TypeError, OSError, ImportError):   # Pillow without FreeType
            self.font = ImageFont.load_default()

    def text(self, path, frame: int) -> str:
        """The caption: 'seed 3', 'seed 3 -> 17' during a transition ('->': Pillow's built-in font has no arrow)."""
        text = path.label(frame)
        text = text.replace("→", "->")
        return f"seed {text}" if text.replace(" -> ", "").isdigit() else text

    def __call__(self, index: int, frame: np.ndarray) -> np.ndarray:
        from PIL import Image, ImageDraw

        img = Image.fromarray(frame)
        draw = ImageDraw.Draw(img)
        pad = max(2, self.size // 3)
        for path, (x0, y0, x1, y1) in zip(self.paths, self.rects):
            text = self.text(path, index)
            if not text:
                continue
            box = draw.textbbox((0, 0), text, font=self.font, stroke_width=max(1, self.size // 8))
            draw.text((x0 + pad - box[0], y1 - pad - box[3]), text, font=self.font, fill=(255, 255, 255),
                      stroke_width=max(1, self.size // 8), stroke_fill=(0, 0, 0))
        return np.asarray(img)
