"""Filtered leaky ReLU of StyleGAN3 (Karras et al. 2021, "Alias-Free GANs", sec. 3.2), plain PyTorch.

Per channel of x [N, C, H, W]:

    x + b  ->  upsample x`up` (zero insertion), pad by `padding`, convolve with fu (gain up^2)
           ->  leaky ReLU (negative slope `slope`) times `gain`, clamp to +-clamp
           ->  convolve with fd, keep every `down`-th pixel

fu/fd: separable 1-D taps [K], a 2-D (e.g. radially symmetric) filter [K, K], or None (identity).
`padding` (x0, x1, y0, y1) refers to the upsampled image; negative values crop. Filters are applied
as true convolutions (the official `flip_filter=False`).

`filtered_lrelu` computes exactly the sequence above with `ops.upfirdn2d`. `filtered_lrelu_fast`
computes the same thing without multiplying by the inserted zeros (polyphase upsampling) and
without computing the pixels that downsampling throws away (strided convolution); it is what the
StyleGAN3 layers run. Tests check that the two agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import ops


def _padding4(padding: int | tuple[int, ...] | list[int]) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    assert len(padding) == 4, padding
    return padding[0], padding[1], padding[2], padding[3]


def _taps(f: torch.Tensor | None) -> int:
    """Filter length along one axis (filters here are square or separable)."""
    if f is None:
        return 1
    assert f.ndim == 1 or (f.ndim == 2 and f.shape[0] == f.shape[1]), f.shape
    return int(f.shape[-1])


def output_size(in_size: int, up: int, down: int, pad0: int, pad1: int, fu_taps: int, fd_taps: int) -> int:
    """Length of one axis after filtered_lrelu."""
    return (in_size * up + pad0 + pad1 - (fu_taps - 1) - (fd_taps - 1) + (down - 1)) // down


def _lrelu(x: torch.Tensor, slope: float, gain: float, clamp: float | None) -> torch.Tensor:
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                   b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0, gain: float = 2 ** 0.5,
                   slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Reference: bias, upfirdn2d up, lrelu * gain, clamp, upfirdn2d down (see the module docstring)."""
    assert x.ndim == 4, x.shape
    px0, px1, py0, py1 = _padding4(padding)
    n, c, h, w = x.shape
    out_h = output_size(h, up, down, py0, py1, _taps(fu), _taps(fd))
    out_w = output_size(w, up, down, px0, px1, _taps(fu), _taps(fd))
    if b is not None:
        assert b.shape == (c,), (b.shape, c)
        x = x + b.to(x.dtype).reshape(1, c, 1, 1)
    x = ops.upfirdn2d(x, fu, up=up, padding=[px0, px1, py0, py1], gain=up ** 2)
    x = _lrelu(x, slope, gain, clamp)
    x = ops.upfirdn2d(x, fd, down=down)
    assert x.shape == (n, c, out_h, out_w), (x.shape, out_h, out_w)
    return x


# --- fast path ------------------------------------------------------------------------------------


