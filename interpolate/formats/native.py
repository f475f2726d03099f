"""waifu-morph's own weights file: a `torch.save` zip of one plain dict, loadable with weights_only=True.

    {'format': 'waifu-morph', 'version': 1, 'arch': 'stylegan2', 'init_kwargs': {...},
     'state_dict': {name: tensor}, 'meta': {...}}

`init_kwargs` are the kwargs of `interpolate.networks.build(arch, ...)`; `meta` holds plain data only
(str, numbers, bools, None, lists, dicts), so the file never needs anything but tensors and builtins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..files import atomic_path
from . import CheckpointData

FORMAT_NAME = "waifu-morph native .pt"
MAGIC = "waifu-morph"
VERSION = 1


def save_native(path: str | Path, G: torch.nn.Module | None = None, *, arch: str | None = None,
                init_kwargs: dict[str, Any] | None = None, state_dict: dict[str, torch.Tensor] | torch.nn.Module | None = None,
                meta: dict[str, Any] | None = None) -> Path:
    """Write a generator (`G`, or `state_dict` + `arch` + `init_kwargs`) atomically to `path`.

    arch defaults to `G.arch`. The file is written to a temporary name beside `path` and renamed.
    """
    if isinstance(state_dict, torch.nn.Module):
        G, state_dict = state_dict, None
    if state_dict is None:
        if G is None:
            raise ValueError("save_native needs G or state_dict")
        state_dict = G.state_dict()
        arch = arch or getattr(G, "arch", None)
    if not arch or init_kwargs is None:
        raise ValueError("save_native needs arch and init_kwargs")
    data = {
        "format": MAGIC, "version": VERSION, "arch": str(arch), "init_kwargs": dict(init_kwargs),
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
        "meta": dict(meta or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return path


def is_native(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == MAGIC


def from_dict(data: dict[str, Any]) -> CheckpointData:
    """CheckpointData from the loaded dict (see module docstring)."""
    version = data.get("version")
    if version != VERSION:
        raise CheckpointError(f"this waifu-morph checkpoint has version {version!r}; this waifu-morph reads version {VERSION}: upgrade waifu-morph")
    missing = [k for k in ("arch", "init_kwargs", "state_dict") if k not in data]
    if missing:
        raise CheckpointError(f"this waifu-morph checkpoint lacks {', '.join(missing)}; the file is incomplete, export it again")
    state = data["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("this waifu-morph checkpoint's state_dict is not a dict of tensors; export it again")
    return CheckpointData(arch=str(data["arch"]), init_kwargs=dict(data["init_kwargs"]), state_dict=dict(state),
                          format=FORMAT_NAME, meta=dict(data.get("meta") or {}))
