"""What the projector minimises and how the fit is scored, one value per image so batches stay independent.

    perceptual   VGG16 features at the LPIPS taps, each unit-normalised over channels, squared
                 differences summed over channels, averaged over positions, summed over taps: LPIPS
                 with every learned channel weight set to 1 (the official projector's VGG16 distance
                 reads the same five taps). Images wider than 256 px are area-resized to 256 first.
    structural   the weight-free fallback when no VGG16 weights are on the machine:
                 0.84 * (1 - MS-SSIM) + 0.16 * L1, the mix Zhao et al. (2017, "Loss Functions for Image
                 Restoration with Neural Networks") found better than L1 or L2 alone: L1 keeps colours and
                 brightness, MS-SSIM keeps edges and local contrast at several scales, neither needs
                 learned weights. MS-SSIM here is the weighted mean of SSIM over scales (Wang et al.
                 2003's weights, renormalised to the scales a small image has), so it stays smooth where
                 a coarse scale's contrast term turns negative.
    noise_regularisation   the official projector's: squared autocorrelation of each noise map at
                 shifts of one pixel in x and y, summed over a pyramid down to 8x8.
    psnr         on [-1, 1] images, peak-to-peak 2 (the same as 8-bit PSNR on the uint8 images).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

FEATURE_SIZE = 256                               # the official projector scores at most 256x256
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_WINDOW, SSIM_SIGMA, SSIM_MIN_SIDE = 11, 1.5, 16
ALPHA = 0.84                                     # Zhao et al.: weight of the MS-SSIM term


def feature_size(images: torch.Tensor) -> torch.Tensor:
    """Area-resize so the longer side is at most FEATURE_SIZE (the official projector's 256)."""
    h, w = images.shape[-2:]
    if max(h, w) <= FEATURE_SIZE:
        return images
    scale = FEATURE_SIZE / max(h, w)
    return F.interpolate(images, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")


def as_rgb(images: torch.Tensor) -> torch.Tensor:
    """[N, 1 or 3 (or more), H, W] -> [N, 3, H, W] (grey models repeat their channel)."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


class PerceptualLoss:
    """LPIPS-style VGG16 distance (unit channel weights); `name` is what the CLI reports."""

    name = "vgg16"

    def __init__(self, vgg: torch.nn.Module):
        self.vgg = vgg

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        taps = self.vgg(feature_size(as_rgb(images)))
        return [t * (t.square().sum(dim=1, keepdim=True) + 1e-10).rsqrt() for t in taps]

    def prepare(self, targets: torch.Tensor) -> list[torch.Tensor]:
        with torch.no_grad():
            return self.features(targets)

    def __call__(self, images: torch.Tensor, prepared: list[torch.Tensor]) -> torch.Tensor:
        feats = self.features(images)
        return sum((a - b).square().sum(dim=1).mean(dim=(1, 2)) for a, b in zip(feats, prepared))


class StructuralLoss:
    """0.84 (1 - MS-SSIM) + 0.16 L1, on [0, 1] images; needs no weights."""

    name = "ms-ssim+l1"

    def prepare(self, targets: torch.Tensor) -> torch.Tensor:
        return feature_size(as_rgb(targets)).detach()

    def __call__(self, images: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        x = (feature_size(as_rgb(images)) + 1) / 2
        y = (prepared + 1) / 2
        l1 = (x - y).abs().mean(dim=(1, 2, 3))
        return ALPHA * (1 - ms_ssim(x, y)) + (1 - ALPHA) * l1


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    t = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-t.square() / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
    range 1), 'valid' windows; the window shrinks to fit images smaller than 11 px."""
    c = x.shape[1]
    size = min(SSIM_WINDOW, x.shape[-1], x.shape[-2])
    win = _gaussian_window(size, SSIM_SIGMA, c, x.device, x.dtype)
    blur = lambda t: F.conv2d(t, win, groups=c)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx.square(), blur(y * y) - my.square(), blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx.square() + my.square() + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Weighted mean over scales of SSIM, halving while the short side is at least 16 px (at most 5)."""
    values, weights = [], []
    for weight in MS_SSIM_WEIGHTS:
        values.append(ssim(x, y))
        weights.append(weight)
        if min(x.shape[-2:]) < 2 * SSIM_MIN_SIDE:
            break
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    w = torch.tensor(weights, device=x.device, dtype=x.dtype)
    return (torch.stack(values, dim=1) * (w / w.sum())).sum(dim=1)


def noise_regularisation(noises: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per image [N]: sum over maps and pyramid levels of the squared 1-px autocorrelations."""
    total = None
    for noise in noises:
        assert noise.ndim == 4 and noise.shape[1] == 1, noise.shape
        n = noise
        while True:
            term = ((n * torch.roll(n, shifts=1, dims=3)).mean(dim=(1, 2, 3)).square()
                    + (n * torch.roll(n, shifts=1, dims=2)).mean(dim=(1, 2, 3)).square())
            total = term if total is None else total + term
            if min(n.shape[2], n.shape[3]) <= 8:
                break
            n = F.avg_pool2d(n, kernel_size=2)
    return total


@torch.no_grad()
def psnr(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per image, dB, on [-1, 1] images (clamped), peak-to-peak 2."""
    mse = (images.clamp(-1, 1) - targets.clamp(-1, 1)).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(4 / mse.clamp_min(1e-12))


def pick_loss(vgg_path, device) -> PerceptualLoss | StructuralLoss:
    """The VGG16 perceptual loss when weights are found (see vgg16.find_weights), else the fallback."""
    from .vgg16 import find_weights, load_vgg16

    path = find_weights(vgg_path)
    if path is None:
        return StructuralLoss()
    return PerceptualLoss(load_vgg16(path, device))


def fallback_note() -> str:
    from .vgg16 import default_path

    return (f"no VGG16 weights at {default_path()} (or --vgg FILE): fitting with MS-SSIM + L1, a weight-free "
            f"loss that keeps edges and colours but is blind to texture a perceptual loss would see")


__all__ = ["PerceptualLoss", "StructuralLoss", "noise_regularisation", "psnr", "pick_loss", "fallback_note", "ms_ssim",
           "ssim"]
