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
from dataclasses import dataclass

import numpy as np

from ..errors import WaifuError
from ..files import NUMPY_READ_ERRORS, atomic_path


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
    """Read a dirs.npz; one-line errors for anything else (every array is checked for shape and type)."""
    name = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise WaifuError(f"directions file '{path}' not found; make one with `waifu-morph directions -o {name}`")
    again = "make it again with `waifu-morph directions`"
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise WaifuError(f"'{name}' is a single .npy array, not a directions .npz; {again}")
            missing = [k for k in ("directions", "layers", "num_ws", "w_dim") if k not in data.files]
            if missing:
                raise WaifuError(f"'{name}' is not a directions file (no {missing[0]}); {again}")
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except WaifuError:
        raise
    except (KeyError, *NUMPY_READ_ERRORS) as exc:
        raise WaifuError(f"'{name}' cannot be read as a directions .npz ({type(exc).__name__}); {again}") from None
    vectors, layers = arrays["directions"], arrays["layers"]
    num_ws, w_dim = _whole(arrays["num_ws"], "num_ws", name), _whole(arrays["w_dim"], "w_dim", name)
    if vectors.ndim != 2 or len(vectors) < 1 or vectors.shape[1] != w_dim or not np.issubdtype(vectors.dtype, np.floating):
        raise WaifuError(f"'{name}': directions have shape {list(vectors.shape)} ({vectors.dtype}), expected [K, {w_dim}] "
                         f"floats; {again}")
    if not np.all(np.isfinite(vectors)):
        raise WaifuError(f"'{name}' holds non-finite directions; {again}")
    if layers.ndim != 1 or len(layers) < 1 or not np.issubdtype(layers.dtype, np.integer) or layers.min() < 0 \
            or layers.max() >= num_ws:
        raise WaifuError(f"'{name}': layers must be ws indices 0-{num_ws - 1}, got {layers.tolist()!r:.60}; {again}")
    k = len(vectors)
    values = arrays.get("values", np.zeros(k))
    labels = arrays.get("labels", np.array([str(i) for i in range(k)]))
    if values.shape != (k,) or not np.issubdtype(values.dtype, np.number) or labels.shape != (k,) \
            or labels.dtype.kind != "U":
        raise WaifuError(f"'{name}': values and labels must be {k} numbers and {k} strings, one per direction; {again}")
    method = arrays.get("method", np.str_("unknown"))
    method = str(method) if method.ndim == 0 and method.dtype.kind == "U" else "unknown"
    return Directions(vectors.astype(np.float32), values.astype(np.float64), tuple(int(i) for i in layers), num_ws, w_dim,
                      method, [str(x) for x in labels])


def _whole(value: np.ndarray, what: str, name: str) -> int:
    if value.ndim != 0 or not np.issubdtype(value.dtype, np.integer) or int(value) < 1:
        raise WaifuError(f"'{name}': {what} must be one whole number >= 1; make it again with `waifu-morph directions`")
    return int(value)


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
