"""Semantic directions in W: closed-form factorisation (SeFa) and directions from example seeds.

    from interpolate import load_generator, sefa
    G = load_generator("checkpoints/chibi-64.pt")
    dirs = sefa(G, "coarse")                        # or a list of ws indices, or None for all
    dirs.vectors[0]                                 # [w_dim] unit vector, the strongest direction
    ws = ws + dirs.offset(0, 2.0)                   # move ws [num_ws, w_dim] 2 units along it
    dirs.save("dirs.npz")

    red = from_examples(G, [3, 17, 42], against=[5, 6, 7])   # 'what 3, 17, 42 share and 5, 6, 7 lack'

Modules: factorization.py (which affine feeds which ws, the factorisation), file.py (the Directions value,
dirs.npz, `FILE:INDEX` and strength specs), sheet.py (the picture of what each direction does).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import WaifuError
from .file import Directions, load_directions, parse_direction, parse_strength
from .factorization import sefa as sefa_matrix
from .factorization import style_affines


def resolve_layers(G, layers) -> list[int]:
    """None / 'all' -> every ws; 'coarse' | 'middle' | 'fine' (or 'coarse+middle'); '0-3,8'; or ints."""
    from ..paths.styles import parse_layers, resolve_style

    if layers is None:
        return list(range(G.num_ws))
    if isinstance(layers, str):
        text = layers.strip()
        if text and (text[0].isdigit()):
            return parse_layers(text, G.num_ws)
        if text in ("cascade", "cascade-reverse"):
            raise WaifuError("directions take one style group (all, coarse, middle, fine), not a cascade")
        return list(resolve_style(G, text, None).moving)
    out = sorted({int(i) for i in layers})
    if not out or out[0] < 0 or out[-1] >= G.num_ws:
        raise WaifuError(f"layers {out} are out of range; this model has {G.num_ws} ws (0-{G.num_ws - 1})")
    return out


def sefa(G, layers=None, count: int | None = None) -> Directions:
    """The top `count` (default all w_dim) SeFa directions of the style layers reading ws `layers`."""
    idx = resolve_layers(G, layers)
    vectors, values = sefa_matrix(G, idx)
    if count is not None:
        if count < 1:
            raise WaifuError(f"--count must be at least 1, got {count}")
        vectors, values = vectors[:count], values[:count]
    return Directions(vectors.astype(np.float32), values, tuple(idx), G.num_ws, G.w_dim, "sefa",
                      [f"sefa {i}" for i in range(len(vectors))])


def from_examples(G, seeds: Sequence[int], against: Sequence[int], layers=None, class_idx: int | None = None,
                  label: str | None = None) -> Directions:
    """One direction: the normalised difference of the mean untruncated w of `seeds` and of `against`."""
    from ..paths.keys import map_z
    from ..seeds import z_from_seed

    seeds, against = list(seeds), list(against)
    if not seeds or not against:
        raise WaifuError("--from-seeds and --against both need seeds, e.g. --from-seeds 3,17,42 --against 5,6,7")
    if set(seeds) & set(against):
        raise WaifuError(f"seeds {sorted(set(seeds) & set(against))} are on both sides; each seed goes in one list")
    idx = resolve_layers(G, layers)
    mean = lambda s: map_z(G, np.concatenate([z_from_seed(x, G.z_dim) for x in s]), class_idx)[:, 0].mean(axis=0)  # noqa: E731
    diff = mean(seeds) - mean(against)
    norm = float(np.linalg.norm(diff))
    if not norm > 0:
        raise WaifuError("the two seed groups have the same mean w; pick seeds that differ")
    text = label or f"{','.join(map(str, seeds))} vs {','.join(map(str, against))}"
    return Directions((diff / norm)[None].astype(np.float32), np.array([norm]), tuple(idx), G.num_ws, G.w_dim,
                      "examples", [text])


__all__ = ["Directions", "sefa", "from_examples", "load_directions", "parse_direction", "parse_strength",
           "style_affines", "resolve_layers"]
