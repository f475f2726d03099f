"""Test helper: writes TensorFlow network pickles in NVIDIA's layout, without TensorFlow.

`TFNetworkWriter` pickles exactly like `dnnlib.tflib.network.Network` does: global
`dnnlib.tflib.network.Network`, NEWOBJ, then the `__getstate__` dict with keys version, name,
static_kwargs, components, build_module_src, build_func_name, variables (a list of (name, array)).
`dumps_tf` spells the numpy globals the numpy 1.x way (`numpy.core.multiarray`), as 2019 files do.

`stylegan1_*` build the variables of NVlabs/stylegan `G_style` (names, shapes and creation order of
the template graph) with random values, for small test models and the 512 px name/shape table.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

DUMMY_BUILD_SRC = "raise RuntimeError('build_module_src must never be executed')\n"


class TFNetworkWriter:
    """Pickles as `dnnlib.tflib.network.Network` with the official state keys."""

    def __init__(self, name: str, build_func_name: str, static_kwargs: dict, variables: dict[str, np.ndarray],
                 components: dict[str, "TFNetworkWriter"] | None = None, version: int = 3,
                 build_module_src: str = DUMMY_BUILD_SRC):
        self.name = name
        self.build_func_name = build_func_name
        self.static_kwargs = dict(static_kwargs)
        self.variables = dict(variables)
        self.components = dict(components or {})
        self.version = version
        self.build_module_src = build_module_src

    def __getstate__(self) -> dict:
        return {
            "version": self.version,
            "name": self.name,
            "static_kwargs": dict(self.static_kwargs),
            "components": dict(self.components),
            "build_module_src": self.build_module_src,
            "build_func_name": self.build_func_name,
            "variables": list(self.variables.items()),
        }

    def all_vars(self) -> dict[str, np.ndarray]:
        out = dict(self.variables)
        for comp_name, comp in self.components.items():
            out.update({f"{comp_name}/{k}": v for k, v in comp.all_vars().items()})
        return out


class _TFPickler(pickle._Pickler):  # the pure-Python pickler lets us choose the names of globals
    def __init__(self, file, protocol: int, numpy1: bool):
        super().__init__(file, protocol=protocol)
        self.numpy1 = numpy1

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is TFNetworkWriter:
            module, qualname = "dnnlib.tflib.network", "Network"
        else:
            module = getattr(obj, "__module__", None) or pickle.whichmodule(obj, name)
            qualname = name or getattr(obj, "__qualname__", obj.__name__)
            if module.startswith("numpy._core"):
                module = module.replace("numpy._core", "numpy.core" if self.numpy1 else "numpy._core")
            elif module.startswith("numpy.core") and not self.numpy1:
                module = module.replace("numpy.core", "numpy._core")
        if self.proto >= 4:
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode("utf-8"))
        self.memoize(obj)


def dumps_tf(obj: Any, protocol: int = 4, numpy1: bool = True) -> bytes:
    """Pickle (G, D, Gs) (or anything holding TFNetworkWriter objects) as NVIDIA's training loop did."""
    buf = io.BytesIO()
    _TFPickler(buf, protocol=protocol, numpy1=numpy1).dump(obj)
    return buf.getvalue()
