"""`train run --init CKPT`: start from a trained generator (and its discriminator where the file has one).

  G      any file waifu-morph loads (NVIDIA .pkl, TensorFlow .pkl, rosinality .pt, waifu-morph .pt),
         StyleGAN2 only: the trainer's discriminator, losses and regularizers are StyleGAN2's, so
         StyleGAN1 and StyleGAN3 generators are refused with a one-line reason. The run keeps the
         file's architecture, resolution, latent sizes and channels (its constructor kwargs); G and
         G_ema both start from the file's G_ema, except that an NVIDIA training snapshot's own
         non-EMA `G` is used for G when it has the same kwargs (as NVIDIA's --resume does).
  D      NVIDIA training snapshots carry `D`: a 'resnet' discriminator (the StyleGAN2 default) is
         loaded with its kwargs (channels, minibatch-std group, conv clamp, label mapping of a
         conditional model); any other file, or a D this trainer cannot build, gives a fresh D and a
         note saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import WaifuError

# The official Discriminator's positional arguments (stylegan2-ada-pytorch and stylegan3's networks_stylegan2).
D_ARGS = ("c_dim", "img_resolution", "img_channels")


@dataclass
class InitWeights:
    path: str
    format: str
    g_kwargs: dict[str, Any]
    g_ema_state: dict[str, torch.Tensor]
    g_state: dict[str, torch.Tensor]
    d_kwargs: dict[str, Any] | None = None
    d_state: dict[str, torch.Tensor] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def resolution(self) -> int:
        return int(self.g_kwargs["img_resolution"])

    @property
    def c_dim(self) -> int:
        return int(self.g_kwargs.get("c_dim", 0) or 0)


def read_init(path: Path) -> InitWeights:
    """The weights `--init` starts from, or a one-line WaifuError."""
    from ..formats import read_checkpoint
    from ..loading import build_generator

    path = Path(path)
    data = read_checkpoint(path)
    if data.arch != "stylegan2":
        raise WaifuError(f"--init {path}: a {data.arch} generator; waifu-morph trains StyleGAN2 only (its "
                         "discriminator, losses and regularizers); start from a StyleGAN2 checkpoint")
    G = build_generator(data)                                   # checks every tensor against the kwargs
    kwargs = _flat_kwargs(dict(data.init_kwargs))
    if kwargs.get("img_channels", 3) != 3:
        raise WaifuError(f"--init {path}: a {kwargs['img_channels']}-channel generator; the trainer draws RGB images only")
    init = InitWeights(str(path), data.format, kwargs, G.state_dict(), G.state_dict())
    from ..formats.nvidia_pickle import FORMAT_NAME

    if data.format == FORMAT_NAME:
        _nvidia_extras(path, init, G)
    else:
        init.notes.append(f"{path.name} ({data.format}) holds no discriminator: training a fresh D")
    return init


def _flat_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    nested = kwargs.pop("synthesis_kwargs", None)
    if nested:
        kwargs = {"num_fp16_res": 0, "conv_clamp": None, **kwargs, **nested}
    kwargs.pop("fused_modconv_default", None)
    return kwargs


def _nvidia_extras(path: Path, init: InitWeights, G_ema: torch.nn.Module) -> None:
    from ..formats.nvidia_pickle import PersistentStub, collect_state_dict, read_pickle_data

    data = read_pickle_data(path)
    if not isinstance(data, dict):
        init.notes.append(f"{path.name} holds a lone generator, no D: training a fresh D")
        return
    G = data.get("G")
    if isinstance(G, PersistentStub):
        state = collect_state_dict(G)
        if set(state) == set(init.g_ema_state) and all(state[k].shape == init.g_ema_state[k].shape for k in state):
            init.g_state = {k: v.clone() for k, v in state.items()}
    D = data.get("D")
    if not isinstance(D, PersistentStub) or D.class_name != "Discriminator":
        init.notes.append(f"{path.name} has no discriminator 'D': training a fresh D")
        return
    try:
        init.d_kwargs = discriminator_kwargs(D)
    except WaifuError as err:
        init.notes.append(f"{path.name}'s D is not usable here ({err}): training a fresh D")
        return
    init.d_state = {k: v for k, v in collect_state_dict(D).items() if not _is_fixed_filter(k)}


def _is_fixed_filter(name: str) -> bool:
    """The official blocks' own [1,3,3,1] filter buffers (b64.resample_filter): constants we do not keep."""
    return name.endswith("resample_filter") and name.count(".") == 1


def discriminator_kwargs(D: Any) -> dict[str, Any]:
    """kwargs of interpolate.train.discriminator.Discriminator from an official D's constructor kwargs."""
    args = D.state.get("_init_args") or ()
    kw = dict(zip(D_ARGS, args))
    kw.update(dict(D.state.get("_init_kwargs") or {}))
    arch = kw.get("architecture", "resnet")
    if arch != "resnet":
        raise WaifuError(f"a '{arch}' discriminator; this trainer has the resnet one")
    block = dict(kw.get("block_kwargs") or {})
    if block.get("activation", "lrelu") != "lrelu" or list(block.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise WaifuError("a discriminator with a non-default activation or filter")
    epilogue = dict(kw.get("epilogue_kwargs") or {})
    mapping = dict(kw.get("mapping_kwargs") or {})
    out = dict(img_resolution=int(kw["img_resolution"]), img_channels=int(kw.get("img_channels", 3)),
               channel_base=int(kw.get("channel_base", 32768)), channel_max=int(kw.get("channel_max", 512)),
               mbstd_group_size=int(epilogue.get("mbstd_group_size", 4)),
               mbstd_num_channels=int(epilogue.get("mbstd_num_channels", 1)),
               conv_clamp=kw.get("conv_clamp"), c_dim=int(kw.get("c_dim", 0) or 0),
               cmap_dim=kw.get("cmap_dim"), mapping_layers=int(mapping.get("num_layers", 8)))
    return out


def load_discriminator_state(D: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load, names and shapes, with a one-line error on the first mismatch."""
    expected = D.state_dict()
    for name, value in state.items():
        if name not in expected or tuple(expected[name].shape) != tuple(value.shape):
            raise WaifuError(f"--init {source}: the file's D tensor '{name}' {list(value.shape)} has no place in the "
                             "discriminator built from its kwargs; the file is not a standard StyleGAN2 snapshot")
    missing = [name for name in expected if name not in state]
    if missing:
        raise WaifuError(f"--init {source}: the file's D lacks '{missing[0]}'; the file is not a standard StyleGAN2 snapshot")
    D.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
