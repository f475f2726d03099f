"""Fit images in W (or W+) by optimisation, as NVIDIA's stylegan2-ada-pytorch projector does, batched.

The schedule follows the official projector (Karras et al. 2020, sec. 5 and appendix):
  start      w at the mean of 10 000 mapped z (w_std: the RMS distance of those w from it);
             every noise map fresh N(0, 1)
  step t     learning rate 0.1 x cosine ramp-down over the last 25 % x linear ramp-up over the first 5 %;
             Gaussian noise of std w_std x 0.05 x max(0, 1 - t / 0.75)^2 added to w before synthesis;
             loss = distance(image, target) + 1e5 x noise regularisation; Adam (0.9, 0.999) on w and
             the noise maps; then every noise map is renormalised to zero mean and unit variance.
Differences, each for a reason:
  - Several images are fitted at once ([N, ...] w and noise maps of their own), the losses summed.
    Adam works element by element and the image in batch position i draws its random numbers from
    its own generator (seed, i), so a result does not depend on the other images in the batch
    (up to float rounding).
  - Noise maps are passed to synthesis (`noise=`) instead of overwriting the network's buffers, so
    the generator is never modified and StyleGAN1 (noise per layer) and StyleGAN3 (none) work alike.
  - `space='wplus'` fits one w per layer, pulled towards their mean by `wplus_reg` x (mean squared
    deviation / w_std^2), so the result stays near W and morphs as cleanly as a W fit.
  - The loss is the LPIPS-style VGG16 distance of losses.py, or its weight-free fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import WaifuError
from .losses import PerceptualLoss, StructuralLoss, noise_regularisation, psnr

SPACES = ("w", "wplus")


@dataclass(frozen=True)
class Schedule:
    """The official projector's constants."""
    steps: int = 1000
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    wplus_reg: float = 0.1

    def learning_rate(self, t: float) -> float:
        ramp = min(1.0, (1.0 - t) / self.lr_rampdown_length)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        ramp = ramp * min(1.0, t / self.lr_rampup_length)
        return self.initial_learning_rate * ramp

    def w_noise_scale(self, t: float, w_std: float) -> float:
        return w_std * self.initial_noise_factor * max(0.0, 1.0 - t / self.noise_ramp_length) ** 2


@dataclass
class StepInfo:
    """What a callback sees after each step (tensors detached, on the device)."""
    step: int                       # 1-based
    steps: int
    images: torch.Tensor            # [N, C, H, W] the synthesis of this step (with its w noise)
    loss: torch.Tensor              # [N]
    psnr: torch.Tensor              # [N] dB


@dataclass
class Projection:
    """The fit of N images: ws in the official projector's layout, one [num_ws, w_dim] per image."""
    ws: np.ndarray                  # [N, num_ws, w_dim] float32
    images: torch.Tensor            # [N, C, H, W] the final fit, rendered with its noise (CPU, float32)
    noise: list[np.ndarray]         # per G.noise_shapes: [N, 1, H, W] float32 (empty for StyleGAN3)
    psnr: list[float]               # dB per image, of the final fit
    distance: list[float]           # the loss's distance term per image, of the final fit
    loss_name: str
    space: str
    steps: int
    extra: dict = field(default_factory=dict)


