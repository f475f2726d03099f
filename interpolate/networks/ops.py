"""Low-level ops of the NVIDIA StyleGAN2/3 PyTorch code, in plain PyTorch (nothing to compile).

Semantics follow `torch_utils/ops` of NVlabs/stylegan3 (the CUDA kernels and their reference
implementations compute the same thing):

  setup_filter(f)        FIR filter as a float32 tensor: 1-D taps -> outer product (2-D) unless
                         `separable`; normalised to unit DC gain; optional flip and gain.
  upfirdn2d(x, f, ...)   upsample by inserting zeros, pad (negative = crop), convolve with f
                         (true convolution unless flip_filter), keep every `down`-th pixel.
  filter2d / upsample2d / downsample2d
                         upfirdn2d with the padding that keeps the size / multiplies / divides it.
  bias_act(x, b, ...)    x + b, activation, times gain (the activation's default gain unless given),
                         clamp to +-clamp.
  conv2d_resample        2-D convolution with up/down sampling through a low-pass filter.
  modulated_conv2d       StyleGAN2 weight modulation / demodulation as one grouped convolution.

Tensors are NCHW. Filters may be on any device; they are cast to the input's dtype.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Padding = int | Sequence[int]


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    """An int or [x, y] -> (x, y)."""
    if isinstance(v, int):
        return v, v
    vx, vy = v
    return int(vx), int(vy)


def _padding4(padding: Padding) -> tuple[int, int, int, int]:
    """int | [x, y] | [x0, x1, y0, y1] -> (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        px, py = padding
        return px, px, py, py
    assert len(padding) == 4, padding
    return padding[0], padding[1], padding[2], padding[3]


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a 1-D (separable) or 2-D filter; (1, 1) for None."""
    if f is None:
        return 1, 1
    assert f.ndim in (1, 2), f.shape
    return int(f.shape[-1]), int(f.shape[0])


def setup_filter(f, device: torch.device | str = "cpu", normalize: bool = True, flip_filter: bool = False,
                 gain: float = 1, separable: bool | None = None) -> torch.Tensor:
    """FIR filter for `upfirdn2d` from a list / array / tensor ([taps] or [h, w]; None = identity).

    1-D filters become their outer product unless `separable` (default: separable when 1-D with
    at least 8 taps). `normalize` scales to unit sum; `gain` scales the 2-D response.
    """
    f = torch.as_tensor(1 if f is None else f, dtype=torch.float32).clone()
    assert f.ndim in (0, 1, 2) and f.numel() > 0, f.shape
    if f.ndim == 0:
        f = f.reshape(1)
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    assert f.ndim == (1 if separable else 2)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def _depthwise(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Correlate every channel of x with the 2-D kernel f (no padding)."""
    c = x.shape[1]
    return F.conv2d(x, f[None, None].expand(c, 1, *f.shape), groups=c)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int | Sequence[int] = 1, down: int | Sequence[int] = 1,
              padding: Padding = 0, flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample (zero insertion), pad/crop, FIR filter, downsample (keep every down-th pixel).

    x: [N, C, H, W]; f: [fh, fw] or separable [taps] (None = identity); padding (x0, x1, y0, y1)
    applies to the upsampled image, negative values crop. flip_filter=False is true convolution.
    gain scales the 2-D response (gain ** 0.5 per axis for separable filters).
    """
    assert x.ndim == 4, x.shape
    if f is None:
        f = torch.ones(1, 1, dtype=torch.float32, device=x.device)
    assert f.ndim in (1, 2), f.shape
    n, c, h, w = x.shape
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    assert upx >= 1 and upy >= 1 and downx >= 1 and downy >= 1
    assert w * upx + px0 + px1 >= f.shape[-1] and h * upy + py0 + py1 >= f.shape[0], "image smaller than the filter"
    if fast_path(x):
        return _upfirdn2d_fast(x, f, (upx, upy), (downx, downy), (px0, px1, py0, py1), flip_filter, gain)

    if upx > 1 or upy > 1:  # zero insertion: each pixel followed by up-1 zeros along each axis
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    f = (f * (gain ** (f.ndim / 2))).to(device=x.device, dtype=x.dtype)
    if not flip_filter:  # F.conv2d correlates; flipping makes it a convolution
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = _depthwise(x, f)
    else:
        x = _depthwise(x, f.unsqueeze(1))  # along H
        x = _depthwise(x, f.unsqueeze(0))  # along W
    return x[:, :, ::downy, ::downx]


# --- fast path of upfirdn2d (CPU inference: several times faster, the same result to float rounding) ---
# Depthwise convolutions on channels_last tensors, a 2-D filter that is an outer product applied as two
# 1-D passes, padding done by the convolution where it is symmetric, downsampling as the convolution's
# stride (no discarded outputs). `reference_ops()` turns it (and networks.modconv) off.

_state = threading.local()


@contextmanager
def reference_ops():
    """Inside the block, the plain formulations run (ops and networks.modconv): what tests compare against."""
    before = getattr(_state, "reference", False)
    _state.reference = True
    try:
        yield
    finally:
        _state.reference = before


def fast_path(x: torch.Tensor) -> bool:
    """Whether the fast paths apply to x: not inside reference_ops(), not float16, and no autograd (under
    no_grad or inference_mode: they work in place; projection differentiates through the plain path)."""
    return not getattr(_state, "reference", False) and x.dtype != torch.float16 and not torch.is_grad_enabled()


def _separate(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(fy [kh], fx [kw]) with outer(fy, fx) == f (2-D f of rank one), else None."""
    fy, fx = f.sum(dim=1), f.sum(dim=0)
    total = f.sum()
    if total == 0:
        return None
    fy = fy / total
    if not torch.allclose(torch.outer(fy, fx), f, rtol=1e-6, atol=1e-7 * float(f.abs().max())):
        return None
    return fy, fx


def _zero_insert_cl(x: torch.Tensor, upx: int, upy: int) -> torch.Tensor:
    """Zero insertion (each pixel followed by up-1 zeros per axis), as a channels_last tensor."""
    n, c, h, w = x.shape
    z = x.new_zeros(n, h, upy, w, upx, c)
    z[:, :, 0, :, 0, :] = x.permute(0, 2, 3, 1)
    return z.reshape(n, h * upy, w * upx, c).permute(0, 3, 1, 2)


def _dw(x: torch.Tensor, k: torch.Tensor, stride: tuple[int, int], pad: tuple[int, int]) -> torch.Tensor:
    c = x.shape[1]
    return F.conv2d(x, k.reshape(1, 1, *k.shape).expand(c, 1, *k.shape).contiguous(), stride=stride,
                    padding=pad, groups=c)


def _upfirdn2d_fast(x: torch.Tensor, f: torch.Tensor, up: tuple[int, int], down: tuple[int, int],
                    padding: tuple[int, int, int, int], flip_filter: bool, gain: float) -> torch.Tensor:
    (upx, upy), (downx, downy), (px0, px1, py0, py1) = up, down, padding
    x = x.contiguous(memory_format=torch.channels_last)
    if upx > 1 or upy > 1:
        x = _zero_insert_cl(x, upx, upy)
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    py0, py1, px0, px1 = max(py0, 0), max(py1, 0), max(px0, 0), max(px1, 0)
    sym_y, sym_x = min(py0, py1), min(px0, px1)
    if (py0, py1, px0, px1) != (sym_y, sym_y, sym_x, sym_x):
        x = F.pad(x, [px0 - sym_x, px1 - sym_x, py0 - sym_y, py1 - sym_y]).contiguous(memory_format=torch.channels_last)
    f = (f * (gain ** (f.ndim / 2))).to(device=x.device, dtype=x.dtype)
    if not flip_filter:  # F.conv2d correlates; flipping makes it a convolution
        f = f.flip(list(range(f.ndim)))
    parts = (f, f) if f.ndim == 1 else _separate(f)
    if parts is None:
        return _dw(x, f, (downy, downx), (sym_y, sym_x))
    fy, fx = parts
    x = _dw(x, fy.reshape(-1, 1), (downy, 1), (sym_y, 0))
    return _dw(x, fx.reshape(1, -1), (1, downx), (0, sym_x))


def filter2d(x: torch.Tensor, f: torch.Tensor | None, padding: Padding = 0, flip_filter: bool = False,
             gain: float = 1) -> torch.Tensor:
    """FIR filter with the padding that keeps the size (plus `padding` on top)."""
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor | None, up: int | Sequence[int] = 2, padding: Padding = 0,
               flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Upsample by `up` through f, output size = up * input size (plus `padding`); DC gain kept."""
    upx, upy = _pair(up)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(x: torch.Tensor, f: torch.Tensor | None, down: int | Sequence[int] = 2, padding: Padding = 0,
                 flip_filter: bool = False, gain: float = 1) -> torch.Tensor:
    """Downsample by `down` through f, output size = input size / down (padding is on the input)."""
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2, py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=down, padding=p, flip_filter=flip_filter, gain=gain)


class Activation(NamedTuple):
    func: Callable[[torch.Tensor, float], torch.Tensor]
    def_alpha: float
    def_gain: float


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(lambda x, alpha: x, 0.0, 1.0),
    "relu": Activation(lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": Activation(lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    "tanh": Activation(lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    "sigmoid": Activation(lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
    "elu": Activation(lambda x, alpha: F.elu(x), 0.0, 1.0),
    "selu": Activation(lambda x, alpha: F.selu(x), 0.0, 1.0),
    "softplus": Activation(lambda x, alpha: F.softplus(x), 0.0, 1.0),
    "swish": Activation(lambda x, alpha: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
             alpha: float | None = None, gain: float | None = None, clamp: float | None = None) -> torch.Tensor:
    """act(x + b) * gain, clamped to [-clamp, clamp]. gain/alpha default to the activation's own."""
    spec = ACTIVATIONS[act]
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    if b is not None:
        assert b.ndim == 1 and b.shape[0] == x.shape[dim], (b.shape, x.shape, dim)
        x = x + b.to(x.dtype).reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        assert clamp >= 0, clamp
        x = x.clamp(-clamp, clamp)
    return x


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1, down: int = 1,
                    padding: Padding = 0, groups: int = 1, flip_weight: bool = True) -> torch.Tensor:
    """Convolution with optional up/downsampling through the low-pass filter f.

    `padding` is with respect to the upsampled image. flip_weight=True correlates (F.conv2d),
    False convolves. Upsampling uses a strided transposed convolution followed by f (as the official
    code does, whose weights were trained with exactly this arrangement).
    """
    assert x.ndim == 4 and w.ndim == 4 and w.dtype == x.dtype, (x.shape, w.shape, x.dtype, w.dtype)
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = _filter_size(f)
    px0, px1, py0, py1 = _padding4(padding)
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2

    def conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, pad: Sequence[int] = (0, 0),
             transpose: bool = False, flip: bool = flip_weight) -> torch.Tensor:
        if not flip and (kw > 1 or kh > 1):
            w = w.flip([2, 3])
        if transpose:
            return F.conv_transpose2d(x, w, stride=stride, padding=list(pad), groups=groups)
        return F.conv2d(x, w, stride=stride, padding=list(pad), groups=groups)

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1])
        return conv(x, w)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = conv(x, w)
        return upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up ** 2)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1])
        return conv(x, w, stride=down)
    if up > 1:
        # Transposed conv takes weights [in, out/groups, kh, kw]: swap in/out within each group.
        w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0, px1 = px0 - (kw - 1), px1 - (kw - up)
        py0, py1 = py0 - (kh - 1), py1 - (kh - up)
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = conv(x, w, stride=up, pad=(pyt, pxt), transpose=True, flip=not flip_weight)
        x = upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2)
        if down > 1:
            x = upfirdn2d(x, f, down=down)
        return x
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:  # up == down == 1, symmetric padding
        return conv(x, w, pad=(py0, px0))
    x = upfirdn2d(x, None, padding=[px0, px1, py0, py1])
    x = conv(x, w)
    if down > 1:
        x = upfirdn2d(x, f, down=down)
    return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None = None,
                     up: int = 1, down: int = 1, padding: Padding = 0, resample_filter: torch.Tensor | None = None,
                     demodulate: bool = True, flip_weight: bool = True, fused: bool | None = None) -> torch.Tensor:
    """StyleGAN2 modulated convolution.

    x [N, I, H, W], weight [O, I, kh, kw], styles [N, I]. Per sample: w' = weight * styles; with
    demodulate, w'' = w' / sqrt(sum over I, kh, kw of w'^2 + 1e-8). noise (broadcastable to the
    output) is added after demodulation.
    fused=True builds the N per-sample weights and runs one grouped convolution; fused=False scales
    the activations instead (x * styles, one shared-weight convolution, output * demodulation
    coefficients), the same math and much faster for N > 1. None: fused only for N == 1.
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    assert x.ndim == 4 and x.shape[1] == in_channels, (x.shape, weight.shape)
    assert styles.shape == (n, in_channels), (styles.shape, n, in_channels)

    if x.dtype == torch.float16 and demodulate:  # keep fp16 in range; demodulation undoes the scale
        weight = weight * (1 / np.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    if fused is None:
        fused = n == 1
    if not fused:
        dcoefs = None
        if demodulate:  # sum over I, kh, kw of (weight * s)^2 = s^2 @ (sum over kh, kw of weight^2).T
            dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, O]
        x = x * styles.to(x.dtype).reshape(n, in_channels, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
                            flip_weight=flip_weight)
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(n, out_channels, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)  # [N, O, I, kh, kw]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
        w = w * dcoefs.reshape(n, out_channels, 1, 1, 1)

    x = x.reshape(1, n * in_channels, *x.shape[2:])
    w = w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype)
    x = conv2d_resample(x, w, f=resample_filter, up=up, down=down, padding=padding, groups=n, flip_weight=flip_weight)
    x = x.reshape(n, out_channels, *x.shape[2:])
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x
