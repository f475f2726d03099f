"""Frame shaping on the synthesis device: Pillow's Lanczos resize, then pad or crop, before the host copy.

    shaper = DeviceShaper(geometry, device)        # render/frames.Geometry: sizes, fit, offsets
    out = shaper(frames)                           # [n, H, W, 3] uint8 on the device -> [n, out_h, out_w, 3]
    where = shaping_place(device, geometry)        # 'device' | 'host': the fixed rule the renderer follows

The same bytes as the host path (Geometry.apply: PIL.Image.resize(LANCZOS), then paste onto black), by
construction, not by luck. Pillow resizes uint8 images in two separable passes, horizontal first, each
output pixel a weighted sum of the input pixels under a Lanczos-3 kernel whose support is scaled by the
downscale factor (centres at (x + 0.5) * in/out, weights normalized per output pixel), the weights in
fixed point with 22 fraction bits, each pass rounded half up and clipped to 0..255. Here the weights are
computed the same way (`lanczos_taps`: the same double arithmetic, the same quantization) and each pass
is the same integer arithmetic on the device: a gather of each tap (bytes) and a multiply-add in int32 (which
cannot overflow: asserted per output pixel), then Pillow's shift and clip. Integer sums do not depend on
their order, so the result equals Pillow's bit for bit on any device (tests/test_shaping.py checks it;
bench/bench_shaping.py measures it).

Only the visible part is computed: with --fit crop the columns and rows outside the frame are never
resampled. Captions (Pillow text) stay on the host, drawn on the shaped frame as before.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import torch

from ..errors import WaifuError

PRECISION_BITS = 22                 # Pillow's fixed point for 8-bit images: 32 - 8 - 2
LANCZOS_SUPPORT = 3.0
SHAPING_ENV = "WAIFU_MORPH_SHAPING"  # auto (the rule below) | host | device: where frames are shaped
PLACES = ("auto", "host", "device")
CHUNK_BYTES = {"cuda": 1 << 30}     # int32 work memory per slice of a batch (fewer launches on a GPU)
CHUNK_DEFAULT = 256 << 20


# --- the kernel, as Pillow computes it ----------------------------------------------------------------
def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -LANCZOS_SUPPORT <= x < LANCZOS_SUPPORT:
        return _sinc(x) * _sinc(x / LANCZOS_SUPPORT)
    return 0.0


def _c_int(v: float) -> int:
    """C's (int) cast: truncation toward zero."""
    return int(v)


