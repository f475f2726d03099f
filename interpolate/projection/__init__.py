"""Projecting images into a generator's W space: the Python API behind `waifu-morph project`.

    from interpolate import load_generator, project
    G = load_generator("checkpoints/chibi-64.pt")
    fit = project(G, "me.png", steps=300)            # or a list of images, fitted as one batch
    fit.ws                                           # [1, num_ws, w_dim] float32, NVIDIA's projected_w layout
    fit.psnr, fit.distance, fit.loss_name

Modules: targets.py (reading and shaping images), losses.py (VGG16 distance, the weight-free
fallback, noise regularisation, PSNR), vgg16.py (the feature network and its safe loader),
projector.py (the optimisation), outputs.py (the files `project` writes).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from .losses import PerceptualLoss, StructuralLoss, pick_loss
from .projector import SPACES, Projection, Schedule, StepInfo, project_tensors
from .targets import FITS, as_target

LOSSES = ("auto", "vgg16", "ms-ssim")


def make_loss(loss: str, vgg, device) -> PerceptualLoss | StructuralLoss:
    """'auto': VGG16 if its weights are found, else the fallback; 'vgg16' insists; 'ms-ssim' never looks."""
    from ..errors import WaifuError
    from .vgg16 import default_path, find_weights, load_vgg16

    if loss not in LOSSES:
        raise WaifuError(f"unknown loss '{loss}'; use auto, vgg16 or ms-ssim")
    if loss == "ms-ssim":
        return StructuralLoss()
    if loss == "vgg16":
        path = find_weights(vgg)
        if path is None:
            raise WaifuError(f"--loss vgg16 needs VGG16 weights: put torchvision's file at {default_path()} or pass --vgg FILE")
        return PerceptualLoss(load_vgg16(path, device))
    return pick_loss(vgg, device)


def project(G, image, *, steps: int = 1000, space: str = "w", seed: int = 0, fit: str = "crop", loss: str = "auto",
            vgg=None, class_idx: int | None = None, callback: Callable[[StepInfo], None] | None = None,
            wplus_reg: float | None = None) -> Projection:
    """Fit one image or a list of images (paths, PIL images, uint8 [H, W, 3] arrays or [3, H, W]
    tensors in [-1, 1]) in W (`space='w'`) or W+ (`'wplus'`); see projector.py for the method."""
    from ..paths.keys import class_vector

    images: Sequence = image if isinstance(image, (list, tuple)) else [image]
    device = G.w_avg.device
    targets = torch.stack([as_target(im, G.img_width, G.img_height, fit) for im in images]).to(device)
    if G.img_channels == 1:
        targets = targets.mean(dim=1, keepdim=True)
    schedule = Schedule(steps=int(steps)) if wplus_reg is None else Schedule(steps=int(steps), wplus_reg=wplus_reg)
    c = class_vector(G, len(images), class_idx)
    return project_tensors(G, targets, make_loss(loss, vgg, device), schedule=schedule, space=space, seed=seed, c=c,
                           callback=callback)


__all__ = ["project", "project_tensors", "Projection", "Schedule", "StepInfo", "SPACES", "FITS", "LOSSES", "make_loss"]