def _depthwise(x: torch.Tensor, kernel: torch.Tensor, stride: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """Correlate every channel of x with the same 2-D kernel [kh, kw] (no padding)."""
    c = x.shape[1]
    return F.conv2d(x, kernel[None, None].expand(c, 1, *kernel.shape), stride=stride, groups=c)


def _pad_or_crop(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) `lo`/`hi` samples at the two ends of axis `dim` (2 or 3)."""
    if lo < 0:
        x = x.narrow(dim, -lo, x.shape[dim] + lo)
        lo = 0
    if hi < 0:
        x = x.narrow(dim, 0, x.shape[dim] + hi)
        hi = 0
    if lo or hi:
        x = F.pad(x, [lo, hi, 0, 0] if dim == 3 else [0, 0, lo, hi])
    return x


def _upsample_axis(x: torch.Tensor, f: torch.Tensor, up: int, pad0: int, pad1: int, dim: int) -> torch.Tensor:
    """Zero insertion x`up` + pad + true convolution with the 1-D filter f along `dim`, polyphase.

    The zero-inserted, padded signal convolved with f (K taps, valid part) is the same as the full
    transposed convolution of x with f, shifted by K - 1 - pad0. Output sample o (at full position
    q = o + K - 1 - pad0) sums x[i] * f[q - up * i]: for phase r = q mod up only taps r, r + up, ...
    contribute, so each phase is an ordinary correlation of x with its sub-filter, reversed.
    """
    k = f.shape[0]
    size = x.shape[dim]
    out_len = size * up + pad0 + pad1 - k + 1
    kp = -(-k // up)  # taps per phase
    fpad = F.pad(f, [0, kp * up - k])  # [kp * up], zero taps past the end
    # phase r, tap t -> f[r + up * t]; correlation wants it reversed in t
    sub = fpad.reshape(kp, up).t().flip(1)  # [up, kp]
    # full[q] with q = up * m + r sums x[m - t] * f[r + up * t] over t = 0..kp-1, m in [0, size + kp - 1)
    xp = _pad_or_crop(x, dim, kp - 1, kp - 1)
    c = x.shape[1]
    if dim == 3:
        weight = sub[:, None, None, :].repeat(c, 1, 1, 1)  # [C * up, 1, 1, kp]
    else:
        weight = sub[:, None, :, None].repeat(c, 1, 1, 1)  # [C * up, 1, kp, 1]
    y = F.conv2d(xp, weight.to(x.dtype), groups=c)  # [N, C * up, ...], channel c * up + r = phase r
    n = x.shape[0]
    m = y.shape[dim]  # size + kp - 1 positions per phase
    if dim == 3:
        y = y.reshape(n, c, up, y.shape[2], m).permute(0, 1, 3, 4, 2).reshape(n, c, y.shape[2], m * up)
    else:
        y = y.reshape(n, c, up, m, y.shape[3]).permute(0, 1, 3, 2, 4).reshape(n, c, m * up, y.shape[3])
    # y is the full transposed convolution (length up * (size + kp - 1) >= (size - 1) * up + k)
    start = k - 1 - pad0
    return _pad_or_crop(y, dim, -start, out_len - (y.shape[dim] - start))


def _upsample(x: torch.Tensor, fu: torch.Tensor | None, up: int, padding: tuple[int, int, int, int]) -> torch.Tensor:
    px0, px1, py0, py1 = padding
    if fu is None or fu.ndim == 2 or up == 1:
        return ops.upfirdn2d(x, fu, up=up, padding=[px0, px1, py0, py1], gain=up ** 2)
    f = (fu * up).to(x.dtype)  # gain up^2 over two axes
    x = _upsample_axis(x, f, up, px0, px1, dim=3)
    return _upsample_axis(x, f, up, py0, py1, dim=2)


def _downsample(x: torch.Tensor, fd: torch.Tensor | None, down: int) -> torch.Tensor:
    if fd is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    f = fd.flip(list(range(fd.ndim))).to(x.dtype)  # true convolution via correlation
    if fd.ndim == 2:
        return _depthwise(x, f, stride=(down, down))
    x = _depthwise(x, f[None, :], stride=(1, down))
    return _depthwise(x, f[:, None], stride=(down, 1))


def filtered_lrelu_fast(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                        b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                        gain: float = 2 ** 0.5, slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Same result as `filtered_lrelu`, computed without the zeros and the discarded pixels."""
    assert x.ndim == 4, x.shape
    pad = _padding4(padding)
    n, c, h, w = x.shape
    out_h = output_size(h, up, down, pad[2], pad[3], _taps(fu), _taps(fd))
    out_w = output_size(w, up, down, pad[0], pad[1], _taps(fu), _taps(fd))
    if b is not None:
        assert b.shape == (c,), (b.shape, c)
        x = x + b.to(x.dtype).reshape(1, c, 1, 1)
    x = _upsample(x, fu, up, pad)
    x = _lrelu(x, slope, gain, clamp)
    x = _downsample(x, fd, down)
    assert x.shape == (n, c, out_h, out_w), (x.shape, out_h, out_w)
    return x
