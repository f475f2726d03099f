"""NVIDIA TensorFlow network pickles (StyleGAN1 / StyleGAN2 TF), read as data without TensorFlow.

A TF-era training snapshot is `pickle.dump((G, D, Gs))` of three `dnnlib.tflib.network.Network`
objects. The official `Network.__setstate__` exec()s the embedded `build_module_src` and rebuilds the
TF graph; here the class is mapped to `_NetworkState`, whose `__setstate__` only keeps the state dict,
so the embedded source is never compiled or run. The state becomes a `TFNetwork`:

    version            3 = StyleGAN1 (NVlabs/stylegan), 4 = StyleGAN2 (NVlabs/stylegan2, -ada TF)
    name               'G', 'D', 'Gs' (render from Gs, the EMA copy), or a component name
    static_kwargs      kwargs the build function was called with (resolution, fmap_base, ...)
    components         {'synthesis': TFNetwork, 'mapping': TFNetwork} for generators, {} for D
    build_func_name    'G_style', 'G_main', 'G_paper', 'D_basic', ...
    variables          own variables in creation order, name -> np.ndarray

`tf_checkpoint(net)` hands a generator to the converter of its architecture.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import CheckpointError
from . import CheckpointData
from .safe_pickle import NUMPY_GLOBALS, safe_load

FORMAT_NAME = "TensorFlow network pickle"

# Bytes that identify a TF network pickle near the start of the file (the first global it names).
SNIFF_MARKERS = (b"dnnlib.tflib.network", b"tfutil\nNetwork\n", b"\x8c\x06tfutil\x94\x8c\x07Network")


class _NetworkState:
    """Stand-in for `dnnlib.tflib.network.Network`: keeps the pickled state as data, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError("the TF network pickle holds a Network whose state is not a dict; the file is not a StyleGAN pickle")
        self.state = state


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
    """numpy.core.numeric._frombuffer (numpy arrays in protocol-5 pickles, e.g. re-saved by Python >= 3.8)."""
    dtype = np.dtype(dtype)
    if dtype.hasobject or order not in ("C", "F"):
        raise CheckpointError("the TF network pickle holds a numpy object array; it is not a StyleGAN pickle")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


TF_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    **NUMPY_GLOBALS,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("dnnlib.tflib.network", "Network"): _NetworkState,
    ("tfutil", "Network"): _NetworkState,  # ProGAN's original pickles (recognised only to name them)
}


@dataclass
class TFNetwork:
    """The pickled state of one `dnnlib.tflib.network.Network`, as plain data."""

    version: int
    name: str
    static_kwargs: dict[str, Any]
    components: dict[str, "TFNetwork"]
    build_func_name: str
    variables: dict[str, np.ndarray] = field(default_factory=dict)

    def all_vars(self) -> dict[str, np.ndarray]:
        """Own variables, then each component's as '<key>/<var>', key = the components dict key
        ('synthesis/4x4/Const/const', 'mapping/Dense0/weight'), as legacy.py's _collect_tf_params names
        them. (TF's own Network.vars uses the component's name instead: 'G_synthesis/...'.)"""
        out = dict(self.variables)
        for comp_name, comp in self.components.items():
            for var_name, value in comp.all_vars().items():
                out[f"{comp_name}/{var_name}"] = value
        return out

    @property
    def is_discriminator(self) -> bool:
        return self.build_func_name.split(".")[-1].startswith("D_") or (self.name == "D" and not self.components)

    def describe(self) -> str:
        """A short phrase for messages: "'Gs' (build function G_paper, version 3)"."""
        return f"'{self.name}' (build function {self.build_func_name or '?'}, pickle version {self.version})"


