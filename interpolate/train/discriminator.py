"""StyleGAN2 discriminator, 'resnet' architecture (Karras et al. 2020, config E/F), optionally conditional.

  block (res > 4)  [fromRGB 1x1 at the top block] -> conv0 3x3 -> conv1 3x3, x1/2 through the
                   [1,3,3,1] low-pass filter; skip: 1x1 x1/2; out = (skip + main) * sqrt(1/2)
  epilogue (4x4)   minibatch standard deviation (groups of `mbstd_group_size`, `mbstd_num_channels`
                   extra feature maps) -> conv 3x3 -> dense (C*16 -> C) -> dense (C -> 1) = logit
  conditional      (c_dim > 0) a label mapping (embed c, normalize, `num_layers` dense lrelu layers with
                   lr multiplier 0.01) gives cmap [N, cmap_dim]; the last dense gives cmap_dim
                   features and logit = sum(features * cmap) / sqrt(cmap_dim) (projection discriminator)

Layers are equalized (weights drawn N(0, 1) and scaled by 1/sqrt(fan_in) at run time) with lrelu
times sqrt(2). Parameter names follow the official `D.state_dict()` (b64.fromrgb.weight, ...,
b4.out.bias, mapping.embed.weight, mapping.fc0.weight). The official blocks also keep their fixed
[1,3,3,1] filter as a buffer (b64.resample_filter): `load_official_state` accepts and skips those.
Used only for training; the shipped checkpoint holds the generator alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..networks.stylegan2 import Conv2dLayer, FullyConnectedLayer, normalize_2nd_moment


class DiscriminatorBlock(nn.Module):
    """One resolution of the resnet discriminator: [N, C_in, R, R] -> [N, C_out, R/2, R/2]."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.resolution, self.img_channels = in_channels, resolution, img_channels
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        if self.in_channels == 0:
            assert x.shape[1:] == (self.img_channels, r, r), x.shape
            x = self.fromrgb(x)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y.add_(x)


class MinibatchStdLayer(nn.Module):
    """Append the mean standard deviation over groups of samples as `num_channels` feature maps."""

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        assert n % g == 0, f"batch {n} must be a multiple of the minibatch-std group {g}"
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])        # [N/G, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)    # [N, F, H, W]
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4 features -> one logit per image."""

    def __init__(self, in_channels: int, resolution: int = 4, mbstd_group_size: int = 4, mbstd_num_channels: int = 1,
                 conv_clamp: float | None = None, cmap_dim: int = 0):
        super().__init__()
        self.in_channels, self.resolution, self.cmap_dim = in_channels, resolution, cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                    conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, cmap_dim or 1)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:
        assert x.shape[1:] == (self.in_channels, self.resolution, self.resolution), x.shape
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class LabelMapping(nn.Module):
    """c [N, c_dim] -> cmap [N, cmap_dim] (the official MappingNetwork with z_dim = 0, no w_avg)."""

    def __init__(self, c_dim: int, cmap_dim: int, num_layers: int = 8, lr_multiplier: float = 0.01):
        super().__init__()
        self.c_dim, self.num_layers = c_dim, num_layers
        self.embed = FullyConnectedLayer(c_dim, cmap_dim)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(cmap_dim, cmap_dim, activation="lrelu", lr_multiplier=lr_multiplier))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        assert c.ndim == 2 and c.shape[1] == self.c_dim, (c.shape, self.c_dim)
        x = normalize_2nd_moment(self.embed(c.to(torch.float32)))
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class Discriminator(nn.Module):
    """images [N, C, R, R] in [-1, 1] (+ labels c [N, c_dim]) -> logits [N, 1]."""

    def __init__(self, img_resolution: int, img_channels: int = 3, channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group_size: int = 4, mbstd_num_channels: int = 1, conv_clamp: float | None = None,
                 c_dim: int = 0, cmap_dim: int | None = None, mapping_layers: int = 8):
        super().__init__()
        self.c_dim = c_dim
        log2 = int(math.log2(img_resolution))
        assert img_resolution >= 8 and img_resolution == 2 ** log2, img_resolution
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        for res in self.block_resolutions:
            in_channels = channels[res] if res < img_resolution else 0
            setattr(self, f"b{res}", DiscriminatorBlock(in_channels, channels[res], channels[res // 2], res,
                                                        img_channels, conv_clamp=conv_clamp))
        cmap_dim = (channels[4] if cmap_dim is None else cmap_dim) if c_dim else 0
        if c_dim:
            self.mapping = LabelMapping(c_dim, cmap_dim, num_layers=mapping_layers)
        self.b4 = DiscriminatorEpilogue(channels[4], mbstd_group_size=mbstd_group_size,
                                        mbstd_num_channels=mbstd_num_channels, conv_clamp=conv_clamp, cmap_dim=cmap_dim)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r = self.img_resolution
        assert img.ndim == 4 and img.shape[1:] == (self.img_channels, r, r), img.shape
        x = img.to(torch.float32)
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x)
        cmap = self.mapping(c) if self.c_dim else None
        return self.b4(x, cmap)
