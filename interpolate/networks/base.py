"""What every architecture's Generator shares: z -> mapping -> ws -> synthesis -> images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def broadcast_truncated(w: torch.Tensor, num_ws: int, w_avg: torch.Tensor, psi: float = 1.0,
                        cutoff: int | None = None) -> torch.Tensor:
    """w [N, w_dim] -> ws [N, num_ws, w_dim], truncated as the official mapping does:
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi) (cutoff None: every ws). paths/truncation.py
    applies the same step to planned paths, with the checkpoint's defaults."""
    ws = w.unsqueeze(1).repeat(1, num_ws, 1)
    return truncate_ws(ws, w_avg, psi, cutoff)


def truncate_ws(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None) -> torch.Tensor:
    """In place: ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi); nothing for psi 1."""
    if float(psi) != 1:
        ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], float(psi))
    return ws


class GeneratorBase(nn.Module):
    """Subclasses set `self.mapping` and `self.synthesis`; this adds `w_avg` and the official forward."""

    mapping: nn.Module
    synthesis: nn.Module

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const", **synthesis_kwargs: Any) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)


class MixedPrecisionGenerator(GeneratorBase):
    """A generator whose synthesis has fp16 layers: `G.force_fp32 = True` runs them in float32."""

    @property
    def force_fp32(self) -> bool:
        return self.synthesis.force_fp32

    @force_fp32.setter
    def force_fp32(self, value: bool) -> None:
        self.synthesis.force_fp32 = bool(value)
