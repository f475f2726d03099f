"""What every architecture's Generator shares: z -> mapping -> ws -> synthesis -> images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


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
