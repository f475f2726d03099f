"""Target images for the projector: read, checked and shaped to the model, before anything is fitted.

What each kind of file becomes (each conversion is reported as a note, each refusal is one line):
    8-bit RGB                     used as it is
    grey (L, 16-bit grey)         converted to RGB (the channel repeated) for colour models
    16 bits per channel           converted to 8 bits (the high byte: what an 8-bit model can show)
    CMYK, YCbCr, palette          converted to RGB
    alpha (RGBA, LA, palette with transparency)   refused: the hidden colours under transparent
                                  pixels are arbitrary; flatten onto the background you want first
    anything PIL cannot decode    refused
Shape: `fit='crop'` cuts the centre to the model's aspect (the official projector's centre crop),
`fit='pad'` letterboxes it on the median colour of the image's border; then a Lanczos resize to
the model's size. Result: float [C, H, W] in [-1, 1], the generator's range.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import WaifuError

FITS = ("crop", "pad")
MAX_PIXELS = 100_000_000


@dataclass
class Target:
    name: str                       # output stem (the file's name without suffix)
    path: str
    array: np.ndarray               # [H, W, 3] uint8 at the model's size
    notes: list[str] = field(default_factory=list)

    def tensor(self, channels: int = 3) -> torch.Tensor:
        t = torch.from_numpy(np.array(self.array, copy=True)).permute(2, 0, 1).float() / 127.5 - 1
        return t.mean(dim=0, keepdim=True) if channels == 1 else t


def _png_bit_depth(path: str) -> int | None:
    """Bits per sample from a PNG's IHDR (PIL reads 16-bit RGB PNGs as 8-bit RGB without saying so)."""
    try:
        with open(path, "rb") as f:
            head = f.read(29)
    except OSError:
        return None
    if len(head) < 25 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">B", head[24:25])[0]


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Any image file -> ([H, W, 3] uint8, notes); one-line WaifuError for what cannot be used."""
    from PIL import Image, UnidentifiedImageError

    path = str(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise WaifuError(f"image '{path}' not found; check the path")
    notes: list[str] = []
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            has_alpha = mode in ("RGBA", "LA", "La", "RGBa", "PA") or (mode == "P" and "transparency" in img.info)
            if has_alpha:
                raise WaifuError(f"image '{name}' has an alpha channel ({mode}); transparent pixels hide arbitrary "
                                 f"colours, so flatten it onto the background you want (e.g. a white RGB copy) and "
                                 f"project that")
            if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
                arr = np.asarray(img, dtype=np.float64)
                top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
                arr = np.clip(np.floor(arr / top * 255 + 0.5), 0, 255).astype(np.uint8)
                notes.append(f"{name}: {mode} grey image converted to 8-bit RGB")
                return np.repeat(arr[:, :, None], 3, axis=2), notes
            if _png_bit_depth(path) == 16:
                notes.append(f"{name}: 16 bits per channel converted to 8")
            if mode == "L" or mode == "1":
                notes.append(f"{name}: grey image converted to RGB")
            elif mode != "RGB":
                notes.append(f"{name}: {mode} image converted to RGB")
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except WaifuError:
        raise
    except UnidentifiedImageError:
        raise WaifuError(f"'{name}' is not an image PIL can read (PNG, JPEG, WebP, ...); pass an image file") from None
    except Image.DecompressionBombError:
        raise WaifuError(f"image '{name}' is larger than {MAX_PIXELS:,} pixels; shrink it first") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise WaifuError(f"image '{name}' cannot be decoded ({exc}); it may be truncated or damaged") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise WaifuError(f"image '{name}' decoded to shape {list(rgb.shape)}; pass an RGB image")
    return rgb, notes


def fit_to(rgb: np.ndarray, width: int, height: int, fit: str) -> np.ndarray:
    """Crop (centre, to the target aspect) or pad (border-median colour), then Lanczos to width x height."""
    from PIL import Image

    if fit not in FITS:
        raise WaifuError(f"unknown --fit '{fit}'; use crop (cut the centre) or pad (add borders)")
    h, w = rgb.shape[:2]
    if fit == "crop":
        cw, ch = (w, round(w * height / width)) if w * height <= h * width else (round(h * width / height), h)
        cw, ch = max(1, min(cw, w)), max(1, min(ch, h))
        top, left = (h - ch) // 2, (w - cw) // 2
        rgb = rgb[top:top + ch, left:left + cw]
    else:
        pw, ph = (w, round(w * height / width)) if w * height >= h * width else (round(h * width / height), h)
        pw, ph = max(pw, w), max(ph, h)
        border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
        canvas = np.empty((ph, pw, 3), np.uint8)
        canvas[:] = np.median(border, axis=0).astype(np.uint8)
        top, left = (ph - h) // 2, (pw - w) // 2
        canvas[top:top + h, left:left + w] = rgb
        rgb = canvas
    if rgb.shape[:2] != (height, width):
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))
    assert rgb.shape == (height, width, 3), rgb.shape
    return rgb


def load_targets(paths: list[str], width: int, height: int, fit: str = "crop") -> list[Target]:
    """Read and shape every image first (so a bad one stops the run before anything is written)."""
    if not paths:
        raise WaifuError("no images given; pass one or more image files, e.g. waifu-morph project me.png -o out/")
    targets, seen = [], {}
    for p in paths:
        stem = Path(p).stem
        if stem in seen:
            raise WaifuError(f"'{p}' and '{seen[stem]}' would both write {stem}.npz; rename one of them")
        seen[stem] = p
        rgb, notes = read_image(p)
        targets.append(Target(stem, str(p), fit_to(rgb, width, height, fit), notes))
    return targets


def as_target(image, width: int, height: int, fit: str = "crop") -> torch.Tensor:
    """The Python API's door: a path, PIL image, uint8 [H, W, 3] array or float [3, H, W] tensor in
    [-1, 1] -> [3, height, width] float in [-1, 1]."""
    if isinstance(image, (str, os.PathLike)):
        rgb, _ = read_image(image)
        return Target("", str(image), fit_to(rgb, width, height, fit)).tensor()
    if isinstance(image, torch.Tensor):
        t = image.detach().float().cpu()
        t = t[0] if t.ndim == 4 and t.shape[0] == 1 else t
        if t.ndim != 3 or t.shape[0] not in (1, 3) or tuple(t.shape[1:]) != (height, width):
            raise WaifuError(f"a tensor target must be [3, {height}, {width}] in [-1, 1], got {list(image.shape)}")
        return t.expand(3, -1, -1) if t.shape[0] == 1 else t
    if hasattr(image, "convert"):                        # a PIL image
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise WaifuError(f"an array target must be uint8 [H, W, 3], got {arr.dtype} {list(arr.shape)}")
    return Target("", "", fit_to(arr, width, height, fit)).tensor()
