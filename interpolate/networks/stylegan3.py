"""StyleGAN3 generator (configs T and R, as in NVlabs stylegan3) in plain PyTorch.

Math (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"):
  mapping    z -> normalize 2nd moment [-> concat normalized label embedding] -> num_layers x
             (equalized dense, lr multiplier 0.01, lrelu * sqrt 2) -> w, broadcast to num_ws = layers + 2;
             truncation: ws[:, :cutoff] = w_avg + psi * (ws[:, :cutoff] - w_avg).
  schedule   layer i = 0..N (N = num_layers; layer N is ToRGB): cutoff f_c and minimum stopband f_t
             grow geometrically from (first_cutoff, first_stopband) to (img_res / 2, img_res / 2 *
             last_stopband_rel) over the first N - num_critical layers, then stay; sampling rate
             s = 2^ceil(log2(min(2 f_t, img_res))); half width f_h = max(f_t, s / 2) - f_c; size
             s + 2 margin (the last two: img_res); channels min(channel_base / 2 / f_c, channel_max).
  input      Fourier features: w -> (rotation cos/sin, translation x/y) (affine, normalized to a unit
             rotation) composed with the stored user `transform`; sin(2 pi (f . p + phase)) at the
             pixel centres p of a [size, size] grid in units of 1 / s, frequencies past the bandwidth
             faded out, then a learned channel mix (weight / sqrt(C)).
  layer      styles s = affine(w) (bias init 1); modulated conv (weight and s normalized to unit RMS,
             demodulated; ToRGB: 1x1, s / sqrt(C_in), no demodulation), times 1/sqrt(magnitude_ema)
             (the tracked input magnitude); then filtered leaky ReLU: bias, upsample x`up` through
             the stored up_filter, lrelu * sqrt 2, clamp, downsample x`down` through the stored
             down_filter (config R: a radially symmetric jinc filter on non-critical layers).
  output     the ToRGB layer's output times output_scale.
Parameters and buffers carry exactly the names and shapes of the official `G_ema.state_dict()`.
The filters and `transform` are buffers: those read from a checkpoint are used as stored (they are
designed here only so that a freshly built network has the official defaults).

Precision: on CUDA the layers whose sampling rate times 2^num_fp16_res exceeds img_resolution run
in float16 (as the official code); on CPU/MPS, or with `force_fp32`, everything is float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from . import modconv, winograd
from .base import MixedPrecisionGenerator, broadcast_truncated
from .filtered_lrelu import filtered_lrelu_fast, output_size
from .stylegan3_filters import LayerSpec, design_lowpass_filter, frequency_schedule


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Equalized dense layer: x @ (weight * lr_multiplier / sqrt(in)).T + bias * lr_multiplier, then activation."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear", bias: bool = True,
                 lr_multiplier: float = 1.0, weight_init: float = 1.0, bias_init: float | list[float] = 0.0):
        super().__init__()
        assert activation in ("linear", "lrelu"), activation
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_multiplier))
        bias_init = torch.as_tensor(bias_init, dtype=torch.float32).expand(out_features) / lr_multiplier
        self.bias = nn.Parameter(bias_init.clone()) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 2 and x.shape[1] == self.in_features, (x.shape, self.in_features)
        w, b = modconv.scaled_dense(self, self.weight, self.weight_gain, self.bias, self.bias_gain, x.dtype)
        x = x.matmul(w.t())
        if b is not None:
            x = x + b
        if self.activation == "lrelu":
            x = F.leaky_relu(x, 0.2) * math.sqrt(2)
        return x


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ label c [N, c_dim]) -> ws [N, num_ws, w_dim], with truncation towards w_avg."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 2,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        self.w_avg_beta = w_avg_beta
        self.embed = FullyConnectedLayer(c_dim, w_dim) if c_dim > 0 else None
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                        lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, **_official: Any) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, (z.shape, self.z_dim)
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this generator is conditional: pass c of shape [N, {self.c_dim}]")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = broadcast_truncated(x, self.num_ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws


class SynthesisInput(nn.Module):
    """w [N, w_dim] -> Fourier features [N, channels, size, size], rotated/translated per sample by w."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim, self.channels, self.size = w_dim, channels, size
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        # Frequencies uniform-ish in the disc of radius `bandwidth` (a Gaussian pushed outwards).
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3))  # user inverse transform of the image (3x3 homogeneous)
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def sample_transforms(self, w: torch.Tensor) -> torch.Tensor:
        """[N, 3, 3]: per-sample inverse rotation then inverse translation (from w), then `transform`."""
        t = self.affine(w)  # (cos, sin, tx, ty), unnormalized
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        rotate = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=1).reshape(-1, 3, 3)
        translate = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).reshape(-1, 3, 3)
        return rotate @ translate @ self.transform.to(w.dtype).unsqueeze(0)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        assert w.ndim == 2 and w.shape[1] == self.w_dim, (w.shape, self.w_dim)
        n = w.shape[0]
        m = self.sample_transforms(w)
        freqs = self.freqs.unsqueeze(0) @ m[:, :2, :2]  # [N, C, 2] (x, y)
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)  # [N, C]
        # Fade out frequencies that the user transform pushed past the bandwidth.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        # Pixel centres, in units of 1 / sampling_rate, centred on the image.
        p = (torch.arange(self.size, device=w.device, dtype=w.dtype) + 0.5 - self.size / 2) / self.sampling_rate
        arg = (p.reshape(1, 1, 1, self.size) * freqs[:, :, 0].reshape(n, self.channels, 1, 1)      # x: width
               + p.reshape(1, 1, self.size, 1) * freqs[:, :, 1].reshape(n, self.channels, 1, 1)    # y: height
               + phases.reshape(n, self.channels, 1, 1))
        x = torch.sin(arg * (2 * math.pi)) * amplitudes.reshape(n, self.channels, 1, 1)  # [N, C, H, W]
        weight = self.weight / math.sqrt(self.channels)
        x = torch.einsum("oc,nchw->nohw", weight.to(x.dtype), x)
        assert x.shape == (n, self.channels, self.size, self.size), x.shape
        return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, padding: int,
                     input_gain: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
    """StyleGAN3 modulated conv: weight [O, I, k, k] normalized to unit RMS per output channel and styles
    [N, I] to unit RMS (when demodulating), weight * styles demodulated per output channel, times the
    scalar input_gain; x [N, I, H, W] convolved with `padding` zeros. fused=True: per-sample weights
    and one grouped convolution; False: modulate x, one shared convolution, demodulate the output (the
    same math, faster for batches); None: fused for N == 1.

    (The official code normalizes styles by their RMS over the whole batch; per sample is used here so
    a sample does not depend on its batch-mates. Demodulation cancels the factor either way.)
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    assert x.ndim == 4 and x.shape[1] == in_channels, (x.shape, weight.shape)
    assert styles.shape == (n, in_channels), (styles.shape, n, in_channels)
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    if fused is None:
        fused = n == 1
    if fused:
        w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)  # [N, O, I, k, k]
        if demodulate:
            w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
        w = w * input_gain
        x = x.reshape(1, n * in_channels, *x.shape[2:])
        x = F.conv2d(x, w.reshape(n * out_channels, in_channels, kh, kw).to(x.dtype), padding=padding, groups=n)
        return x.reshape(n, out_channels, *x.shape[2:])
    # Keep the un-demodulated activations at unit scale (fp16): weight / sqrt(fan_in), undone in coefs.
    weight = weight * (1 / math.sqrt(in_channels * kh * kw))
    coefs = input_gain.reshape(1, 1).expand(n, out_channels)
    if demodulate:
        coefs = coefs * (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8 / (in_channels * kh * kw)).rsqrt()
    else:
        coefs = coefs * math.sqrt(in_channels * kh * kw)
    x = x * styles.to(x.dtype).reshape(n, in_channels, 1, 1)
    x = F.conv2d(x, weight.to(x.dtype), padding=padding)
    return x * coefs.to(x.dtype).reshape(n, out_channels, 1, 1)


class SynthesisLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU: [N, in_ch, in_size, in_size] -> [N, out_ch, out_size, out_size]."""

    def __init__(self, w_dim: int, spec: LayerSpec, conv_kernel: int = 3, filter_size: int = 6,
                 lrelu_upsampling: int = 2, use_radial_filters: bool = False, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.w_dim, self.spec = w_dim, spec
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.in_size, self.out_size = spec.in_size, spec.out_size
        self.is_torgb, self.use_fp16 = spec.is_torgb, spec.use_fp16
        self.conv_kernel = 1 if spec.is_torgb else conv_kernel
        self.conv_clamp, self.magnitude_ema_beta = conv_clamp, magnitude_ema_beta
        self.tmp_sampling_rate = max(spec.in_sampling_rate, spec.out_sampling_rate) * (1 if spec.is_torgb else lrelu_upsampling)

        self.affine = FullyConnectedLayer(w_dim, self.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(self.out_channels, self.in_channels, self.conv_kernel, self.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.up_factor = round(self.tmp_sampling_rate / spec.in_sampling_rate)
        self.down_factor = round(self.tmp_sampling_rate / spec.out_sampling_rate)
        assert spec.in_sampling_rate * self.up_factor == self.tmp_sampling_rate
        assert spec.out_sampling_rate * self.down_factor == self.tmp_sampling_rate
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not spec.is_torgb else 1
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not spec.is_torgb else 1
        self.down_radial = use_radial_filters and not spec.is_critically_sampled
        self.register_buffer("up_filter", design_lowpass_filter(
            self.up_taps, spec.in_cutoff, spec.in_half_width * 2, self.tmp_sampling_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            self.down_taps, spec.out_cutoff, spec.out_half_width * 2, self.tmp_sampling_rate, radial=self.down_radial))

        # Padding: output samples sit symmetrically within the input (Appendix C.3).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        self.padding = (pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo)  # x0, x1, y0, y1
        conv_out = self.in_size + self.conv_kernel - 1
        assert output_size(conv_out, self.up_factor, self.down_factor, pad_lo, pad_total - pad_lo,
                           self.up_taps, self.down_taps) == self.out_size

    def forward(self, x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype = torch.float32,
                fused_modconv: bool | None = None) -> torch.Tensor:
        assert x.shape[1:] == (self.in_channels, self.in_size, self.in_size), (x.shape, self.spec)
        assert w.shape == (x.shape[0], self.w_dim), w.shape
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel ** 2))
        x = x.to(dtype)
        bias = self.bias.to(x.dtype)
        if modconv.fast_path(x):
            x, bias = self._fast_modconv(x, styles, fused_modconv)
        else:
            x = modulated_conv2d(x, self.weight, styles, demodulate=not self.is_torgb, padding=self.conv_kernel - 1,
                                 input_gain=self.magnitude_ema.rsqrt(), fused=fused_modconv)
        x = filtered_lrelu_fast(x, self.up_filter, self.down_filter, bias, up=self.up_factor,
                                down=self.down_factor, padding=self.padding, gain=1 if self.is_torgb else math.sqrt(2),
                                slope=1 if self.is_torgb else 0.2, clamp=self.conv_clamp)
        assert x.shape[1:] == (self.out_channels, self.out_size, self.out_size), (x.shape, self.spec)
        return x


    def _fast_modconv(self, x: torch.Tensor, styles: torch.Tensor,
                      fused: bool | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(`modulated_conv2d`, the bias still to add) with the weight normalisation and its squared sums
        cached (see networks.modconv); large 3x3 layers by Winograd (networks.winograd), which adds the bias."""
        n = x.shape[0]
        demodulate = not self.is_torgb
        weight, wsq = modconv.normalized_weight(self, self.weight, unit_rms=demodulate)
        coefs = self.magnitude_ema.rsqrt().float().reshape(1, 1).expand(n, self.out_channels)
        styles = styles.float()
        if demodulate:
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
            coefs = coefs * (styles.square() @ wsq.t() + 1e-8).rsqrt()
        pad = self.conv_kernel - 1
        if fused is None:
            fused = modconv.use_fused(n, weight, x.shape[2] * x.shape[3], (x.shape[2] + pad) * (x.shape[3] + pad))
        if fused:
            w = weight.unsqueeze(0) * (styles.unsqueeze(1) * coefs.unsqueeze(2)).reshape(n, self.out_channels, -1, 1, 1)
            w = w.reshape(n * self.out_channels, *weight.shape[1:]).to(x.dtype)
            y = F.conv2d(x.reshape(1, -1, *x.shape[2:]), w, padding=pad, groups=n)
            return y.reshape(n, self.out_channels, *y.shape[2:]), self.bias.to(x.dtype)
        if winograd.applies(x, weight.shape):
            u = winograd.transformed_weight(self, weight)
            return winograd.conv3x3(x, u, pad, in_scale=styles, out_scale=coefs, bias=self.bias), None
        y = F.conv2d(x * styles.to(x.dtype).reshape(n, -1, 1, 1), weight.to(x.dtype), padding=pad)
        return y.mul_(coefs.to(x.dtype).reshape(n, self.out_channels, 1, 1)), self.bias.to(x.dtype)


class SynthesisNetwork(nn.Module):
    """ws [N, num_layers + 2, w_dim] -> image [N, img_channels, img_resolution, img_resolution] (unclamped).

    ws[:, 0] drives the input (rotation/translation), ws[:, 1 + i] layer L<i> (the last one ToRGB).
    """

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, **layer_kwargs: Any):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_layers, self.num_critical, self.num_ws = num_layers, num_critical, num_layers + 2
        self.margin_size, self.output_scale, self.num_fp16_res = margin_size, output_scale, num_fp16_res
        self.force_fp32 = False
        s = frequency_schedule(img_resolution, img_channels, channel_base, channel_max, num_layers, num_critical,
                               first_cutoff, first_stopband, last_stopband_rel, margin_size)
        self.schedule = s
        self.input = SynthesisInput(w_dim, int(s["channels"][0]), int(s["sizes"][0]),
                                    sampling_rate=s["sampling_rates"][0], bandwidth=s["cutoffs"][0])
        self.layer_names: list[str] = []
        for i in range(num_layers + 1):
            prev = max(i - 1, 0)
            spec = LayerSpec(
                in_channels=int(s["channels"][prev]), out_channels=int(s["channels"][i]),
                in_size=int(s["sizes"][prev]), out_size=int(s["sizes"][i]),
                in_sampling_rate=int(s["sampling_rates"][prev]), out_sampling_rate=int(s["sampling_rates"][i]),
                in_cutoff=s["cutoffs"][prev], out_cutoff=s["cutoffs"][i],
                in_half_width=s["half_widths"][prev], out_half_width=s["half_widths"][i],
                is_torgb=(i == num_layers), is_critically_sampled=(i >= num_layers - num_critical),
                use_fp16=bool(s["sampling_rates"][i] * 2 ** num_fp16_res > img_resolution))
            name = f"L{i}_{spec.out_size}_{spec.out_channels}"
            setattr(self, name, SynthesisLayer(w_dim, spec, **layer_kwargs))
            self.layer_names.append(name)

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    @property
    def fp16_resolutions(self) -> list[int]:
        """Output sizes of the layers that run in float16 on CUDA."""
        return [layer.out_size for layer in self.layers() if layer.use_fp16]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: Any = None, force_fp32: bool | None = None,
                fused_modconv: bool | None = None, **_official: Any) -> torch.Tensor:
        """noise_mode / noise are accepted for the shared surface and ignored (StyleGAN3 has no noise
        inputs). `**_official` swallows official-only kwargs (update_emas)."""
        assert noise_mode in ("const", "random", "none"), noise_mode
        if noise:
            raise ValueError("StyleGAN3 has no noise inputs (noise_shapes is empty); pass noise=None")
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), (ws.shape, self.num_ws, self.w_dim)
        ws = ws.to(torch.float32)
        force_fp32 = self.force_fp32 if force_fp32 is None else force_fp32
        fp16 = ws.device.type == "cuda" and not force_fp32
        w_iter = iter(ws.unbind(dim=1))
        x = self.input(next(w_iter))
        for layer in self.layers():
            dtype = torch.float16 if (fp16 and layer.use_fp16) else torch.float32
            x = layer(x, next(w_iter), dtype=dtype, fused_modconv=fused_modconv)
        x = x.to(torch.float32)
        if self.output_scale != 1:
            x = x * self.output_scale
        assert x.shape[1:] == (self.img_channels, self.img_resolution, self.img_resolution), x.shape
        return x


MAPPING_KWARGS = {"num_layers", "lr_multiplier", "w_avg_beta"}
SYNTHESIS_KWARGS = {"channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                    "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res", "conv_kernel", "filter_size",
                    "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta"}


def _check_kwargs(what: str, kwargs: dict, known: set[str]) -> None:
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise CheckpointError(f"StyleGAN3 {what}: unknown kwarg(s) {', '.join(unknown)}; "
                              f"waifu-morph knows {', '.join(sorted(known))}")


class Generator(MixedPrecisionGenerator):
    """StyleGAN3 generator with the shared waifu-morph surface (see networks/__init__).

    Besides the shared surface: `sampling_rates`, `cutoffs` (tuples of num_ws floats, aligned with ws:
    the input's sampling rate / bandwidth, then each layer's output sampling rate / cutoff) and
    `ws_resolution` = round(2 x cutoff), so ws[:, 0] (the input, whose bandwidth is the first cutoff)
    and ws[:, 1] both read 2 * first_cutoff and the last (ToRGB) reads img_resolution.
    """

    arch = "stylegan3"

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 1024,
                 img_channels: int = 3, mapping_kwargs: dict | None = None, **synthesis_kwargs: Any):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.img_height = self.img_width = img_resolution
        mapping_kwargs = dict(mapping_kwargs or {})
        _check_kwargs("mapping_kwargs", mapping_kwargs, MAPPING_KWARGS)
        _check_kwargs("synthesis kwargs", synthesis_kwargs, SYNTHESIS_KWARGS)
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, **mapping_kwargs)
        s = self.synthesis.schedule
        self.sampling_rates = (float(s["sampling_rates"][0]),) + tuple(float(v) for v in s["sampling_rates"])
        self.cutoffs = (float(s["cutoffs"][0]),) + tuple(float(v) for v in s["cutoffs"])
        self.ws_resolution = tuple(int(round(2 * c)) for c in self.cutoffs)
        self.noise_shapes: tuple[tuple[int, int], ...] = ()
        assert len(self.ws_resolution) == self.num_ws and self.ws_resolution[-1] == img_resolution
