"""Device choice: cuda, then mps, then cpu, unless the user names one; `DeviceSpec`, the typed device options."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import WaifuError


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WaifuError("--device cuda was asked for but no CUDA GPU is visible; use --device auto or --device cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise WaifuError("--device mps was asked for but MPS is not available; use --device auto or --device cpu")
    return dev


@dataclass(frozen=True)
class DeviceSpec:
    """Where and how synthesis runs: device (auto | cpu | cuda | mps), precision, frames per batch."""
    device: str = "auto"
    precision: str = "auto"                  # auto | fp32 | fp16 | bf16
    batch_size: int | None = None            # None: adapt to the device

    def flat(self) -> dict:
        return {"device": self.device, "precision": self.precision, "batch_size": self.batch_size}
