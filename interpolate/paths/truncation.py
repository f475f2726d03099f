"""Truncation: the one place that pulls ws toward the average w, for images and videos alike.

    psi, cutoff = resolve_truncation(G, psi, cutoff)     # None: the checkpoint's own default
    ws = truncate(ws, G.w_avg, psi, cutoff)              # psi a number, or one per frame
    psi_per_frame = psi_schedule(psi, psi_end, num_frames, loop, positions)

`truncate` is the official mapping's step (networks/base.truncate_ws, which the networks' own
mapping calls too): `w_avg.lerp(ws[:, :cutoff], psi)`, so mapping with psi 1 and
truncating here gives the same bits as G.mapping(z, truncation_psi=psi).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..networks.base import truncate_ws


PSI_LIMIT = 100.0          # |psi| beyond this only overflows float32 (1 is off, 0.5-0.7 is usual)


def check_psi(psi, flag: str = "--psi") -> float:
    """A finite psi within +-PSI_LIMIT, as a float; else a one-line WaifuError."""
    from ..errors import WaifuError

    try:
        value = float(psi)
    except (TypeError, ValueError):
        raise WaifuError(f"{flag} must be a number, got '{psi}'") from None
    if not (math.isfinite(value) and abs(value) <= PSI_LIMIT):
        raise WaifuError(f"{flag} must be between -{PSI_LIMIT:g} and {PSI_LIMIT:g} (1 is off, 0.7 is usual), got {psi}")
    return value


def resolve_truncation(G, psi: float | None, cutoff: int | None) -> tuple[float, int | None]:
    """(psi, cutoff) to apply: what was asked, else the checkpoint's own default (StyleGAN1 Gs: 0.7 on
    ws[:8]; a model whose meta stores truncation_psi), else psi 1 on all ws."""
    if psi is not None:
        check_psi(psi)
    if psi is None:
        psi = getattr(G, "default_truncation_psi", None)
    if cutoff is None:
        cutoff = getattr(G, "default_truncation_cutoff", None)
    return (1.0 if psi is None else float(psi)), (None if cutoff is None else int(cutoff))


def psi_schedule(psi: float, psi_end: float | None, num_frames: int, loop: bool, pos: np.ndarray) -> np.ndarray:
    """Truncation psi per frame: constant, or psi -> psi_end over the clip (there and back for loops)."""
    pos = np.asarray(pos, dtype=np.float64)
    if psi_end is None or psi_end == psi:
        return np.full(pos.shape, float(psi))
    if loop:
        ramp = 0.5 - 0.5 * np.cos(2 * math.pi * pos / num_frames)
    else:
        ramp = pos / max(num_frames - 1, 1)
    return psi + (psi_end - psi) * ramp


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi, cutoff: int | None) -> torch.Tensor:
    """ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi), in place; psi a number or one per row of ws."""
    if np.ndim(psi) == 0:
        return truncate_ws(ws, w_avg, psi, cutoff)
    for i, p in enumerate(np.asarray(psi).tolist()):
        truncate_ws(ws[i:i + 1], w_avg, p, cutoff)
    return ws
