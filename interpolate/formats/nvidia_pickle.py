"""NVIDIA PyTorch network pickles (stylegan2-ada-pytorch, stylegan3), read as data.

A snapshot is `pickle.dump(dict(G=..., D=..., G_ema=..., augment_pipe=..., training_set_kwargs=...))`
where each network is a `torch_utils.persistence` object: `_reconstruct_persistent_obj(meta)` with
meta = {type, version, module_src, class_name, state}. The official loader exec()s `module_src`; here
that global maps to `PersistentStub`, which keeps the meta as data (the source is never compiled).
Tensors come through the same torch globals `torch.load` uses; each storage is a legacy `torch.save`
blob, parsed with `torch.load(weights_only=True)`.

From the stub tree of `G_ema` we recover what the official `G_ema.state_dict()` would return (same
names, same order, same values) and its constructor kwargs (`_init_kwargs`), normalized to the flat
kwargs of `interpolate.networks` (stylegan2-ada-pytorch nests the synthesis kwargs, with its own
defaults). StyleGAN2 vs StyleGAN3 is read from the module tree, never from the file name.
"""

from __future__ import annotations

import collections
import io
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from ..errors import CheckpointError
from . import CheckpointData
from .safe_pickle import COLLECTIONS_GLOBALS, NUMPY_GLOBALS, safe_load

FORMAT_NAME = "NVIDIA PyTorch network pickle"
SNIFF_MARKER = b"torch_utils.persistence"

# Positional constructor arguments of every official Generator (both repos, SG2 and SG3).
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
# stylegan2-ada-pytorch's SynthesisNetwork/Block defaults that differ from stylegan3's networks_stylegan2.
SG2ADA_SYNTHESIS_DEFAULTS = {"num_fp16_res": 0, "conv_clamp": None}


class PersistentStub:
    """Stand-in for a `torch_utils.persistence` object: the meta dict as data, nothing executed."""

    def __init__(self, meta: Any):
        if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
            raise CheckpointError("the pickle holds a persistent object without a state dict; the file is not an NVIDIA network pickle")
        self.type = meta.get("type")
        self.version = meta.get("version")
        self.class_name = str(meta.get("class_name", "?"))
        self.module_src = meta.get("module_src") if isinstance(meta.get("module_src"), str) else ""
        self.state: dict[str, Any] = meta["state"]

    def child(self, name: str) -> "PersistentStub | None":
        modules = self.state.get("_modules") or {}
        obj = modules.get(name)
        return obj if isinstance(obj, PersistentStub) else None

    @property
    def children(self) -> dict[str, Any]:
        return dict(self.state.get("_modules") or {})

    def __repr__(self) -> str:
        return f"<persistent {self.class_name}>"


class EasyDictStub(dict):
    """`dnnlib.util.EasyDict`: a plain dict here."""


def _reconstruct_persistent_obj(meta: Any) -> PersistentStub:
    return PersistentStub(meta)


