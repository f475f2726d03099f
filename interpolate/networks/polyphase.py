"""StyleGAN2's upsampling convolution (transposed conv, stride `up`, then the low-pass FIR) without
the transposed convolution: CPU inference fast paths of `ops.conv2d_resample(..., up=up)`.

Polyphase split: output pixel (up*m + a, up*q + b) of a stride-`up` transposed convolution with a
k x k kernel sees only the taps a, a + up, ... of each axis, so the transposed convolution is one
regular convolution per phase on the low-resolution input (the same multiplications, but dense
convolutions, which oneDNN runs several times faster than its transposed one on CPU):

    w_t[c, o, a, b]  = weight[o, c, a, b] (flipped when flip_weight)        transposed-conv weight
    full[o, up i + a, up j + b] += x[c, i, j] w_t[c, o, a, b]              length (n - 1) up + k
    phase a with taps t_a = ceil((k - a) / up):  full[o, up m + a] = sum_{j < t_a} xpad[m + j]
        w_t[a + (t_a - 1 - j) up]   (xpad: x zero-padded by t_a - 1; one axis shown)

`up_conv`: each phase's convolution is copied into its place of the zero-padded full output, then
the FIR runs as one 2-D depthwise pass (with the output scale and bias folded in at batch 1).

(Folding the FIR into the kernel instead, 3x3 phases of the 6x6 combined kernel run by Winograd,
measured no faster on CPU at 32-128 px and slower at 256 px, so it is not done.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import ops



def _cached(module: torch.nn.Module, name: str, key: tuple, compute) -> torch.Tensor:
    cache = module.__dict__.get(name)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, compute())
        module.__dict__[name] = cache
    return cache[1]


def phase_weights(module: torch.nn.Module, weight: torch.Tensor, up: int, flip_weight: bool,
                  dtype: torch.dtype) -> list[tuple[int, int, torch.Tensor]]:
    """Per phase (a, b): its own kernel [O, I, ta, tb] with only its taps (ta = ceil((kh - a) / up)),
    channels_last, cached on `module` until weight changes."""
    def compute():
        w = weight.detach().to(dtype)
        w = w.flip([2, 3]) if flip_weight else w
        kh, kw = w.shape[2:]
        # tap j of phase a (correlation order) is kernel index a + (t - 1 - j) up, t = its tap count
        return [(a, b, w[:, :, a::up, b::up].flip([2, 3]).contiguous(memory_format=torch.channels_last))
                for a in range(min(up, kh)) for b in range(min(up, kw))]
    key = (weight.data_ptr(), weight._version, weight.device, dtype, up, flip_weight)
    return _cached(module, "_phase_cache", key, compute)


def up_conv(x: torch.Tensor, phases: list[tuple[int, int, torch.Tensor]], kernel: tuple[int, int], f: torch.Tensor,
            up: int, padding: int, scale: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """bias + scale * ops.conv2d_resample(x, w, f, up=up, padding=padding) (groups 1) with
    phases = phase_weights(w): one convolution per phase, each written into its place of the zero-padded
    full transposed output, then the FIR. x [N, I, H, W]; scale [N, O]; bias [O]; channels_last result."""
    n, _, h, w = x.shape
    out_channels = phases[0][2].shape[0]
    kh, kw = kernel
    x = x.contiguous(memory_format=torch.channels_last)
    fw, fh = int(f.shape[-1]), int(f.shape[0])
    full_h, full_w = (h - 1) * up + kh, (w - 1) * up + kw
    px0, px1 = padding + (fw + up - 1) // 2 - (kw - 1), padding + (fw - up) // 2 - (kw - up)
    py0, py1 = padding + (fh + up - 1) // 2 - (kh - 1), padding + (fh - up) // 2 - (kh - up)
    # the buffer holds the full output (every phase sample lies inside it) and the FIR's zero padding;
    # with non-negative padding nothing is cropped, so the FIR reads it as one contiguous tensor
    rows, cols = max(py0, 0), max(px0, 0)
    shape = (n, rows + full_h + max(py1, 0), cols + full_w + max(px1, 0), out_channels)
    if kh >= up and kw >= up:      # the phases tile the full output: zero only the padding (one pass less)
        buf = x.new_empty(shape)
        for part in (buf[:, :rows], buf[:, rows + full_h:], buf[:, :, :cols], buf[:, :, cols + full_w:]):
            part.zero_()
    else:
        buf = x.new_zeros(shape)
    for a, b, k in phases:
        ty, tx = k.shape[2:]
        y = _phase_conv(x, k)                                              # full[up m + a, up q + b], m < h + ty - 1
        r0, c0 = rows + a, cols + b
        buf[:, r0:r0 + up * y.shape[1]:up, c0:c0 + up * y.shape[2]:up].copy_(y)
    top, left = max(-py0, 0), max(-px0, 0)
    buf = buf[:, top:top + full_h + py0 + py1, left:left + full_w + px0 + px1]
    return _blur(buf.permute(0, 3, 1, 2), f, up * up, scale, bias)


def _phase_conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Full correlation of channels_last x [N, I, H, W] with k [O, I, ty, tx], as NHWC [N, H', W', O]. A 1x1
    phase is one matrix product on the NHWC view (PyTorch sends 1x1 kernels to its slow im2col path)."""
    ty, tx = k.shape[2:]
    if (ty, tx) == (1, 1):
        n, c, h, w = x.shape
        y = torch.mm(x.permute(0, 2, 3, 1).reshape(n * h * w, c), k.reshape(k.shape[0], c).t())
        return y.view(n, h, w, k.shape[0])
    return F.conv2d(x, k, padding=[ty - 1, tx - 1]).permute(0, 2, 3, 1)


def _blur(x: torch.Tensor, f: torch.Tensor, gain: float, scale: torch.Tensor | None,
          bias: torch.Tensor | None) -> torch.Tensor:
    """Valid true convolution of every channel with f (gain), then * scale [N, C] + bias [C]."""
    n, c = x.shape[:2]
    parts = ops._separate(f) if f.ndim == 2 else (f, f)
    if parts is None:
        y = ops.upfirdn2d(x, f, gain=gain)
        fold = False
    else:
        # one depthwise pass with the 2-D (outer product) kernel: the FIR is memory-bound, and one pass
        # over the full-resolution buffer measured ~1.7x faster on CPU than the two 1-D passes
        fy, fx = (p.flip(0).to(x.dtype) * math.sqrt(gain) for p in parts)
        k = (fy.reshape(-1, 1) * fx.reshape(1, -1)).expand(c, 1, -1, -1)
        fold = n == 1 and scale is not None
        if fold:
            k = k * scale.to(x.dtype).reshape(c, 1, 1, 1)
        y = F.conv2d(x, k.contiguous(), bias.to(x.dtype) if (fold and bias is not None) else None, groups=c)
    if fold:
        return y
    if scale is not None and bias is not None:
        return torch.addcmul(bias.to(x.dtype).reshape(1, c, 1, 1), y, scale.to(x.dtype).reshape(n, c, 1, 1))
    if scale is not None:
        return y.mul_(scale.to(x.dtype).reshape(n, c, 1, 1))
    return y.add_(bias.to(x.dtype).reshape(1, c, 1, 1)) if bias is not None else y
