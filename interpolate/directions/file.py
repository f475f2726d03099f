"""Directions in W and their file (`dirs.npz`), and `FILE:INDEX` / `A:B` strength specs.

A direction is a unit vector n in W and the ws indices it acts on; moving a frame by strength s is

    ws[:, layers] += s * n          (s in W units; SeFa's top directions spread about 1-2 units here)

dirs.npz (np.savez, read with allow_pickle=False):
    directions  [K, w_dim] float32, unit rows, strongest first
    values      [K] float64: SeFa's eigenvalues (how much the styles move), or for examples the
                distance between the two groups' mean w
    layers      [L] int64: ws indices the directions act on
    num_ws, w_dim   int64 scalars: the model it was made for
    method      'sefa' or 'examples';  labels  [K] str
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import WaifuError
from ..files import atomic_path


@dataclass
class Directions:
    vectors: np.ndarray                 # [K, w_dim] float32
    values: np.ndarray                  # [K]
    layers: tuple[int, ...]
    num_ws: int
    w_dim: int
    method: str
    labels: list[str]

    def __post_init__(self):
        assert self.vectors.ndim == 2 and self.vectors.shape[1] == self.w_dim, self.vectors.shape
        assert len(self.values) == len(self.vectors) == len(self.labels)

    def __len__(self) -> int:
        return len(self.vectors)

    def offset(self, index: int, strength: float | np.ndarray) -> np.ndarray:
        """[num_ws, w_dim] (or [n, num_ws, w_dim] for an array of strengths) to add to ws."""
        self.check_index(index)
        s = np.asarray(strength, dtype=np.float64)
        out = np.zeros(s.shape + (self.num_ws, self.w_dim))
        out[..., list(self.layers), :] = s[..., None, None] * self.vectors[index].astype(np.float64)
        return out

    def check_index(self, index: int) -> None:
        if not 0 <= int(index) < len(self):
            raise WaifuError(f"direction {index} is out of range; this file holds {len(self)} (0-{len(self) - 1})")

    def check_model(self, G, name: str = "the directions") -> None:
        if (self.num_ws, self.w_dim) != (G.num_ws, G.w_dim):
            raise WaifuError(f"{name} were made for a model with num_ws {self.num_ws}, w_dim {self.w_dim}; this one has "
                             f"num_ws {G.num_ws}, w_dim {G.w_dim}; run `waifu-morph directions` with this checkpoint")

    def save(self, path: str | os.PathLike) -> None:
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, directions=self.vectors.astype(np.float32), values=np.asarray(self.values, np.float64),
                     layers=np.asarray(self.layers, np.int64), num_ws=np.int64(self.num_ws), w_dim=np.int64(self.w_dim),
                     method=np.str_(self.method), labels=np.asarray(self.labels, dtype=np.str_))


def load_directions(path: str | os.PathLike) -> Directions:
    """Read a dirs.npz; one-line errors for anything else."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise WaifuError(f"directions file '{path}' not found; make one with `waifu-morph directions -o {name}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("directions", "layers", "num_ws", "w_dim") if k not in data]
            if missing:
                raise WaifuError(f"'{name}' is not a directions file (no {missing[0]}); make one with `waifu-morph directions`")
            vectors = np.asarray(data["directions"])
            layers = tuple(int(i) for i in np.asarray(data["layers"]).ravel())
            num_ws, w_dim = int(data["num_ws"]), int(data["w_dim"])
            values = np.asarray(data["values"]) if "values" in data else np.zeros(len(vectors))
            method = str(data["method"]) if "method" in data else "unknown"
            labels = [str(s) for s in data["labels"]] if "labels" in data else [str(i) for i in range(len(vectors))]
    except WaifuError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, TypeError) as exc:
        raise WaifuError(f"'{name}' cannot be read as a directions .npz ({type(exc).__name__}); make it again") from None
    if vectors.ndim != 2 or vectors.shape[1] != w_dim or not np.issubdtype(vectors.dtype, np.floating):
        raise WaifuError(f"'{name}': directions have shape {list(vectors.shape)}, expected [K, {w_dim}] floats")
    if not np.all(np.isfinite(vectors)) or not layers or min(layers) < 0 or max(layers) >= num_ws:
        raise WaifuError(f"'{name}' holds non-finite directions or layers outside 0-{num_ws - 1}; make it again")
    if len(values) != len(vectors) or len(labels) != len(vectors):
        raise WaifuError(f"'{name}': values/labels do not match its {len(vectors)} directions; make it again")
    return Directions(vectors.astype(np.float32), values, layers, num_ws, w_dim, method, labels)


def parse_direction(spec: str) -> tuple[str, int]:
    """'dirs.npz:2' -> ('dirs.npz', 2); 'dirs.npz' -> ('dirs.npz', 0)."""
    text = str(spec).strip()
    path, sep, index = text.rpartition(":")
    if not sep or not index.strip().lstrip("-").isdigit():
        return text, 0
    return path, int(index)


def parse_strength(text: str | float) -> tuple[float, float]:
    """'-3:3' -> (-3.0, 3.0); '2' -> (0.0, 2.0) (from the key to 2); one-line error otherwise."""
    parts = str(text).strip().split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise WaifuError(f"--strength takes a number or a range like -3:3, got '{text}'") from None
    if len(values) not in (1, 2) or not all(math.isfinite(v) for v in values):
        raise WaifuError(f"--strength takes a number or a range like -3:3, got '{text}'")
    return (0.0, values[0]) if len(values) == 1 else (values[0], values[1])
