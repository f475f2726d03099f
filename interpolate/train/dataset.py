"""The procedural chibi data set: anime-style portraits drawn with PIL, deterministic from a seed.

Each image is one head on a plain background; its random factors come in three groups that match
the scales a StyleGAN renders (coarse: head and hair silhouette, middle: eyes, mouth, accessory,
fine: colours and shading; the full list is in `chibi_factors.py`, the drawing in `chibi_draw.py`).

Image `i` of data set `seed` is drawn from `np.random.default_rng([seed, i])`, so any image can be
drawn alone, in any order, on any machine. This module holds that seeded data set (`chibi_params`,
`chibi_image`, `chibi_images`) and `contact_sheet`, which tiles images into one picture.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .chibi_draw import draw_chibi
from .chibi_factors import RGB, ChibiParams, sample_params


def chibi_params(seed: int, index: int) -> ChibiParams:
    """The factors of image `index` of data set `seed`."""
    return sample_params(np.random.default_rng([int(seed), int(index)]))


def chibi_image(seed: int, index: int, size: int = 64, supersample: int = 2) -> np.ndarray:
    """Image `index` of data set `seed` as uint8 [size, size, 3]."""
    return np.asarray(draw_chibi(chibi_params(seed, index), size, supersample), dtype=np.uint8)


def chibi_images(seed: int, count: int, size: int = 64, start: int = 0, supersample: int = 2,
                 progress=None) -> np.ndarray:
    """Images start .. start+count-1 of data set `seed` as uint8 [count, size, size, 3].

    progress: optional callable(done) called after each image."""
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        out[i] = chibi_image(seed, start + i, size, supersample)
        if progress is not None:
            progress(i + 1)
    return out


def contact_sheet(images: np.ndarray, cols: int | None = None, pad: int = 2,
                  pad_colour: RGB = (255, 255, 255)) -> Image.Image:
    """Tile uint8 images [N, H, W, 3] into one PIL image, `cols` per row (default: about square)."""
    assert images.ndim == 4 and images.shape[3] == 3 and images.dtype == np.uint8, (images.shape, images.dtype)
    n, hgt, wid, _ = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    sheet = Image.new("RGB", (cols * (wid + pad) + pad, rows * (hgt + pad) + pad), pad_colour)
    for i in range(n):
        r, c = divmod(i, cols)
        sheet.paste(Image.fromarray(images[i]), (pad + c * (wid + pad), pad + r * (hgt + pad)))
    return sheet