@lru_cache(maxsize=32)
def lanczos_taps(in_size: int, out_size: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(first input index, fixed-point weights) of every output pixel of a 1-D Lanczos-3 resample of
    in_size -> out_size, as Pillow's precompute_coeffs + normalize_coeffs_8bpc compute them."""
    assert in_size >= 1 and out_size >= 1, (in_size, out_size)
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    ss = 1.0 / filterscale
    one = 1 << PRECISION_BITS
    starts, weights = [], []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(_c_int(center - support + 0.5), 0)
        xmax = min(_c_int(center + support + 0.5), in_size) - xmin
        k = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for w in k:
            ww += w
        if ww != 0.0:
            k = [w / ww for w in k]
        starts.append(xmin)
        weights.append(tuple(_c_int(-0.5 + w * one) if w < 0 else _c_int(0.5 + w * one) for w in k))
    return tuple(starts), tuple(weights)


class Resample1D:
    """One pass over one axis: output pixels [lo, hi) of in_size -> out_size, on a device."""

    def __init__(self, in_size: int, out_size: int, lo: int, hi: int, device: torch.device):
        starts, weights = lanczos_taps(in_size, out_size)
        starts, weights = starts[lo:hi], weights[lo:hi]
        taps = max(len(w) for w in weights)
        self.first = min(starts)                                  # input pixels [first, last) are read
        self.last = max(s + len(w) for s, w in zip(starts, weights))
        idx = torch.zeros(hi - lo, taps, dtype=torch.int64)
        wt = torch.zeros(hi - lo, taps, dtype=torch.int32)
        for o, (s, w) in enumerate(zip(starts, weights)):
            idx[o, :len(w)] = torch.arange(s, s + len(w)) - self.first
            idx[o, len(w):] = s - self.first                      # padding taps: weight 0
            wt[o, :len(w)] = torch.tensor(w, dtype=torch.int32)
        self.taps = taps
        # Pillow's int32 sums cannot overflow: 255 * sum|w| + 2^21 < 2^31 for every output pixel
        assert max(sum(abs(v) for v in w) for w in weights) * 255 + (1 << PRECISION_BITS) < 2 ** 31
        self.idx = idx.t().contiguous().to(device)                # [taps, out]
        self.wt = wt.t().contiguous().to(device)

    def __call__(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """x uint8 with the read input range along `dim` -> the pass, rounded and clipped (uint8, like
        Pillow's intermediate image). The taps are gathered as bytes and summed in int32."""
        assert x.shape[dim] == self.last - self.first and x.dtype == torch.uint8, (x.shape, dim, self.first, self.last)
        view = [1] * x.dim()
        view[dim] = -1
        acc = torch.mul(x.index_select(dim, self.idx[0]), self.wt[0].view(view)).add_(1 << (PRECISION_BITS - 1))
        for j in range(1, self.taps):
            acc.addcmul_(x.index_select(dim, self.idx[j]), self.wt[j].view(view))
        return acc.bitwise_right_shift_(PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


# --- the shaper ---------------------------------------------------------------------------------------
def _visible(res: int, out: int, off: int) -> tuple[int, int]:
    """Pixels [lo, hi) of the resized image that land inside the output frame."""
    return max(0, -off), min(res, out - off)


class DeviceShaper:
    """Geometry.apply on a device tensor: [n, src_h, src_w, 3] uint8 -> [n, out_h, out_w, 3] uint8."""

    def __init__(self, geometry, device: torch.device):
        g = self.geometry = geometry
        self.device = torch.device(device)
        self.x0, self.x1 = _visible(g.res_w, g.out_w, g.off_x)
        self.y0, self.y1 = _visible(g.res_h, g.out_h, g.off_y)
        self.h = Resample1D(g.src_w, g.res_w, self.x0, self.x1, self.device) if g.res_w != g.src_w else None
        self.v = Resample1D(g.src_h, g.res_h, self.y0, self.y1, self.device) if g.res_h != g.src_h else None

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        g = self.geometry
        n = frames.shape[0]
        assert frames.shape == (n, g.src_h, g.src_w, 3) and frames.dtype == torch.uint8, frames.shape
        if g.identity:
            return frames
        out = torch.zeros(n, g.out_h, g.out_w, 3, dtype=torch.uint8, device=frames.device)
        # the resized image's visible part lands here
        ox, oy = self.x0 + g.off_x, self.y0 + g.off_y
        per = self._frames_per_slice()
        for a in range(0, n, per):
            part = self._resize(frames[a:a + per])
            out[a:a + per, oy:oy + part.shape[1], ox:ox + part.shape[2]] = part
        return out

    def _frames_per_slice(self) -> int:
        g = self.geometry
        rows = (self.v.last - self.v.first) if self.v is not None else g.src_h
        cols = (self.x1 - self.x0) if self.h is not None else g.src_w
        per_frame = 3 * (2 * rows * cols * 5 + (self.y1 - self.y0) * cols * 10)      # bytes: taps + int32 sums
        return max(1, CHUNK_BYTES.get(self.device.type, CHUNK_DEFAULT) // per_frame)

    def _resize(self, frames: torch.Tensor) -> torch.Tensor:
        """The visible part of the Lanczos-resized frames, uint8 (Pillow: horizontal pass first)."""
        x = frames
        if self.v is not None:                           # only the rows the vertical pass reads
            x = x[:, self.v.first:self.v.last]
        else:
            x = x[:, self.y0:self.y1]
        if self.h is not None:
            x = self.h(x[:, :, self.h.first:self.h.last], dim=2)
        else:
            x = x[:, :, self.x0:self.x1]
        if self.v is not None:
            x = self.v(x, dim=1)
        return x


# --- where shaping runs -------------------------------------------------------------------------------
def shaping_place(device: torch.device, geometry) -> str:
    """'device' (DeviceShaper before the host copy) or 'host' (Pillow on the writer thread).

    A fixed rule of the device, never a timing (and both places give the same bytes). CUDA: the device.
    CPU: the host, where Pillow's fixed-point C code on the writer thread was faster than the torch
    passes with 1 or 2 threads and overlaps the synthesis (bench/bench_shaping.py). MPS: the host, as
    before (untested there). WAIFU_MORPH_SHAPING=host|device overrides it (benchmarks, tests)."""
    place = os.environ.get(SHAPING_ENV, "auto").strip().lower() or "auto"
    if place not in PLACES:
        raise WaifuError(f"{SHAPING_ENV}={place} is not one of {', '.join(PLACES)}; unset it for the default")
    if geometry.identity:
        return "host"                          # nothing to shape
    if place != "auto":
        return place
    return "device" if torch.device(device).type == "cuda" else "host"


__all__ = ["DeviceShaper", "Resample1D", "lanczos_taps", "shaping_place", "PRECISION_BITS", "SHAPING_ENV"]
