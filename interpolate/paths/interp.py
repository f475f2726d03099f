"""Curves through keyframes (slerp, linear, cubic spline, Catmull-Rom) and easing functions.

A curve is built from K key points of shape [K, L, C] (W: L = num_ws, C = w_dim; Z: L = 1, C = z_dim)
and is evaluated per segment: `curve(seg, s)` with `seg` the transition index (key seg -> key seg + 1,
wrapping to key 0 when looping) and `s` in [0, 1]. At s = 0 every curve returns the key itself bit
for bit (all arithmetic is `1 * p0 + 0 * ...`), so the path passes exactly through its keys.

The cubic curves are written in Hermite form (values and tangents at the keys). For `cubic` the
tangents are those of SciPy's CubicSpline through the keys ('natural' ends, or 'periodic' for loops:
position, first and second derivative continuous across the seam); a cubic is fixed by its end values
and end tangents, so the Hermite pieces are exactly that spline. `catmull-rom` uses the local
tangents (p[i+1] - p[i-1]) / 2.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from ..errors import WaifuError

INTERPS = ("slerp", "linear", "cubic", "catmull-rom")


# --- easing -------------------------------------------------------------------------------------
def ease_linear(s: np.ndarray) -> np.ndarray:
    return s


def ease_smoothstep(s: np.ndarray) -> np.ndarray:
    return s * s * (3.0 - 2.0 * s)


def ease_sine(s: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * s)


def ease_cubic(s: np.ndarray) -> np.ndarray:
    """Cubic ease-in-out: 4 s^3 up to the middle, mirrored after it."""
    return np.where(s < 0.5, 4.0 * s ** 3, 1.0 - 4.0 * (1.0 - s) ** 3)


EASINGS = {
    "linear": ease_linear,
    "smoothstep": ease_smoothstep,
    "ease-in-out": ease_smoothstep,
    "sine": ease_sine,
    "cubic": ease_cubic,
}


def easing(name: str):
    try:
        return EASINGS[name]
    except KeyError:
        raise WaifuError(f"unknown easing '{name}'; use one of {', '.join(EASINGS)}") from None


# --- slerp ----------------------------------------------------------------------------------------
def slerp(a: np.ndarray, b: np.ndarray, s: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Spherical interpolation along the last axis; a, b [..., C], s broadcastable to a[..., :1].

    Keeps the norm of unit vectors; falls back to a straight line where a and b are (anti)parallel.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-300)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    degenerate = sin < eps
    safe = np.where(degenerate, 1.0, sin)
    ca = np.where(degenerate, 1.0 - s, np.sin((1.0 - s) * omega) / safe)
    cb = np.where(degenerate, s, np.sin(s * omega) / safe)
    return ca * a + cb * b


# --- curves ---------------------------------------------------------------------------------------
class Curve:
    """Piecewise curve through keys [K, L, C]; closed (K segments) when `loop`, else K - 1 segments."""

    def __init__(self, keys: np.ndarray, loop: bool):
        keys = np.asarray(keys, dtype=np.float64)
        assert keys.ndim == 3, f"keys must be [K, L, C], got {keys.shape}"
        self.keys = keys
        self.loop = loop
        self.num_keys = keys.shape[0]
        self.num_segments = self.num_keys if loop else max(self.num_keys - 1, 0)

    def _ends(self, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg = np.asarray(seg, dtype=np.int64)
        return seg, (seg + 1) % self.num_keys if self.num_keys > 1 else seg

    def __call__(self, seg: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Points [n, L, C] at positions s in [0, 1] of segments seg (both [n])."""
        raise NotImplementedError


class LinearCurve(Curve):
    def __call__(self, seg, s):
        i, j = self._ends(seg)
        s = np.asarray(s, dtype=np.float64)[:, None, None]
        p0, p1 = self.keys[i], self.keys[j]
        return (1.0 - s) * p0 + s * p1


class SlerpCurve(Curve):
    def __call__(self, seg, s):
        i, j = self._ends(seg)
        s = np.asarray(s, dtype=np.float64)[:, None, None]
        return slerp(self.keys[i], self.keys[j], s)


class HermiteCurve(Curve):
    """Cubic pieces from key values and key tangents (per unit of segment parameter)."""

    def __init__(self, keys: np.ndarray, loop: bool, tangents: np.ndarray):
        super().__init__(keys, loop)
        assert tangents.shape == self.keys.shape
        self.tangents = tangents

    def __call__(self, seg, s):
        i, j = self._ends(seg)
        s = np.asarray(s, dtype=np.float64)[:, None, None]
        s2, s3 = s * s, s * s * s
        h00 = 2 * s3 - 3 * s2 + 1
        h10 = s3 - 2 * s2 + s
        h01 = -2 * s3 + 3 * s2
        h11 = s3 - s2
        return h00 * self.keys[i] + h10 * self.tangents[i] + h01 * self.keys[j] + h11 * self.tangents[j]


def spline_tangents(keys: np.ndarray, loop: bool) -> np.ndarray:
    """Tangents at the keys of SciPy's cubic spline (natural ends, or periodic when looping)."""
    K = keys.shape[0]
    if K == 1:
        return np.zeros_like(keys)
    flat = keys.reshape(K, -1)
    if loop:
        x = np.arange(K + 1, dtype=np.float64)
        spline = CubicSpline(x, np.concatenate([flat, flat[:1]]), bc_type="periodic", axis=0)
    else:
        x = np.arange(K, dtype=np.float64)
        spline = CubicSpline(x, flat, bc_type="natural", axis=0)
    return spline(np.arange(K, dtype=np.float64), 1).reshape(keys.shape)


def catmull_rom_tangents(keys: np.ndarray, loop: bool) -> np.ndarray:
    K = keys.shape[0]
    if K == 1:
        return np.zeros_like(keys)
    if loop:
        return 0.5 * (np.roll(keys, -1, axis=0) - np.roll(keys, 1, axis=0))
    t = np.empty_like(keys)
    t[1:-1] = 0.5 * (keys[2:] - keys[:-2])
    t[0] = keys[1] - keys[0]
    t[-1] = keys[-1] - keys[-2]
    return t


def make_curve(kind: str, keys: np.ndarray, loop: bool) -> Curve:
    keys = np.asarray(keys, dtype=np.float64)
    if kind == "linear":
        return LinearCurve(keys, loop)
    if kind == "slerp":
        return SlerpCurve(keys, loop)
    if kind == "cubic":
        return HermiteCurve(keys, loop, spline_tangents(keys, loop))
    if kind == "catmull-rom":
        return HermiteCurve(keys, loop, catmull_rom_tangents(keys, loop))
    raise WaifuError(f"unknown interpolation '{kind}'; use one of {', '.join(INTERPS)}")
