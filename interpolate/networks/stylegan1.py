"""StyleGAN1 generator (NVlabs/stylegan `G_style`) in plain PyTorch, at lod 0.

Math (Karras et al. 2019, "A Style-Based Generator Architecture for GANs"):
  mapping    z -> pixel norm -> `mapping_layers` x (equalized dense, lr multiplier 0.01, bias, lrelu)
             -> w, broadcast to num_ws = 2 * log2(resolution) - 2 layers; truncation towards w_avg.
  synthesis  4x4: learned const -> epilogue 0 -> 3x3 conv -> epilogue 1;
             block R = 8..res: upsample x2 + 3x3 conv (nearest + conv below 128 px, one fused
             transposed conv from 128 px up) -> [1,2,1] blur -> epilogue -> 3x3 conv -> epilogue;
             ToRGB: 1x1 conv + bias.
  epilogue   x + noise * per-channel weight, + bias, lrelu(0.2), instance norm, AdaIN:
             x * (1 + style_scale(w_i)) + style_bias(w_i).
Equalized learning rate: weights are stored as trained (N(0, 1/lrmul) at init) and multiplied at
run time by gain / sqrt(fan_in) * lrmul; biases by lrmul. Weights use PyTorch layouts
([out, in] dense, [out, in, kh, kw] conv); `formats/tf_stylegan1.py` converts TF variables to them.

Non-square models (NVIDIA's cars 512x384) are square networks trained on letterboxed images;
`img_height`/`img_width` crop the centre of the square output, as NVIDIA's figures do.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import GeneratorBase, broadcast_truncated

ACTIVATIONS = {"lrelu": lambda x: F.leaky_relu(x, 0.2), "relu": F.relu}


def num_channels_at(stage: int, fmap_base: int, fmap_decay: float, fmap_max: int) -> int:
    """Feature maps at stage s (resolution 2**(s+1)): min(fmap_base / 2**(s * decay), fmap_max)."""
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over features) + 1e-8)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


class InstanceNorm(nn.Module):
    """Per-sample, per-channel normalisation over H, W (epsilon 1e-8, no affine)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=(2, 3), keepdim=True)
        return x * (x.square().mean(dim=(2, 3), keepdim=True) + 1e-8).rsqrt()


class EqualizedLinear(nn.Module):
    """Dense layer with run-time weight scale gain / sqrt(in) * lrmul; bias scaled by lrmul."""

    def __init__(self, in_features: int, out_features: int, gain: float, lrmul: float = 1.0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lrmul)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.weight_gain = gain / math.sqrt(in_features) * lrmul
        self.lrmul = lrmul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 2 and x.shape[1] == self.weight.shape[1], x.shape
        bias = None if self.bias is None else self.bias * self.lrmul
        return F.linear(x, self.weight * self.weight_gain, bias)


class EqualizedConv2d(nn.Module):
    """k x k convolution, zero padding k // 2, no bias, run-time scale gain / sqrt(in * k * k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.weight_gain = gain / math.sqrt(in_channels * kernel * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.weight.shape[1], x.shape
        return F.conv2d(x, self.weight * self.weight_gain, padding=self.weight.shape[-1] // 2)


class UpsampleConv2d(EqualizedConv2d):
    """x2 upsampling + 3x3 conv. Fused: one stride-2 transposed conv with the 3x3 kernel summed
    over a 2x2 window (4x4 kernel); otherwise nearest-neighbour upsampling, then the conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float, fused: bool):
        super().__init__(in_channels, out_channels, kernel, gain)
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.weight.shape[1], x.shape
        if not self.fused:
            return super().forward(x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))
        w = (self.weight * self.weight_gain).transpose(0, 1)   # [in, out, k, k] for conv_transpose2d
        w = F.pad(w, [1, 1, 1, 1])
        w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
        pad = (w.shape[-1] - 1) // 2                           # SAME output size 2H x 2W
        return F.conv_transpose2d(x, w, stride=2, padding=pad)


