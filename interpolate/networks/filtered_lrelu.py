"""Filtered leaky ReLU of StyleGAN3 (Karras et al. 2021, "Alias-Free GANs", sec. 3.2), plain PyTorch.

Per channel of x [N, C, H, W]:

    x + b  ->  upsample x`up` (zero insertion), pad by `padding`, convolve with fu (gain up^2)
           ->  leaky ReLU (negative slope `slope`) times `gain`, clamp to +-clamp
           ->  convolve with fd, keep every `down`-th pixel

fu/fd: separable 1-D taps [K], a 2-D (e.g. radially symmetric) filter [K, K], or None (identity).
`padding` (x0, x1, y0, y1) refers to the upsampled image; negative values crop. Filters are applied
as true convolutions (the official `flip_filter=False`).

`filtered_lrelu` computes exactly the sequence above with `ops.upfirdn2d`. `filtered_lrelu_fast`
computes the same thing several times faster on CPU (see the fast-path notes below); it is what the
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
# Depthwise convolutions in channels_last layout (much faster on CPU), upsampling as a strided
# transposed convolution (no multiplications by inserted zeros), downsampling as a strided
# convolution (no discarded pixels), the activation's gain folded into the upsampling filter and
# leaky ReLU / clamp applied in place.


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


def _depthwise_weight(f: torch.Tensor, channels: int, dim: int | None, like: torch.Tensor) -> torch.Tensor:
    """[C, 1, kh, kw] weight for a grouped convolution: a 1-D filter along `dim` (2: H, 3: W) or a 2-D one."""
    k = f.reshape(1, 1, *f.shape) if f.ndim == 2 else (f.reshape(1, 1, -1, 1) if dim == 2 else f.reshape(1, 1, 1, -1))
    return k.to(like.dtype).expand(channels, 1, *k.shape[2:]).contiguous()


def _upsample_axis(x: torch.Tensor, f: torch.Tensor, up: int, pad0: int, pad1: int, dim: int) -> torch.Tensor:
    """Zero insertion x`up`, pad (pad0, pad1), valid true convolution with the 1-D filter f, along `dim`.

    The transposed convolution with stride `up` computes full[q] = sum_i x[i] f[q - up i] (length
    (n - 1) up + K); the padded, valid convolution is that shifted: out[o] = full[o + K - 1 - pad0].
    """
    k, n = f.shape[0], x.shape[dim]
    out_len = n * up + pad0 + pad1 - k + 1
    full_len = (n - 1) * up + k
    lo, hi = k - 1 - pad0, full_len - (k - 1 - pad0) - out_len  # crop (> 0) or zero-pad (< 0) at each end
    crop = max(min(lo, hi), 0)  # the symmetric part of the crop happens inside the convolution
    stride, padding = ((up, 1), (crop, 0)) if dim == 2 else ((1, up), (0, crop))
    y = F.conv_transpose2d(x, _depthwise_weight(f, x.shape[1], dim, x), stride=stride, padding=padding,
                           groups=x.shape[1])
    return _pad_or_crop(y, dim, crop - lo, crop - hi)


def _upsample(x: torch.Tensor, fu: torch.Tensor | None, up: int, padding: tuple[int, int, int, int],
              gain: float) -> torch.Tensor:
    """upfirdn2d(x, fu, up, padding) times up^2 * gain (returns a new tensor)."""
    px0, px1, py0, py1 = padding
    if fu is None:
        if up > 1 or any(padding):
            x = ops.upfirdn2d(x, None, up=up, padding=[px0, px1, py0, py1], gain=up ** 2)  # a new tensor
            return x * gain if gain != 1 else x
        return x * gain if gain != 1 else x.clone()
    if fu.ndim == 2:  # non-separable: zero insertion, then one 2-D transposed convolution
        y = F.conv_transpose2d(x, _depthwise_weight(fu * (up * up * gain), x.shape[1], None, x), stride=up,
                               groups=x.shape[1])
        k = fu.shape[0]
        h, w = x.shape[2] * up + py0 + py1 - k + 1, x.shape[3] * up + px0 + px1 - k + 1
        y = _pad_or_crop(y, 3, -(k - 1 - px0), w - (y.shape[3] - (k - 1 - px0)))
        return _pad_or_crop(y, 2, -(k - 1 - py0), h - (y.shape[2] - (k - 1 - py0)))
    # H first, on the smaller tensor: a transposed convolution along H is several times slower than
    # along W in channels_last (measured on CPU), so it runs before W doubles the width.
    x = _upsample_axis(x, fu * (up * gain), up, py0, py1, dim=2)
    return _upsample_axis(x, fu * up, up, px0, px1, dim=3)


def _downsample(x: torch.Tensor, fd: torch.Tensor | None, down: int) -> torch.Tensor:
    """upfirdn2d(x, fd, down=down): valid true convolution, every down-th sample, as a strided conv."""
    if fd is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    c = x.shape[1]
    f = fd.flip(list(range(fd.ndim)))  # F.conv2d correlates
    if fd.ndim == 2:
        return F.conv2d(x, _depthwise_weight(f, c, None, x), stride=down, groups=c)
    x = F.conv2d(x, _depthwise_weight(f, c, 3, x), stride=(1, down), groups=c)
    return F.conv2d(x, _depthwise_weight(f, c, 2, x), stride=(down, 1), groups=c)


def filtered_lrelu_fast(x: torch.Tensor, fu: torch.Tensor | None = None, fd: torch.Tensor | None = None,
                        b: torch.Tensor | None = None, up: int = 1, down: int = 1, padding=0,
                        gain: float = 2 ** 0.5, slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Same result as `filtered_lrelu` (up to float rounding); the output is channels_last."""
    assert x.ndim == 4, x.shape
    assert gain > 0, gain
    pad = _padding4(padding)
    n, c, h, w = x.shape
    out_h = output_size(h, up, down, pad[2], pad[3], _taps(fu), _taps(fd))
    out_w = output_size(w, up, down, pad[0], pad[1], _taps(fu), _taps(fd))
    if b is not None:
        assert b.shape == (c,), (b.shape, c)
        x = x + b.to(x.dtype).reshape(1, c, 1, 1)
    x = x.contiguous(memory_format=torch.channels_last)
    x = _upsample(x, fu, up, pad, gain)  # a new tensor: lrelu(x) * gain == lrelu(x * gain) for gain > 0
    inplace = not (torch.is_grad_enabled() and x.requires_grad)   # autograd (the projector) needs the lrelu output kept
    if slope != 1:
        x = F.leaky_relu_(x, slope) if inplace else F.leaky_relu(x, slope)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    x = _downsample(x, fd, down)
    assert x.shape == (n, c, out_h, out_w), (x.shape, out_h, out_w)
    return x