def _load_from_bytes(data: Any) -> Any:
    """torch.storage._load_from_bytes: a legacy `torch.save` of one storage, read with weights_only."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("the pickle rebuilds a tensor storage from something other than bytes; the file is corrupt")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises several types for corrupt data
        raise CheckpointError(f"a tensor storage in the pickle cannot be read ({type(exc).__name__}); the file may be truncated or corrupt") from None
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError("a tensor storage in the pickle holds something other than a storage; the file is corrupt")
    return storage


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError("the pickle rebuilds a tensor from something other than a storage; the file is corrupt")
    try:
        return torch._utils._rebuild_tensor_v2(storage, int(storage_offset), tuple(size), tuple(stride), False, collections.OrderedDict())
    except (RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"a tensor in the pickle does not fit its storage ({exc}); the file is corrupt") from None


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, state: Any = None) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise CheckpointError("the pickle rebuilds a parameter from something other than a tensor; the file is corrupt")
    return torch.nn.Parameter(data, requires_grad=False)


NVIDIA_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    **NUMPY_GLOBALS,
    **COLLECTIONS_GLOBALS,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
    ("dnnlib", "EasyDict"): EasyDictStub,
    ("builtins", "set"): set,           # protocol <= 3 pickles spell sets this way
    ("builtins", "frozenset"): frozenset,
}


# --- reading --------------------------------------------------------------------------------------


def read_pickle_data(file: str | Path | BinaryIO | bytes) -> Any:
    """Unpickle the file with the allow-list above (no code from the file runs)."""
    if isinstance(file, (str, Path)):
        with open(file, "rb") as f:
            return safe_load(f, NVIDIA_PICKLE_GLOBALS, encoding="latin1")
    return safe_load(file, NVIDIA_PICKLE_GLOBALS, encoding="latin1")


def read_nvidia_pickle(file: str | Path | BinaryIO | bytes) -> CheckpointData:
    """An NVIDIA PyTorch network pickle -> CheckpointData of its G_ema."""
    data = read_pickle_data(file)
    G, extra = pick_generator(data)
    return generator_checkpoint(G, extra)


def _describe_contents(data: Any) -> str:
    if isinstance(data, PersistentStub):
        return f"one {data.class_name}"
    if isinstance(data, dict):
        parts = []
        for key, value in data.items():
            what = value.class_name if isinstance(value, PersistentStub) else type(value).__name__
            parts.append(f"{key}: {what}")
        return "{" + ", ".join(parts) + "}" if parts else "an empty dict"
    return f"a {type(data).__name__}"


def pick_generator(data: Any) -> tuple[PersistentStub, dict[str, Any]]:
    """(G_ema stub, meta from the snapshot) of an unpickled NVIDIA snapshot, or a one-line error."""
    found = _describe_contents(data)
    if isinstance(data, PersistentStub):
        candidates, extra = {"(top level)": data}, {}
    elif isinstance(data, dict):
        candidates = {k: v for k, v in data.items() if isinstance(v, PersistentStub)}
        extra = {}
        tsk = data.get("training_set_kwargs")
        if isinstance(tsk, dict):
            extra["training_set_kwargs"] = _plain(tsk)
        extra["snapshot_keys"] = [str(k) for k in data.keys()]
    else:
        raise CheckpointError(f"the NVIDIA pickle holds {found}, not a snapshot dict with G_ema; it is not a StyleGAN network pickle")
    if "G_ema" in candidates:
        G = candidates["G_ema"]
    elif "(top level)" in candidates:
        G = candidates["(top level)"]
    else:
        has_d = any(v.class_name == "Discriminator" for v in candidates.values())
        has_g = "G" in candidates
        if has_d and not has_g:
            raise CheckpointError(f"the NVIDIA pickle holds only a discriminator ({found}); waifu-morph needs the generator G_ema: use the full training snapshot (network-snapshot-*.pkl)")
        raise CheckpointError(f"the NVIDIA pickle has no G_ema ({found}); waifu-morph renders from G_ema: use a training snapshot that contains it")
    if G.class_name == "Discriminator":
        raise CheckpointError(f"the NVIDIA pickle holds only a discriminator ({found}); waifu-morph needs the generator G_ema")
    if G.class_name != "Generator":
        raise CheckpointError(f"the NVIDIA pickle's G_ema is a {G.class_name!r}, not a StyleGAN2/StyleGAN3 'Generator'; waifu-morph cannot render it")
    return G, extra


def detect_arch(G: PersistentStub) -> str:
    """'stylegan2' (synthesis blocks b4, b8, ...) or 'stylegan3' (input + L<i>_<size>_<ch> layers)."""
    syn = G.child("synthesis")
    if syn is None or G.child("mapping") is None:
        found = ", ".join(G.children) or "none"
        raise CheckpointError(f"the NVIDIA pickle's Generator lacks a synthesis or mapping network (children: {found}); the file is not a StyleGAN2/3 generator")
    kids = {name: (v.class_name if isinstance(v, PersistentStub) else type(v).__name__) for name, v in syn.children.items()}
    if kids.get("input") == "SynthesisInput" and any(re.fullmatch(r"L\d+_\d+_\d+", k) for k in kids):
        return "stylegan3"
    if kids.get("b4") == "SynthesisBlock":
        return "stylegan2"
    listing = ", ".join(f"{k} ({v})" for k, v in list(kids.items())[:6]) or "none"
    raise CheckpointError(f"unknown generator architecture in the NVIDIA pickle: synthesis class {syn.class_name!r} with children {listing}; waifu-morph reads StyleGAN2 and StyleGAN3 pickles")


def collect_state_dict(stub: PersistentStub, prefix: str = "", out: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """What `module.state_dict()` returns, in the same order: own parameters, persistent buffers, then
    children (recursively, '<child>.' prefix). Values are plain (non-Parameter) tensors."""
    out = {} if out is None else out
    state = stub.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for name, value in (state.get("_parameters") or {}).items():
        if value is not None:
            out[prefix + name] = _tensor(value, prefix + name)
    for name, value in (state.get("_buffers") or {}).items():
        if value is not None and name not in skip:
            out[prefix + name] = _tensor(value, prefix + name)
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentStub):
            raise CheckpointError(f"the NVIDIA pickle's module {prefix + name} is a {type(child).__name__}, not a persistent network module; the file is not a StyleGAN pickle")
        collect_state_dict(child, f"{prefix}{name}.", out)
    return out


def _tensor(value: Any, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"the NVIDIA pickle's {name} is a {type(value).__name__}, not a tensor; the file is corrupt")
    return value.detach() if not isinstance(value, torch.nn.Parameter) else value.data


def _plain(obj: Any) -> Any:
    """EasyDicts -> dicts, numpy scalars -> Python numbers, tuples kept; recursively."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def init_kwargs_of(G: PersistentStub, arch: str) -> tuple[dict[str, Any], str]:
    """(flat init kwargs for interpolate.networks, name of the official module that wrote the file)."""
    state = G.state
    args = state.get("_init_args") or ()
    kwargs = state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(args, (tuple, list)):
        raise CheckpointError("the NVIDIA pickle's G_ema has no constructor arguments (_init_kwargs); it was not saved by the official training code")
    if len(args) > len(GENERATOR_ARGS):
        raise CheckpointError(f"the NVIDIA pickle's G_ema was built with {len(args)} positional arguments; expected at most {len(GENERATOR_ARGS)}")
    kw = _plain({**dict(zip(GENERATOR_ARGS, args)), **kwargs})
    src = G.module_src
    if arch == "stylegan3":
        return kw, "stylegan3 training/networks_stylegan3.py"
    sg2ada = "synthesis_kwargs" in kw or re.search(r"synthesis_kwargs\s*=\s*\{\}", src) is not None
    if sg2ada:
        nested = kw.pop("synthesis_kwargs", None) or {}
        if not isinstance(nested, dict):
            raise CheckpointError("the NVIDIA pickle's G_ema has a synthesis_kwargs that is not a dict; the file is corrupt")
        kw = {**kw, **SG2ADA_SYNTHESIS_DEFAULTS, **nested}
        return kw, "stylegan2-ada-pytorch training/networks.py"
    return kw, "stylegan3 training/networks_stylegan2.py"


def generator_checkpoint(G: PersistentStub, extra: dict[str, Any] | None = None) -> CheckpointData:
    arch = detect_arch(G)
    init_kwargs, source = init_kwargs_of(G, arch)
    state_dict = collect_state_dict(G)
    meta = {"source": source, "class_name": G.class_name, "persistence_version": G.version, **(extra or {})}
    return CheckpointData(arch=arch, init_kwargs=init_kwargs, state_dict=state_dict, format=FORMAT_NAME, meta=meta)


def looks_like_nvidia_pickle(head: bytes) -> bool:
    return SNIFF_MARKER in head
