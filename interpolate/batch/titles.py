"""A reel segment's title: a translucent band across the lower third of a frame, drawn with PIL."""

from __future__ import annotations

import numpy as np


def draw_title(frame: np.ndarray, text: str, opacity: float = 1.0) -> np.ndarray:
    """A title in a translucent band across the lower third of an HxWx3 uint8 frame (drawn with PIL)."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = frame.shape[:2]
    img = Image.fromarray(frame).convert("RGBA")
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    size = max(8, int(min(h, w) * 0.09))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:                              # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    box = draw.textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    pad = max(2, size // 3)
    band_top = int(h * 0.72) - th // 2 - pad
    draw.rectangle([0, band_top, w, band_top + th + 2 * pad], fill=(0, 0, 0, int(140 * opacity)))
    draw.text(((w - tw) // 2 - box[0], band_top + pad - box[1]), text, font=font,
              fill=(255, 255, 255, int(255 * opacity)))
    return np.asarray(Image.alpha_composite(img, overlay).convert("RGB"))
