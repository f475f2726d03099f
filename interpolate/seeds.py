"""Seeds: parsing '3,17,42' / '0-31' and turning a seed into z exactly as NVIDIA's tools do."""

from __future__ import annotations

import numpy as np

from .errors import WaifuError


def parse_seeds(text: str | int | list[int] | tuple[int, ...]) -> list[int]:
    """'3,17,42' -> [3, 17, 42]; '0-3,9' -> [0, 1, 2, 3, 9]. Raises WaifuError on anything else."""
    if isinstance(text, int):
        return [text]
    if isinstance(text, (list, tuple)):
        return [int(s) for s in text]
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-") if not part.startswith("-") else (part, "", "")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if b < a:
                    raise WaifuError(f"seed range '{part}' runs backwards; write it as '{b}-{a}'")
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise WaifuError(f"seeds must be integers or ranges like '3,17,42' or '0-31'; got '{part}'") from None
    if not seeds:
        raise WaifuError("no seeds given; pass e.g. --seeds 3,17,42 or --seeds 0-7")
    for s in seeds:
        if not 0 <= s < 2**32:
            raise WaifuError(f"seed {s} is out of range; seeds are integers from 0 to 4294967295")
    return seeds


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The z of NVIDIA's scripts: np.random.RandomState(seed).randn(1, z_dim), float64 [1, z_dim]."""
    return np.random.RandomState(seed).randn(1, z_dim)