class Blur(nn.Module):
    """Depthwise low-pass filter (outer product of `taps`, normalised to sum 1), zero padding SAME."""

    def __init__(self, taps: Sequence[float] = (1, 2, 1)):
        super().__init__()
        f = torch.tensor(taps, dtype=torch.float32)
        f = torch.outer(f, f) if f.ndim == 1 else f
        self.register_buffer("kernel", f / f.sum(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        kh, kw = self.kernel.shape
        k = self.kernel.to(x.dtype)[None, None].expand(c, 1, kh, kw)
        x = F.pad(x, [(kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2])  # TF 'SAME'
        return F.conv2d(x, k, groups=c)


class LayerEpilogue(nn.Module):
    """Noise (per-channel weight), bias, activation, instance norm, then AdaIN style modulation."""

    def __init__(self, channels: int, w_dim: int, resolution: int, activation: str):
        super().__init__()
        self.channels, self.resolution = channels, resolution
        self.noise_strength = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.act = ACTIVATIONS[activation]
        self.norm = InstanceNorm()
        self.style = EqualizedLinear(w_dim, 2 * channels, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        n, c, h, wd = x.shape
        assert c == self.channels and h == wd == self.resolution, x.shape
        if noise is not None:
            assert noise.shape[-2:] == (h, wd), noise.shape
            x = x + noise * self.noise_strength.view(1, -1, 1, 1)
        x = self.act(x + self.bias.view(1, -1, 1, 1))
        x = self.norm(x)
        style = self.style(w)
        scale, shift = style[:, :c], style[:, c:]
        return x * (scale.view(n, c, 1, 1) + 1) + shift.view(n, c, 1, 1)


class InputBlock(nn.Module):
    """4x4: learned constant -> epilogue, 3x3 conv -> epilogue (ws 0 and 1)."""

    def __init__(self, channels: int, w_dim: int, activation: str, gain: float):
        super().__init__()
        self.resolution = 4
        self.const = nn.Parameter(torch.ones(channels, 4, 4))
        self.epilogue0 = LayerEpilogue(channels, w_dim, 4, activation)
        self.conv = EqualizedConv2d(channels, channels, 3, gain)
        self.epilogue1 = LayerEpilogue(channels, w_dim, 4, activation)

    def forward(self, ws: torch.Tensor, noise: Sequence[torch.Tensor | None]) -> torch.Tensor:
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.epilogue0(x, ws[:, 0], noise[0])
        return self.epilogue1(self.conv(x), ws[:, 1], noise[1])


class UpBlock(nn.Module):
    """Resolution R: upsampling conv -> blur -> epilogue, 3x3 conv -> epilogue (two ws)."""

    def __init__(self, resolution: int, in_channels: int, out_channels: int, w_dim: int, activation: str,
                 gain: float, fused: bool, blur_filter: Sequence[float] | None):
        super().__init__()
        self.resolution = resolution
        self.up = UpsampleConv2d(in_channels, out_channels, 3, gain, fused)
        self.blur = Blur(blur_filter) if blur_filter else nn.Identity()
        self.epilogue0 = LayerEpilogue(out_channels, w_dim, resolution, activation)
        self.conv = EqualizedConv2d(out_channels, out_channels, 3, gain)
        self.epilogue1 = LayerEpilogue(out_channels, w_dim, resolution, activation)

    def forward(self, x: torch.Tensor, ws: torch.Tensor, noise: Sequence[torch.Tensor | None]) -> torch.Tensor:
        assert x.shape[2] * 2 == self.resolution, x.shape
        x = self.epilogue0(self.blur(self.up(x)), ws[:, 0], noise[0])
        return self.epilogue1(self.conv(x), ws[:, 1], noise[1])


class ToRGB(nn.Module):
    """1x1 conv (gain 1) + bias: features -> image channels."""

    def __init__(self, in_channels: int, img_channels: int):
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, img_channels, 1, gain=1.0)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.bias.view(1, -1, 1, 1)


class MappingNetwork(nn.Module):
    """z (+ embedded label) -> pixel norm -> dense stack -> w, broadcast to num_ws, then truncation.

    `w_avg` is TF `dlatent_avg`. Truncation: ws[:, :cutoff] = w_avg + psi * (ws - w_avg) (all ws
    when cutoff is None; psi 1 = off).
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int, fmaps: int, lrmul: float,
                 activation: str, normalize_latents: bool = True):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        if c_dim:
            self.embed = nn.Parameter(torch.randn(z_dim, c_dim))  # plain matmul, no scaling (TF LabelConcat)
        self.norm = PixelNorm() if normalize_latents else nn.Identity()
        features = [z_dim * (2 if c_dim else 1)] + [fmaps] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            setattr(self, f"fc{i}", EqualizedLinear(features[i], features[i + 1], gain=math.sqrt(2), lrmul=lrmul))
        self.act = ACTIVATIONS[activation]
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.z_dim, z.shape
        x = z.to(torch.float32)
        if self.c_dim:
            assert c is not None and c.shape == (z.shape[0], self.c_dim), "this generator is conditional: pass c [N, c_dim]"
            x = torch.cat([x, F.linear(c.to(torch.float32), self.embed)], dim=1)
        x = self.norm(x)
        for i in range(self.num_layers):
            x = self.act(getattr(self, f"fc{i}")(x))
        ws = broadcast_truncated(x, self.num_ws, self.w_avg, truncation_psi, truncation_cutoff)
        assert ws.shape[1:] == (self.num_ws, self.w_dim)
        return ws


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, C, img_height, img_width].

    The network is square (img_resolution); non-square models return the centre crop.
    noise_mode: 'const' (stored noise), 'random' (fresh N(0, 1)), 'none'; `noise` (a list of
    [N, 1, H, W]) overrides it.
    """

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, fmap_base: int, fmap_decay: float,
                 fmap_max: int, activation: str, fused_scale: bool | str, blur_filter: Sequence[float] | None,
                 img_height: int, img_width: int):
        super().__init__()
        log2 = int(math.log2(img_resolution))
        assert img_resolution == 2 ** log2 and img_resolution >= 4, img_resolution
        assert img_height <= img_resolution and img_width <= img_resolution, (img_height, img_width)
        nf = lambda stage: num_channels_at(stage, fmap_base, fmap_decay, fmap_max)  # noqa: E731
        gain = math.sqrt(2)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_height, self.img_width = img_height, img_width
        self.resolutions = [2 ** r for r in range(2, log2 + 1)]
        self.num_ws = 2 * len(self.resolutions)
        self.noise_shapes = tuple((r, r) for r in self.resolutions for _ in range(2))
        self.b4 = InputBlock(nf(1), w_dim, activation, gain)
        for r in range(3, log2 + 1):
            res = 2 ** r
            fused = res >= 128 if fused_scale == "auto" else bool(fused_scale)
            setattr(self, f"b{res}", UpBlock(res, nf(r - 2), nf(r - 1), w_dim, activation, gain, fused, blur_filter))
        self.torgb = ToRGB(nf(log2 - 1), img_channels)

    def blocks(self) -> list[nn.Module]:
        return [getattr(self, f"b{res}") for res in self.resolutions]

    def noise_buffers(self) -> list[torch.Tensor]:
        return [epi.noise_const for blk in self.blocks() for epi in (blk.epilogue0, blk.epilogue1)]

    def make_noise(self, n: int, noise_mode: str, device: torch.device) -> list[torch.Tensor | None]:
        assert noise_mode in ("const", "random", "none"), noise_mode
        if noise_mode == "const":
            return [buf.view(1, 1, *buf.shape) for buf in self.noise_buffers()]
        if noise_mode == "random":
            return [torch.randn(n, 1, h, w, device=device) for h, w in self.noise_shapes]
        return [None] * self.num_ws

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.w_dim), ws.shape
        ws = ws.to(torch.float32)
        if noise is None:
            noise = self.make_noise(ws.shape[0], noise_mode, ws.device)
        else:
            assert len(noise) == self.num_ws, f"expected {self.num_ws} noise tensors, got {len(noise)}"
            noise = [t.to(ws.device, torch.float32) for t in noise]
        x = self.b4(ws[:, 0:2], noise[0:2])
        for i, res in enumerate(self.resolutions[1:], start=1):
            x = getattr(self, f"b{res}")(x, ws[:, 2 * i:2 * i + 2], noise[2 * i:2 * i + 2])
        img = self.torgb(x)
        assert img.shape[1:] == (self.img_channels, self.img_resolution, self.img_resolution), img.shape
        top = (self.img_resolution - self.img_height) // 2     # letterboxed training data: centre crop
        left = (self.img_resolution - self.img_width) // 2
        return img[:, :, top:top + self.img_height, left:left + self.img_width]


class Generator(GeneratorBase):
    """NVlabs/stylegan G_style with the shared waifu-morph Generator surface (see networks/__init__).

    `default_truncation_psi` / `default_truncation_cutoff` are what the official `Gs.run` applies
    when not told otherwise (0.7 on ws[:, :8]); `mapping()` itself defaults to no truncation.
    """

    arch = "stylegan1"

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 1024,
                 img_channels: int = 3, fmap_base: int = 8192, fmap_decay: float = 1.0, fmap_max: int = 512,
                 mapping_layers: int = 8, mapping_fmaps: int = 512, mapping_lrmul: float = 0.01,
                 mapping_nonlinearity: str = "lrelu", normalize_latents: bool = True, nonlinearity: str = "lrelu",
                 fused_scale: bool | str = "auto", blur_filter: Sequence[float] | None = (1, 2, 1),
                 img_height: int | None = None, img_width: int | None = None,
                 default_truncation_psi: float = 0.7, default_truncation_cutoff: int | None = 8):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.img_height = img_height or img_resolution
        self.img_width = img_width or img_resolution
        self.default_truncation_psi = default_truncation_psi
        self.default_truncation_cutoff = default_truncation_cutoff
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, fmap_base, fmap_decay, fmap_max,
                                          nonlinearity, fused_scale, blur_filter, self.img_height, self.img_width)
        self.num_ws = self.synthesis.num_ws
        self.ws_resolution = tuple(r for r in self.synthesis.resolutions for _ in range(2))
        self.noise_shapes = self.synthesis.noise_shapes
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, mapping_layers, mapping_fmaps, mapping_lrmul,
                                      mapping_nonlinearity, normalize_latents)
