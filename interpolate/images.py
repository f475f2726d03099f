"""Float images to uint8: the one place, with the official tools' rounding.

The generators draw [N, C, H, W] about [-1, 1]. NVIDIA's gen_images.py / gen_video.py turn that into
bytes as (x * 127.5 + 128).clamp(0, 255).to(uint8): a shift by 128 and a truncating cast, which
rounds to nearest for x in [-1, 1]. Everything that shows or writes a generated image calls this.
"""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(img: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """[N, C, H, W] float about [-1, 1] -> uint8 on the same device ([N, H, W, C] if channels_last)."""
    u8 = (img.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return u8.permute(0, 2, 3, 1) if channels_last else u8


def to_uint8_numpy(img: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] float about [-1, 1] -> uint8 numpy [N, H, W, C] on the host."""
    return to_uint8(img, channels_last=True).contiguous().cpu().numpy()
