"""Adaptive discriminator augmentation (ADA, Karras et al. 2020, "Training GANs with Limited Data").

Why ADA and not DiffAugment: both augment every image D sees (reals and fakes, differentiably, so G
learns through them), but DiffAugment applies a fixed strength that has to be tuned to the data
set's size, while ADA steers one probability p from D's own overfitting signal. A user's folder may
hold 200 or 200 000 pictures; with ADA the same command works on both (p stays near 0 when D does
not overfit, e.g. on the unlimited procedural set, and rises on small sets). ADA keeps p below the
point where augmentations 'leak' into G (the paper finds p < 0.8 safe for this pipeline).

Pipeline ('bgc' of the paper: blit, geometric, colour), each transform applied to each image
independently with probability p:
  blit       x-flip, rotation by a multiple of 90 degrees, integer translation (up to 1/8 of the size)
  geometric  isotropic scale (log2 ~ N(0, 0.2)), rotation (uniform, +-180 deg; drawn twice with
             probability 1 - sqrt(1 - p)), anisotropic scale (log2 ~ N(0, 0.2)), fractional
             translation (N(0, 0.125) of the size)
  colour     brightness (+N(0, 0.2)), contrast (x 2^N(0, 0.5)), luma flip, hue rotation (uniform,
             +-180 deg about the grey axis), saturation (x 2^N(0, 1))
The geometric transforms compose into one affine matrix per image, applied with bilinear
`grid_sample` and reflection padding (the official code resamples through wavelet filters; this is
the plain-PyTorch equivalent, differentiable in the image); colour transforms compose into one 4x4
matrix. Random numbers come from torch's global generator (saved in snapshots: resume is exact).

Controller: r_t = E[sign(D(real))] over the last `interval` steps (0: D cannot tell, 1: D is sure
of every real, i.e. it has memorised them); every `interval` steps
p += sign(r_t - target) * batch * interval / (speed_kimg * 1000), clamped to [0, 1]: p can go from
0 to 1 in `speed_kimg` thousand images. Target 0.6, interval 4 (the paper's values); speed 100 kimg
(stylegan3's train.py; stylegan2-ada uses 500, too slow for CPU-sized runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0


def _eye(n: int, size: int, device: torch.device) -> torch.Tensor:
    return torch.eye(size, device=device).repeat(n, 1, 1)


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(len(tx), 3, tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(sx), 3, sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(len(theta), 3, theta.device)
    c, s = theta.cos(), theta.sin()
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _gate(x: torch.Tensor, prob: float, neutral: float) -> torch.Tensor:
    """x where a per-sample coin with probability `prob` says so, else the transform's identity value."""
    keep = torch.rand(x.shape[0], device=x.device) < prob
    return torch.where(keep, x, torch.full_like(x, neutral))


def geometric_matrix(n: int, p: float, size: int, device: torch.device) -> torch.Tensor:
    """[n, 3, 3]: output coordinates (normalized, [-1, 1]) -> input coordinates."""
    m = _eye(n, 3, device)
    flip = _gate(torch.randint(2, (n,), device=device).float(), p, 0.0)
    m = m @ _scale(1 - 2 * flip, torch.ones_like(flip))
    quarter = _gate(torch.randint(4, (n,), device=device).float(), p, 0.0)
    m = m @ _rotate(-math.pi / 2 * quarter)
    t = (torch.rand(n, 2, device=device) * 2 - 1) * XINT_MAX
    t = torch.stack([_gate(t[:, 0], p, 0.0), _gate(t[:, 1], p, 0.0)], dim=1)
    t = torch.round(t * size) * 2 / size                                   # whole pixels, in [-1, 1] units
    m = m @ _translate(t[:, 0], t[:, 1])
    s = _gate(torch.exp2(torch.randn(n, device=device) * SCALE_STD), p, 1.0)
    m = m @ _scale(s, s)
    p_rot = 1 - math.sqrt(max(0.0, 1 - p))
    m = m @ _rotate(_gate((torch.rand(n, device=device) * 2 - 1) * math.pi * ROTATE_MAX, p_rot, 0.0))
    s = _gate(torch.exp2(torch.randn(n, device=device) * ANISO_STD), p, 1.0)
    m = m @ _scale(s, 1 / s)
    m = m @ _rotate(_gate((torch.rand(n, device=device) * 2 - 1) * math.pi * ROTATE_MAX, p_rot, 0.0))
    t = torch.randn(n, 2, device=device) * XFRAC_STD * 2
    m = m @ _translate(_gate(t[:, 0], p, 0.0), _gate(t[:, 1], p, 0.0))
    return m