def w_statistics(G, samples: int, seed: int, c: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """(w_avg [w_dim], w_std): mean of `samples` mapped z and their RMS distance from it (official)."""
    device = G.w_avg.device
    z = torch.from_numpy(np.random.RandomState(seed).randn(samples, G.z_dim)).to(device, torch.float32)
    with torch.no_grad():
        ws = []
        for i in range(0, samples, 2048):
            cc = None if c is None else c[:1].expand(len(z[i:i + 2048]), -1)
            ws.append(G.mapping(z[i:i + 2048], cc)[:, 0].float())
        w = torch.cat(ws)
    w_avg = w.mean(dim=0)
    w_std = float((w - w_avg).square().sum(dim=1).mean().sqrt())
    return w_avg, w_std


def project_tensors(G, targets: torch.Tensor, loss: PerceptualLoss | StructuralLoss, *, schedule: Schedule = Schedule(),
                    space: str = "w", seed: int = 0, c: torch.Tensor | None = None,
                    callback: Callable[[StepInfo], None] | None = None) -> Projection:
    """Fit `targets` [N, C, H, W] in [-1, 1] (the model's shape, on its device); see the module docstring."""
    if space not in SPACES:
        raise WaifuError(f"unknown space '{space}'; use w (one w for every layer) or wplus (one per layer)")
    if schedule.steps < 1:
        raise WaifuError(f"--steps must be at least 1, got {schedule.steps}")
    device = G.w_avg.device
    n = targets.shape[0]
    expected = (n, G.img_channels, G.img_height, G.img_width)
    assert tuple(targets.shape) == expected, (tuple(targets.shape), expected)
    targets = targets.to(device, torch.float32)
    gens = [torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + i) for i in range(n)]
    randn = lambda shape: torch.cat([torch.randn((1, *shape), generator=g, device=device) for g in gens])  # noqa: E731
    w_avg, w_std = w_statistics(G, schedule.w_avg_samples, 123 + int(seed), c)
    layers = G.num_ws if space == "wplus" else 1
    w_opt = w_avg.view(1, 1, -1).repeat(n, layers, 1).requires_grad_(True)
    noises = [randn((1, h, w)).requires_grad_(True) for h, w in G.noise_shapes]
    optimizer = torch.optim.Adam([w_opt, *noises], betas=(0.9, 0.999), lr=schedule.initial_learning_rate)
    prepared = loss.prepare(targets)

    def synthesize(w: torch.Tensor) -> torch.Tensor:
        ws = w.expand(-1, G.num_ws, -1) if w.shape[1] == 1 else w
        return G.synthesis(ws, noise=noises if noises else None)

    for step in range(schedule.steps):
        t = step / schedule.steps
        for group in optimizer.param_groups:
            group["lr"] = schedule.learning_rate(t)
        w_noise = randn(w_opt.shape[1:]) * schedule.w_noise_scale(t, w_std)
        images = synthesize(w_opt + w_noise)
        dist = loss(images, prepared)
        total = dist + schedule.regularize_noise_weight * noise_regularisation(noises) if noises else dist
        if space == "wplus":
            spread = (w_opt - w_opt.mean(dim=1, keepdim=True)).square().sum(dim=2).mean(dim=1)
            total = total + schedule.wplus_reg * spread / max(w_std ** 2, 1e-12)
        optimizer.zero_grad(set_to_none=True)
        total.sum().backward()
        optimizer.step()
        with torch.no_grad():
            for buf in noises:
                buf -= buf.mean(dim=(1, 2, 3), keepdim=True)
                buf *= buf.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        if not torch.isfinite(total).all():
            raise WaifuError("the projection diverged (the loss is not finite); try fewer --steps or another --seed")
        if callback is not None:
            callback(StepInfo(step + 1, schedule.steps, images.detach(), total.detach(), psnr(images.detach(), targets)))

    with torch.no_grad():
        final = synthesize(w_opt)
        dist = loss(final, prepared)
        scores = psnr(final, targets)
        ws = (w_opt.expand(-1, G.num_ws, -1) if layers == 1 else w_opt).detach().float()
    assert ws.shape == (n, G.num_ws, G.w_dim), ws.shape
    return Projection(ws=ws.cpu().numpy().astype(np.float32), images=final.float().cpu(),
                      noise=[b.detach().cpu().numpy() for b in noises], psnr=scores.cpu().tolist(),
                      distance=dist.detach().cpu().tolist(), loss_name=loss.name, space=space, steps=schedule.steps,
                      extra={"w_std": w_std})