def _to_network(obj: Any, where: str) -> TFNetwork:
    if not isinstance(obj, _NetworkState):
        raise CheckpointError(f"the TF network pickle has a {type(obj).__name__} where a Network was expected ({where}); the file is not a StyleGAN pickle")
    state = obj.state
    try:
        raw_vars = state.get("variables", [])
        variables: dict[str, np.ndarray] = {}
        for name, value in (raw_vars.items() if isinstance(raw_vars, dict) else raw_vars):
            variables[str(name)] = np.asarray(value)
        components = {str(k): _to_network(v, f"{where}/{k}") for k, v in dict(state.get("components") or {}).items()}
        return TFNetwork(
            version=int(state.get("version", 0)),
            name=str(state.get("name", "?")),
            static_kwargs=dict(state.get("static_kwargs") or {}),
            components=components,
            build_func_name=str(state.get("build_func_name", "")),
            variables=variables,
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the TF network pickle's {where} state is malformed ({exc}); the file may be corrupt") from None


def _pick_generator(nets: list[TFNetwork]) -> TFNetwork:
    """Gs if present, else the generator among `nets`; a clear error if there is only a discriminator."""
    for want in ("Gs", "G"):
        for net in nets:
            if net.name == want and not net.is_discriminator:
                return net
    generators = [net for net in nets if not net.is_discriminator]
    if generators:
        return generators[-1]
    found = ", ".join(net.describe() for net in nets)
    raise CheckpointError(f"the TF network pickle holds only a discriminator ({found}); waifu-morph needs the generator: use the training snapshot that stores (G, D, Gs)")


def read_tf_pickle(file: str | Path | BinaryIO | bytes) -> TFNetwork:
    """Read a TF network pickle (path, file object or bytes) and return its generator, preferring Gs."""
    if isinstance(file, (str, Path)):
        with open(file, "rb") as f:
            data = safe_load(f, TF_PICKLE_GLOBALS, encoding="latin1")
    else:
        data = safe_load(file, TF_PICKLE_GLOBALS, encoding="latin1")
    if isinstance(data, _NetworkState):
        items = [data]
    elif isinstance(data, (tuple, list)) and data and all(isinstance(x, _NetworkState) for x in data):
        items = list(data)
    elif isinstance(data, dict) and data and all(isinstance(x, _NetworkState) for x in data.values()):
        items = list(data.values())
    else:
        raise CheckpointError(f"the pickle holds a {type(data).__name__}, not TF Network objects (G, D, Gs); it is not a TF StyleGAN network pickle")
    nets = [_to_network(x, f"item {i}") for i, x in enumerate(items)]
    return _pick_generator(nets)


def tf_checkpoint(net: TFNetwork, file_name: str | None = None) -> CheckpointData:
    """Convert a TF generator to CheckpointData with the converter of its architecture.

    file_name: the pickle's file name, used only as a hint for StyleGAN1's letterboxed non-square
    models (NVIDIA's 'karras2019stylegan-cars-512x384.pkl' -> 384 x 512 crop of the 512 px output).
    """
    func = net.build_func_name.split(".")[-1]
    if net.is_discriminator:
        raise CheckpointError(f"the TF network pickle's network {net.describe()} is a discriminator; waifu-morph needs the generator (Gs)")
    if func == "G_style":
        from . import tf_stylegan1

        size = tf_stylegan1.size_hint_from_name(file_name, int(net.static_kwargs.get("resolution", 1024))) if file_name else None
        return tf_stylegan1.convert(net, img_size=size)
    if func == "G_main":
        return importlib.import_module("interpolate.formats.tf_stylegan2").convert(net)
    if func == "G_paper" or net.version <= 2:
        raise CheckpointError(f"this TF network pickle is a Progressive GAN (ProGAN) generator {net.describe()}; waifu-morph renders StyleGAN 1/2/3 only")
    raise CheckpointError(f"unknown TF network in the pickle: {net.describe()}; waifu-morph reads StyleGAN1 (G_style) and StyleGAN2 (G_main) generators")


def read_tf_checkpoint(file: str | Path | BinaryIO | bytes) -> CheckpointData:
    """read_tf_pickle + tf_checkpoint: a TF network pickle straight to CheckpointData."""
    name = str(file) if isinstance(file, (str, Path)) else getattr(file, "name", None)
    return tf_checkpoint(read_tf_pickle(file), file_name=name if isinstance(name, str) else None)


def looks_like_tf_pickle(head: bytes) -> bool:
    """True if the first bytes of a file (a few KB) name the TF Network class, as TF pickles do first."""
    return any(marker in head[:4096] for marker in SNIFF_MARKERS)
