"""StyleGAN2 generator (configs E/F, as in NVlabs stylegan2-ada-pytorch / stylegan3) in plain PyTorch.

Math (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"):
  mapping    z -> normalize 2nd moment [-> concat normalized label embedding] -> num_layers x
             (equalized dense, lr multiplier 0.01, bias, lrelu * sqrt 2) -> w, broadcast to num_ws;
             truncation: ws[:, :cutoff] = w_avg + psi * (ws[:, :cutoff] - w_avg).
  layer      style s = affine(w) (bias init 1); weight' = weight * s (per input channel), demodulated
             by 1 / sqrt(sum weight'^2 + 1e-8) per output channel; 3x3 conv (the first of a block
             upsamples x2: transposed conv + [1,3,3,1] filter); + noise * noise_strength; + bias;
             lrelu * sqrt 2, clamped to +-conv_clamp.
  block      R = 4: learned const -> conv1; R > 4: conv0 (up) -> conv1. 'skip': every block adds
             ToRGB (1x1 modulated conv, no demodulation, style scaled by 1/sqrt(in)) to the
             upsampled image so far; 'orig': ToRGB of the last block only; 'resnet': x = (skip(x) +
             conv1(conv0(x))) * sqrt(1/2) with skip a 1x1 up-sampling conv, ToRGB of the last block.
Parameters and buffers carry exactly the names and shapes of the official `G_ema.state_dict()`.
Constructor kwargs are those of stylegan3's `networks_stylegan2.Generator` (flat synthesis kwargs);
stylegan2-ada-pytorch's nested `synthesis_kwargs={...}` is also accepted, with that repo's defaults.

Precision: on CUDA the highest `num_fp16_res` resolutions run in float16 (with the official
pre-normalisation and clamping); on CPU/MPS, or with `force_fp32`, everything is float32.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import CheckpointError
from . import modconv, ops
from .base import MixedPrecisionGenerator, broadcast_truncated

ARCHITECTURES = ("orig", "skip", "resnet")
FAST_SLOPES = {"lrelu": 0.2, "relu": 0.0, "linear": None}   # activations modconv.modulated_conv_act fuses


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Equalized dense layer: x @ (weight * lr_multiplier / sqrt(in)).T + bias * lr_multiplier, then activation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 2 and x.shape[1] == self.in_features, (x.shape, self.in_features)
        w, b = modconv.scaled_dense(self, self.weight, self.weight_gain, self.bias, self.bias_gain, x.dtype)
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return ops.bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Equalized (un-modulated) convolution with optional x`up` or x1/`down` resampling through the
    low-pass filter, then bias and activation: the resnet skip here, every layer of the discriminator."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1,
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.out_channels, self.activation = in_channels, out_channels, activation
        self.up, self.down, self.conv_clamp, self.padding = up, down, conv_clamp, kernel_size // 2
        self.register_buffer("resample_filter", ops.setup_filter(list(resample_filter)))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ops.ACTIVATIONS[activation].def_gain
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = ops.conv2d_resample(x, w, self.resample_filter, up=self.up, down=self.down, padding=self.padding,
                                flip_weight=(self.up == 1))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return ops.bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ label c [N, c_dim]) -> ws [N, num_ws, w_dim], with truncation towards w_avg."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None, activation: str = "lrelu",
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.998):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation=activation,
                                                        lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            assert z is not None and z.ndim == 2 and z.shape[1] == self.z_dim, (None if z is None else z.shape)
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this generator is conditional: pass c of shape [N, {self.c_dim}]")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = broadcast_truncated(x, self.num_ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally x2 up) + noise + bias + lrelu, clamped; styles from one w."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.out_channels, self.w_dim = in_channels, out_channels, w_dim
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp, self.padding = activation, conv_clamp, kernel_size // 2
        self.act_gain = ops.ACTIVATIONS[activation].def_gain
        self.register_buffer("resample_filter", ops.setup_filter(list(resample_filter)))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None, gain: float = 1,
                fused_modconv: bool | None = None) -> torch.Tensor:
        """noise: unit noise broadcastable to [N, 1, res, res] (scaled by noise_strength here), or None."""
        in_res = self.resolution // self.up
        assert x.shape[1:] == (self.in_channels, in_res, in_res), (x.shape, self.in_channels, in_res)
        styles = self.affine(w)
        if noise is not None and self.use_noise:
            noise = noise * self.noise_strength
        else:
            noise = None
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        if modconv.fast_path(x) and self.activation in FAST_SLOPES:
            wsq = modconv.squared_weight_sums(self, self.weight)
            return modconv.modulated_conv_act(x, self.weight, styles, wsq, self.bias, noise=noise, up=self.up,
                                              padding=self.padding, resample_filter=self.resample_filter,
                                              flip_weight=(self.up == 1), act_gain=self.act_gain * gain,
                                              slope=FAST_SLOPES[self.activation], clamp=clamp, fused=fused_modconv,
                                              module=self)
        return self._plain(x, styles, noise, gain, fused_modconv)

    def _plain(self, x: torch.Tensor, styles: torch.Tensor, noise: torch.Tensor | None, gain: float,
               fused_modconv: bool | None) -> torch.Tensor:
        x = ops.modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                                 resample_filter=self.resample_filter, flip_weight=(self.up == 1), fused=fused_modconv)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return ops.bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated conv without demodulation + bias, clamped."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.out_channels, self.w_dim, self.conv_clamp = in_channels, out_channels, w_dim, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool | None = None) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if modconv.fast_path(x):
            return modconv.modulated_conv_act(x, self.weight, styles, None, self.bias, slope=None,
                                              clamp=self.conv_clamp, fused=fused_modconv)
        x = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused_modconv)
        return ops.bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 up) -> conv1 [-> ToRGB]; ws [N, num_conv + num_torgb, w_dim]."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", resample_filter: Sequence[float] = (1, 3, 3, 1),
                 conv_clamp: float | None = 256, use_fp16: bool = False, fp16_channels_last: bool = False,
                 **layer_kwargs: Any):
        super().__init__()
        assert architecture in ARCHITECTURES, architecture
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", ops.setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp,
                                    **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, kernel_size=1, bias=False, up=2,
                                    resample_filter=resample_filter)

    @property
    def noise_layers(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise: Sequence[torch.Tensor | None], fp16: bool,
                fused_modconv: bool | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        assert ws.shape[1:] == (self.num_conv + self.num_torgb, self.w_dim), ws.shape
        dtype = torch.float16 if (self.use_fp16 and fp16) else torch.float32
        channels_last = (self.channels_last and fp16) or ops.fast_path(ws.new_empty(0, dtype=dtype))
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = x.contiguous(memory_format=memory_format)
            x = self.conv1(x, next(w_iter), noise[0], fused_modconv=fused_modconv)
        else:
            assert x is not None and x.shape[1:] == (self.in_channels, self.resolution // 2, self.resolution // 2)
            x = x.to(dtype=dtype, memory_format=memory_format)
            if self.architecture == "resnet":
                y = self.skip(x, gain=math.sqrt(0.5))
                x = self.conv0(x, next(w_iter), noise[0], fused_modconv=fused_modconv)
                x = y + self.conv1(x, next(w_iter), noise[1], gain=math.sqrt(0.5), fused_modconv=fused_modconv)
            else:
                x = self.conv0(x, next(w_iter), noise[0], fused_modconv=fused_modconv)
                x = self.conv1(x, next(w_iter), noise[1], fused_modconv=fused_modconv)
        if img is not None:
            img = ops.upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused_modconv).to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, img_resolution, img_resolution] (unclamped).

    noise_mode: 'const' (stored noise_const buffers), 'random' (fresh N(0, 1)), 'none'; `noise`, a
    list of unit-variance tensors [N or 1, 1, H, W] in the order of `noise_shapes` (None entries =
    no noise there), overrides it. Each is scaled by its layer's noise_strength.
    """

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 4, **block_kwargs: Any):
        super().__init__()
        log2 = int(math.log2(img_resolution))
        assert img_resolution >= 4 and img_resolution == 2 ** log2, img_resolution
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_fp16_res = num_fp16_res
        self.force_fp32 = False
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=(res == img_resolution), use_fp16=(res >= fp16_resolution), **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)
        self.noise_layers = [layer for block in self.blocks() for layer in block.noise_layers]
        self.use_noise = self.b4.conv1.use_noise
        self.noise_shapes = tuple((l.resolution, l.resolution) for l in self.noise_layers) if self.use_noise else ()

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    @property
    def fp16_resolutions(self) -> list[int]:
        return [b.resolution for b in self.blocks() if b.use_fp16]

    def make_noise(self, n: int, noise_mode: str, device: torch.device) -> list[torch.Tensor | None]:
        assert noise_mode in ("const", "random", "none"), noise_mode
        if noise_mode == "const" and self.use_noise:
            return [l.noise_const.view(1, 1, *l.noise_const.shape) for l in self.noise_layers]
        if noise_mode == "random" and self.use_noise:
            return [torch.randn(n, 1, h, w, device=device) for h, w in self.noise_shapes]
        return [None] * len(self.noise_layers)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: Sequence[torch.Tensor | None] | None = None,
                force_fp32: bool | None = None, fused_modconv: bool | None = None, **_official: Any) -> torch.Tensor:
        """fused_modconv: one grouped conv with per-sample weights (True) or modulated activations with
        shared weights (False; same math, faster for batches); None picks fused only for batch 1.
        `**_official` swallows official-only kwargs (update_emas)."""
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), (ws.shape, self.num_ws, self.w_dim)
        ws = ws.to(torch.float32)
        force_fp32 = self.force_fp32 if force_fp32 is None else force_fp32
        fp16 = ws.device.type == "cuda" and not force_fp32
        if noise is None:
            noise = self.make_noise(ws.shape[0], noise_mode, ws.device)
        else:
            if len(noise) != len(self.noise_shapes):
                raise ValueError(f"expected {len(self.noise_shapes)} noise tensors (noise_shapes), got {len(noise)}")
            noise = [None if t is None else t.to(ws.device, torch.float32) for t in noise]
            for t, shape in zip(noise, self.noise_shapes):
                assert t is None or (t.ndim == 4 and t.shape[1] == 1 and tuple(t.shape[2:]) == shape), (t.shape, shape)
            noise = noise if noise else [None] * len(self.noise_layers)
        x = img = None
        w_idx = n_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            x, img = block(x, img, block_ws, noise[n_idx:n_idx + block.num_conv], fp16, fused_modconv)
            w_idx += block.num_conv
            n_idx += block.num_conv
        return img


