"""Generators in plain PyTorch, one file per architecture, all with the same surface.

The surface (the only thing `paths/` and `render/` may rely on):

    G.arch                 'stylegan1' | 'stylegan2' | 'stylegan3'
    G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_channels
    G.img_resolution       max(height, width); G.img_height, G.img_width for the exact size
    G.w_avg                [w_dim] tensor (the mapping network's tracked average of w)
    G.ws_resolution        tuple of num_ws ints: the pixel scale each ws[:, i] controls
                           (StyleGAN1/2: the resolution of the block it feeds, 2 per resolution;
                            StyleGAN3: twice the cutoff frequency of the layer it modulates)
    G.noise_shapes         tuple of (H, W), one per noise input of synthesis (empty for StyleGAN3)
    G.mapping(z, c=None, truncation_psi=1.0, truncation_cutoff=None) -> ws [N, num_ws, w_dim]
    G.synthesis(ws, noise_mode='const', noise=None) -> images [N, C, H, W], about [-1, 1], unclamped
        noise_mode: 'const' (the stored noise buffers), 'random' (fresh N(0, 1)), 'none' (zeros);
        noise: optional list of tensors [N, 1, H, W] matching noise_shapes, overriding noise_mode.
    G(z, c=None, truncation_psi=1, truncation_cutoff=None, noise_mode='const') -> images

Networks are built from the constructor kwargs a checkpoint reader returns: `build(arch, **kwargs)`.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from ..errors import CheckpointError

ARCHITECTURES = {
    "stylegan1": "interpolate.networks.stylegan1",
    "stylegan2": "interpolate.networks.stylegan2",
    "stylegan3": "interpolate.networks.stylegan3",
}


def build(arch: str, **init_kwargs: Any) -> torch.nn.Module:
    """Construct the Generator of `arch` from its init kwargs (weights left at their init values)."""
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture '{arch}'; waifu-morph knows {', '.join(ARCHITECTURES)}")
    module = importlib.import_module(ARCHITECTURES[arch])
    return module.Generator(**init_kwargs)
