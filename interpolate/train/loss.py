"""StyleGAN2 losses: non-saturating logistic GAN loss, R1 penalty, style-mixing regularization.

  G loss     softplus(-D(G(z)))                         (non-saturating, Goodfellow et al. 2014)
  D loss     softplus(D(G(z))) + softplus(-D(x))
  R1         gamma / 2 * ||grad_x D(x)||^2 on reals     (Mescheder et al. 2018); applied lazily every
             `interval` steps and scaled by `interval` (Karras et al. 2020)
  mixing     with probability p, the ws after a random layer cutoff come from a second z, so no
             layer can rely on its neighbours sharing its w: this is what keeps coarse, middle and
             fine styles separable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_img: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d logits / d real_img||^2 (real_img must require grad)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_img, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3]).mean()


def mixed_ws(G: torch.nn.Module, z: torch.Tensor, mixing_prob: float, update_w_avg_beta: float | None = None,
             c: torch.Tensor | None = None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for z (and labels c of a conditional G), with style mixing (one cutoff for
    the whole batch, as the official trainer does; the second w has the same labels). With
    update_w_avg_beta, G.mapping.w_avg tracks the mean w (w_avg = lerp(mean, w_avg, beta))."""
    ws = G.mapping(z, c)
    if update_w_avg_beta is not None:
        with torch.no_grad():
            G.mapping.w_avg.copy_(ws[:, 0].mean(dim=0).lerp(G.mapping.w_avg, update_w_avg_beta))
    if mixing_prob > 0:
        num_ws = ws.shape[1]
        cutoff = int(torch.randint(1, num_ws, ()))
        if float(torch.rand(())) < mixing_prob:
            ws2 = G.mapping(torch.randn_like(z), c)
            ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
    return ws
