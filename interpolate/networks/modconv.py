"""Inference fast path of the modulated convolution layers: the same math as `ops`, less memory traffic.

What changes against the plain formulation in `ops.modulated_conv2d` + `ops.bias_act` (the results
agree to float rounding; tests compare whole networks both ways, `reference_ops()` switches back):

  demodulation     sum over I, kh, kw of (weight * s)^2 = s^2 @ sum over kh, kw of weight^2: the
                   [O, I] matrix of squared weights is computed once per weight tensor (cached; a
                   changed weight, e.g. a new state dict, invalidates it), so demodulating costs a
                   matrix-vector product instead of three passes over the 5-D per-sample weights.
  fused or not     per layer and batch, whichever moves fewer numbers: per-sample weights (N x O x I
                   x k x k, one grouped convolution) or modulated activations (x * s before one
                   shared-weight convolution, output * coefficients after). Low resolutions with
                   512 channels modulate activations, high resolutions with few channels build
                   weights. The choice is a function of the shapes only (deterministic).
  1x1 (ToRGB)      a batched matrix product with the per-sample weights.
  wide 3x3         Winograd F(4x4, 3x3) (networks.winograd): three matrix products, the modulation
                   folded into its tile gather, demodulation and bias into its last copy.
  upsampling       no transposed convolution (networks.polyphase): one dense convolution per
                   phase, then the FIR as one depthwise pass with demodulation and bias folded in.
  layouts          weights cached in the layout the convolution wants (channels_last).
  bias, act        the activation gain folded into the demodulation coefficients and the bias
                   (lrelu(g v) = g lrelu(v) for g > 0), the bias added by the convolution itself
                   where it is the last op, noise / leaky ReLU / clamp applied in place.

float16 (CUDA's mixed precision) keeps the plain path with the official pre-normalisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import ops, polyphase, winograd

# Measured on CPU (oneDNN, one thread, StyleGAN2-256 at batch 1): the shared-weight convolution beats
# per-sample weights even where those move 100x fewer numbers (its weight layout is reused), so a
# layer fuses only when the activations outweigh the weights by more than this.
FUSED_ADVANTAGE = 1000

reference_ops = ops.reference_ops
fast_path = ops.fast_path


def squared_weight_sums(module: torch.nn.Module, weight: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """[O, I] = sum over kh, kw of (weight * scale)^2 in float32, cached on `module` until weight changes."""
    key = (weight.data_ptr(), weight._version, weight.device, float(scale))
    cache = module.__dict__.get("_wsq_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            wsq = (weight.float() * scale).square().sum(dim=[2, 3])
        cache = (key, wsq)
        module.__dict__["_wsq_cache"] = cache
    return cache[1]


def normalized_weight(module: torch.nn.Module, weight: torch.Tensor, unit_rms: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN3: (weight scaled to unit RMS per output channel when `unit_rms`, its [O, I] squared sums),
    float32, cached on `module` until weight changes."""
    key = (weight.data_ptr(), weight._version, weight.device, unit_rms)
    cache = module.__dict__.get("_norm_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            w = weight.float()
            if unit_rms:
                w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
            cache = (key, (w, w.square().sum(dim=[2, 3])))
        module.__dict__["_norm_cache"] = cache
    return cache[1]


def scaled_dense(module: torch.nn.Module, weight: torch.Tensor, weight_gain: float, bias: torch.Tensor | None,
                 bias_gain: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(weight * weight_gain, bias * bias_gain) in `dtype` for an equalized dense layer, cached on `module`
    until either tensor changes (under autograd computed afresh: a cached copy made under inference_mode is
    an inference tensor, which autograd cannot save, e.g. the studio projecting after drawing frames)."""
    def compute():
        return weight.to(dtype) * weight_gain, None if bias is None else bias.to(dtype) * bias_gain
    if torch.is_grad_enabled():
        return compute()
    key = (weight.data_ptr(), weight._version, None if bias is None else (bias.data_ptr(), bias._version),
           weight.device, dtype)
    cache = module.__dict__.get("_dense_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, compute())
        module.__dict__["_dense_cache"] = cache
    return cache[1]


def use_fused(n: int, weight: torch.Tensor, in_hw: int, out_hw: int) -> bool:
    """Per-sample weights (True) when building them moves fewer numbers than modulating activations."""
    out_channels, in_channels, kh, kw = weight.shape
    return n == 1 and out_channels * in_channels * kh * kw * FUSED_ADVANTAGE < in_channels * in_hw + out_channels * out_hw


def modulated_conv_act(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, wsq: torch.Tensor | None,
                       bias: torch.Tensor, *, noise: torch.Tensor | None = None, up: int = 1, padding: int = 0,
                       resample_filter: torch.Tensor | None = None, flip_weight: bool = True,
                       act_gain: float = 1.0, slope: float | None = 0.2, clamp: float | None = None,
                       fused: bool | None = None, module: torch.nn.Module | None = None) -> torch.Tensor:
    """clamp(act(modconv(x, weight, styles) + noise + bias) * act_gain) for a StyleGAN2-style layer.

    x [N, I, H, W]; weight [O, I, kh, kw]; styles [N, I]; wsq: `squared_weight_sums` (demodulate) or
    None (no demodulation, e.g. ToRGB); bias [O]; noise broadcastable to the output (already scaled by
    the layer's strength); slope None = linear; module: where to cache prepared weights. Same as
    `ops.modulated_conv2d` then `ops.bias_act`.
    """
    n, in_channels = x.shape[:2]
    out_channels, _, kh, kw = weight.shape
    assert x.ndim == 4 and weight.shape[1] == in_channels and styles.shape == (n, in_channels), (
        x.shape, weight.shape, styles.shape)
    assert act_gain > 0, act_gain
    styles = styles.float()
    coefs = torch.full((n, out_channels), float(act_gain), device=x.device)
    if wsq is not None:
        coefs = coefs * (styles.square() @ wsq.t() + 1e-8).rsqrt()
    out_hw = x.shape[2] * x.shape[3] * up * up
    if fused is None:
        fused = use_fused(n, weight, x.shape[2] * x.shape[3], out_hw)
    b = (bias.float() * act_gain).to(x.dtype)

    if kh == 1 and kw == 1 and up == 1:          # ToRGB and other 1x1: per-sample weights, one bmm
        w = (weight.float().reshape(1, out_channels, in_channels) * styles.unsqueeze(1)) * coefs.unsqueeze(2)
        h, wd = x.shape[2:]
        xs = x.permute(0, 2, 3, 1).reshape(n, h * wd, in_channels)          # a view in channels_last
        y = torch.baddbmm(b.reshape(1, 1, out_channels), xs, w.to(x.dtype).transpose(1, 2))
        y = y.reshape(n, h, wd, out_channels).permute(0, 3, 1, 2)
    elif fused:
        w = weight.float().unsqueeze(0) * (styles.unsqueeze(1) * coefs.unsqueeze(2)).reshape(n, out_channels, in_channels, 1, 1)
        w = w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype)
        y = _conv(x.reshape(1, n * in_channels, *x.shape[2:]), w, b.repeat(n), up, padding, resample_filter,
                  flip_weight, groups=n)
        y = y.reshape(n, out_channels, *y.shape[2:])
    elif up > 1 and module is not None and resample_filter is not None:
        y = _up_conv(x, weight, styles, coefs, b, up, padding, resample_filter, flip_weight, module)
    elif up == 1 and module is not None and winograd.applies(x, weight.shape):
        u = winograd.transformed_weight(module, weight, flip=not flip_weight)
        y = winograd.conv3x3(x, u, padding, in_scale=styles, out_scale=coefs, bias=b)
    elif n == 1 and up == 1 and module is not None:   # batch 1: modulate the (small) shared weight instead of x
        w = layout_weight(module, weight, x, flip_weight)
        w = w * (coefs.to(x.dtype).reshape(out_channels, 1, 1, 1) * styles.to(x.dtype).reshape(1, in_channels, 1, 1))
        y = F.conv2d(x, w, b, padding=padding)
    else:
        xs = x * styles.to(x.dtype).reshape(n, in_channels, 1, 1)
        cached = module is not None and up == 1
        w = layout_weight(module, weight, xs, flip_weight) if cached else weight.to(x.dtype)
        y = _conv(xs, w, None, up, padding, resample_filter, flip_weight or cached, groups=1)
        y = torch.addcmul(b.reshape(1, -1, 1, 1), y, coefs.to(x.dtype).reshape(n, out_channels, 1, 1))
    if noise is not None:
        y = y.add_(noise.to(y.dtype) * act_gain)
    if slope is not None:
        y = F.leaky_relu_(y, slope)
    if clamp is not None:
        y = y.clamp_(-clamp, clamp)
    return y


def _conv(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, up: int, padding: int,
          f: torch.Tensor | None, flip_weight: bool, groups: int) -> torch.Tensor:
    """conv2d_resample plus bias: F.conv2d adds the bias itself when there is no resampling after it."""
    if up == 1:
        if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
            w = w.flip([2, 3])
        return F.conv2d(x, w, bias, padding=padding, groups=groups)
    y = ops.conv2d_resample(x, w, f=f, up=up, padding=padding, groups=groups, flip_weight=flip_weight)
    return y if bias is None else y.add_(bias.reshape(1, -1, 1, 1))


def layout_weight(module: torch.nn.Module, weight: torch.Tensor, like: torch.Tensor, flip_weight: bool) -> torch.Tensor:
    """weight in like's dtype and memory format (flipped unless flip_weight: F.conv2d correlates), cached
    on `module` until weight changes: a channels_last convolution otherwise converts it on every call."""
    memory_format = torch.channels_last if like.is_contiguous(memory_format=torch.channels_last) and \
        not like.is_contiguous() else torch.contiguous_format
    key = (weight.data_ptr(), weight._version, weight.device, like.dtype, memory_format, flip_weight)
    cache = module.__dict__.get("_layout_cache")
    if cache is None or cache[0] != key:
        with torch.no_grad():
            w = weight.detach().to(like.dtype)
            if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
                w = w.flip([2, 3])
            cache = (key, w.contiguous(memory_format=memory_format))
        module.__dict__["_layout_cache"] = cache
    return cache[1]


def _up_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, coefs: torch.Tensor, b: torch.Tensor,
             up: int, padding: int, f: torch.Tensor, flip_weight: bool, module: torch.nn.Module) -> torch.Tensor:
    """b + coefs * ops.conv2d_resample(x * styles, weight, f, up=up, padding=padding) (groups 1): one dense
    convolution per phase instead of the transposed convolution, then the FIR (see networks.polyphase)."""
    n, in_channels = x.shape[:2]
    phases = polyphase.phase_weights(module, weight, up, flip_weight, x.dtype)
    s = styles.to(x.dtype).reshape(n, in_channels, 1, 1)
    if n == 1 and weight.numel() <= x.numel():   # modulate the phase kernels where they are smaller than x
        xs, phases = x, [(a, c, k * s) for a, c, k in phases]
    else:
        xs = x * s
    return polyphase.up_conv(xs, phases, tuple(weight.shape[2:]), f, up, padding, scale=coefs, bias=b)