class Generator(MixedPrecisionGenerator):
    """StyleGAN2 generator with the shared waifu-morph surface (see networks/__init__)."""

    arch = "stylegan2"

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 1024,
                 img_channels: int = 3, mapping_kwargs: dict | None = None, synthesis_kwargs: dict | None = None,
                 **flat_synthesis_kwargs: Any):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.img_height = self.img_width = img_resolution
        synthesis_kwargs = self._synthesis_kwargs(synthesis_kwargs, flat_synthesis_kwargs)
        mapping_kwargs = dict(mapping_kwargs or {})
        _check_kwargs("mapping_kwargs", mapping_kwargs, MAPPING_KWARGS)
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, **mapping_kwargs)
        self.ws_resolution = tuple(res for res in self.synthesis.block_resolutions for _ in range(2))
        self.noise_shapes = self.synthesis.noise_shapes
        assert len(self.ws_resolution) == self.num_ws

    @staticmethod
    def _synthesis_kwargs(nested: dict | None, flat: dict) -> dict:
        """Flat kwargs (stylegan3) or nested `synthesis_kwargs` (stylegan2-ada-pytorch, whose defaults
        are num_fp16_res=0 and conv_clamp=None)."""
        kwargs = dict(flat)
        if nested is not None:
            kwargs = {"num_fp16_res": 0, "conv_clamp": None, **kwargs, **nested}
        _check_kwargs("synthesis kwargs", kwargs, SYNTHESIS_KWARGS)
        kwargs.pop("fused_modconv_default", None)  # only matters for training
        if "resample_filter" in kwargs:
            kwargs["resample_filter"] = list(kwargs["resample_filter"])
        if kwargs.get("architecture", "skip") not in ARCHITECTURES:
            raise CheckpointError(f"unknown StyleGAN2 architecture {kwargs['architecture']!r}; "
                                  f"expected one of {', '.join(ARCHITECTURES)}")
        return kwargs


MAPPING_KWARGS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
SYNTHESIS_KWARGS = {"channel_base", "channel_max", "num_fp16_res", "architecture", "resample_filter", "conv_clamp",
                    "fp16_channels_last", "fused_modconv_default", "kernel_size", "use_noise", "activation"}


def _check_kwargs(what: str, kwargs: dict, known: set[str]) -> None:
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise CheckpointError(f"StyleGAN2 {what}: unknown kwarg(s) {', '.join(unknown)}; "
                              f"waifu-morph knows {', '.join(sorted(known))}")