def colour_matrix(n: int, p: float, device: torch.device) -> torch.Tensor:
    """[n, 4, 4] acting on homogeneous RGB in [-1, 1]."""
    c = _eye(n, 4, device)
    b = _gate(torch.randn(n, device=device) * BRIGHTNESS_STD, p, 0.0)
    shift = _eye(n, 4, device)
    shift[:, :3, 3] = b[:, None]
    c = shift @ c
    k = _gate(torch.exp2(torch.randn(n, device=device) * CONTRAST_STD), p, 1.0)
    c = torch.diag_embed(torch.stack([k, k, k, torch.ones_like(k)], dim=1)) @ c
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3)   # the grey axis
    vv = torch.outer(v, v)
    flip = _gate(torch.randint(2, (n,), device=device).float(), p, 0.0)
    c = (torch.eye(4, device=device) - 2 * vv * flip[:, None, None]) @ c
    theta = _gate((torch.rand(n, device=device) * 2 - 1) * math.pi * HUE_MAX, p, 0.0)
    c = _rotate_about(v[:3], theta) @ c
    s = _gate(torch.exp2(torch.randn(n, device=device) * SATURATION_STD), p, 1.0)
    c = (vv + (torch.eye(4, device=device) - vv) * s[:, None, None]) @ c
    return c


def _rotate_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """[n, 4, 4] rotation by theta about a unit 3-vector (Rodrigues)."""
    x, y, z = axis
    k = torch.tensor([[0, -z, y], [z, 0, -x], [-y, x, 0]], device=theta.device)
    s, c = theta.sin()[:, None, None], theta.cos()[:, None, None]
    r = torch.eye(3, device=theta.device) + s * k + (1 - c) * (k @ k)
    m = _eye(len(theta), 4, theta.device)
    m[:, :3, :3] = r
    return m


def augment(images: torch.Tensor, p: float) -> torch.Tensor:
    """[N, 3, H, W] -> the same shape, each image transformed as in the module docstring; p = 0 is
    the identity (and draws no random numbers)."""
    assert images.ndim == 4 and images.shape[1] == 3 and images.shape[2] == images.shape[3], images.shape
    if p <= 0:
        return images
    n, _, h, w = images.shape
    m = geometric_matrix(n, p, w, images.device)
    grid = F.affine_grid(m[:, :2, :], [n, 3, h, w], align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    c = colour_matrix(n, p, images.device)
    x = (c[:, :3, :3] @ x.reshape(n, 3, h * w) + c[:, :3, 3:]).reshape(n, 3, h, w)
    return x


@dataclass
class AdaController:
    """The probability p and the r_t statistic that steers it (see the module docstring)."""

    target: float = 0.6
    interval: int = 4
    speed_kimg: float = 100.0
    p: float = 0.0
    sign_sum: float = 0.0
    sign_count: int = 0
    r_t: float = float("nan")

    def observe(self, real_logits: torch.Tensor) -> None:
        self.sign_sum += float(real_logits.detach().sign().sum())
        self.sign_count += real_logits.numel()

    def maybe_adjust(self, step: int, batch: int) -> None:
        """Call after step `step` (0-based); adjusts p every `interval` steps."""
        if (step + 1) % self.interval or not self.sign_count:
            return
        self.r_t = self.sign_sum / self.sign_count
        adjust = math.copysign(1.0, self.r_t - self.target) if self.r_t != self.target else 0.0
        self.p = min(1.0, max(0.0, self.p + adjust * batch * self.interval / (self.speed_kimg * 1000)))
        self.sign_sum, self.sign_count = 0.0, 0

    def state(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "sign_count": self.sign_count, "r_t": self.r_t}

    def load(self, state: dict) -> None:
        self.p, self.sign_sum = float(state["p"]), float(state["sign_sum"])
        self.sign_count, self.r_t = int(state["sign_count"]), float(state["r_t"])
