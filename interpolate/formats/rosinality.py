"""rosinality/stylegan2-pytorch checkpoints (.pt) -> official StyleGAN2 names and kwargs.

The file is a `torch.save` dict with 'g_ema' (a state dict) and, when made by convert_weight.py,
'latent_avg'; train.py checkpoints add 'g', 'd', optimizer states and 'args' (an argparse.Namespace,
allowed as plain data) and have no 'latent_avg'. The architecture is not stored: n_mlp, size and
channel_multiplier are read from the tensor shapes. Every g_ema tensor is converted or checked (the
fixed blur kernels must be the default [1, 3, 3, 1]); anything else is reported by name.

The result is a stylegan2 'skip' generator whose channel_base/channel_max reproduce the file's widths
(16384 * channel_multiplier and 512 for rosinality's own configs),
channel_max 512, no conv clamp, float32 (rosinality has neither clamp nor fp16).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from ..errors import CheckpointError
from . import CheckpointData

FORMAT_NAME = "rosinality stylegan2-pytorch .pt"
ARCH = "stylegan2"
W_AVG_SAMPLES = 4096
W_AVG_SEED = 0


def is_rosinality(data: Any) -> bool:
    return isinstance(data, dict) and ("g_ema" in data or "style.1.weight" in data)


def _default_kernel() -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum() * 4  # Blur/Upsample with factor 2 scale the kernel by factor**2


def _resample_filter() -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum()


def _mapping_mean(fc: list[tuple[torch.Tensor, torch.Tensor]], z_dim: int, lr_mul: float = 0.01) -> torch.Tensor:
    """Mean of W_AVG_SAMPLES mapped z (rosinality's mean_latent), with a fixed seed."""
    gen = torch.Generator().manual_seed(W_AVG_SEED)
    x = torch.randn(W_AVG_SAMPLES, z_dim, generator=gen, dtype=torch.float64)
    x = x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    for weight, bias in fc:
        w = weight.double() * (lr_mul / math.sqrt(weight.shape[1]))
        x = torch.nn.functional.leaky_relu(x @ w.T + bias.double() * lr_mul, 0.2) * math.sqrt(2)
    return x.mean(dim=0).float()


def _nvidia_channels(channels: dict[int, int]) -> tuple[int, int]:
    """(channel_base, channel_max) with min(channel_base // res, channel_max) == channels[res] for all res."""
    channel_max = max(channels.values())
    below = [res for res in sorted(channels) if channels[res] < channel_max]
    channel_base = channels[below[0]] * below[0] if below else channel_max * max(channels)
    for res, c in channels.items():
        if min(channel_base // res, channel_max) != c:
            table = ", ".join(f"{r}: {n}" for r, n in sorted(channels.items()))
            raise CheckpointError(f"the rosinality checkpoint's channel counts ({table}) do not follow StyleGAN2's rule (halving per resolution, capped); waifu-morph cannot map them (channel_multiplier 1 and 2 are supported)")
    return channel_base, channel_max


def convert(data: dict[str, Any]) -> CheckpointData:
    """rosinality checkpoint dict (or a bare g_ema state dict) -> CheckpointData (official SG2 names)."""
    src = data.get("g_ema", data) if "g_ema" in data else data
    if not isinstance(src, dict) or not all(isinstance(v, torch.Tensor) for v in src.values()):
        raise CheckpointError("the rosinality checkpoint's g_ema is not a state dict of tensors; the file is corrupt")
    todo = dict(src)

    def take(name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        if name not in todo:
            raise CheckpointError(f"the rosinality checkpoint lacks g_ema tensor '{name}'; the file is incomplete or not a rosinality StyleGAN2 generator")
        t = todo.pop(name)
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise CheckpointError(f"rosinality g_ema tensor '{name}' has shape {list(t.shape)}, expected {list(shape)}")
        return t.detach().float()

    n_mlp = sum(1 for k in src if re.fullmatch(r"style\.\d+\.weight", k))
    n_rgbs = sum(1 for k in src if re.fullmatch(r"to_rgbs\.\d+\.bias", k))
    if n_mlp == 0 or "input.input" not in src or "to_rgb1.conv.weight" not in src:
        raise CheckpointError("the rosinality checkpoint has no mapping layers (style.N.weight) or no input.input; it is not a rosinality StyleGAN2 generator")
    size = 2 ** (n_rgbs + 2)
    w_dim = int(src["style.1.weight"].shape[0])
    z_dim = int(src["style.1.weight"].shape[1])
    img_channels = int(src["to_rgb1.conv.weight"].shape[1])
    channels = {4: int(src["input.input"].shape[1])}
    for k in range(n_rgbs):
        name = f"convs.{2 * k}.conv.weight"
        if name not in src or src[name].ndim != 5:
            raise CheckpointError(f"the rosinality checkpoint lacks g_ema tensor '{name}' (or it is not [1, O, I, 3, 3]); the file is incomplete")
        channels[8 * 2 ** k] = int(src[name].shape[1])
    channel_base, channel_max = _nvidia_channels(channels)
    cm = channels[64] / 256 if 64 in channels else None
    out: dict[str, torch.Tensor] = {}

    def modconv(src_prefix: str, dst: str, cin: int, cout: int, k: int, noise: bool) -> None:
        out[f"{dst}.weight"] = take(f"{src_prefix}.conv.weight", (1, cout, cin, k, k))[0]
        if noise:
            out[f"{dst}.noise_strength"] = take(f"{src_prefix}.noise.weight", (1,)).reshape([])
            out[f"{dst}.bias"] = take(f"{src_prefix}.activate.bias", (cout,))
        else:
            out[f"{dst}.bias"] = take(f"{src_prefix}.bias", (1, cout, 1, 1)).reshape(-1)
        out[f"{dst}.affine.weight"] = take(f"{src_prefix}.conv.modulation.weight", (cin, w_dim))
        out[f"{dst}.affine.bias"] = take(f"{src_prefix}.conv.modulation.bias", (cin,))

    def kernel(name: str) -> None:
        t = take(name, (4, 4))
        if not torch.allclose(t, _default_kernel(), atol=1e-6):
            raise CheckpointError(f"rosinality g_ema tensor '{name}' is not the default [1,3,3,1] blur kernel; waifu-morph supports only that kernel")

    def noise(i: int, r: int) -> torch.Tensor:
        return take(f"noises.noise_{i}", (1, 1, r, r))[0, 0]

    for res in channels:
        b = f"synthesis.b{res}"
        c = channels[res]
        if res == 4:
            out[f"{b}.const"] = take("input.input", (1, c, 4, 4))[0]
            out[f"{b}.resample_filter"] = _resample_filter()
            modconv("conv1", f"{b}.conv1", c, c, 3, True)
            out[f"{b}.conv1.resample_filter"] = _resample_filter()
            out[f"{b}.conv1.noise_const"] = noise(0, 4)
            modconv("to_rgb1", f"{b}.torgb", c, img_channels, 1, False)
            continue
        k = int(math.log2(res)) - 3
        cin = channels[res // 2]
        out[f"{b}.resample_filter"] = _resample_filter()
        modconv(f"convs.{2 * k}", f"{b}.conv0", cin, c, 3, True)
        kernel(f"convs.{2 * k}.conv.blur.kernel")
        out[f"{b}.conv0.resample_filter"] = _resample_filter()
        out[f"{b}.conv0.noise_const"] = noise(2 * k + 1, res)
        modconv(f"convs.{2 * k + 1}", f"{b}.conv1", c, c, 3, True)
        out[f"{b}.conv1.resample_filter"] = _resample_filter()
        out[f"{b}.conv1.noise_const"] = noise(2 * k + 2, res)
        modconv(f"to_rgbs.{k}", f"{b}.torgb", c, img_channels, 1, False)
        kernel(f"to_rgbs.{k}.upsample.kernel")

    fc = []
    for i in range(n_mlp):
        cin = z_dim if i == 0 else w_dim
        weight, bias = take(f"style.{i + 1}.weight", (w_dim, cin)), take(f"style.{i + 1}.bias", (w_dim,))
        fc.append((weight, bias))
    meta: dict[str, Any] = {"channel_multiplier": cm, "n_mlp": n_mlp, "size": size, "channels": dict(channels)}
    latent_avg = data.get("latent_avg") if "g_ema" in data else None
    if isinstance(latent_avg, torch.Tensor):
        w_avg = latent_avg.detach().float().reshape(-1)
        if w_avg.numel() != w_dim:
            raise CheckpointError(f"the rosinality checkpoint's latent_avg has {w_avg.numel()} values, expected {w_dim} (style_dim)")
        meta["w_avg"] = "latent_avg from the file"
    else:
        w_avg = _mapping_mean(fc, z_dim)
        meta["w_avg"] = f"estimated: mean of {W_AVG_SAMPLES} mapped z (seed {W_AVG_SEED}); the file has no latent_avg"
    out["mapping.w_avg"] = w_avg
    for i, (weight, bias) in enumerate(fc):
        out[f"mapping.fc{i}.weight"] = weight
        out[f"mapping.fc{i}.bias"] = bias

    if todo:
        names = sorted(todo)
        raise CheckpointError(f"the rosinality checkpoint has {len(names)} g_ema tensor(s) waifu-morph does not know, first '{names[0]}'; it is not a standard rosinality StyleGAN2 generator")
    init_kwargs = dict(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=size, img_channels=img_channels,
                       mapping_kwargs={"num_layers": n_mlp}, channel_base=channel_base, channel_max=channel_max,
                       num_fp16_res=0, conv_clamp=None, architecture="skip")
    return CheckpointData(arch=ARCH, init_kwargs=init_kwargs, state_dict=out, format=FORMAT_NAME, meta=meta)
