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
import types
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


class RenamingPickler(pickle._Pickler):
    """The pure-Python pickler, writing the names the original programs used: `renamed(obj)` gives
    (module, qualname) for the stand-in classes, and numpy's core module is written under its 1.x
    ('numpy.core') or 2.x ('numpy._core') name."""

    def __init__(self, file, protocol: int = 4, numpy1: bool = True):
        super().__init__(file, protocol=protocol)
        self.numpy1 = numpy1

    def renamed(self, obj: Any) -> tuple[str, str] | None:
        return None

    def save_global(self, obj: Any, name: str | None = None) -> None:
        known = self.renamed(obj)
        if known is not None:
            module, qualname = known
        else:
            module = getattr(obj, "__module__", None) or pickle.whichmodule(obj, name)
            qualname = name or getattr(obj, "__qualname__", obj.__name__)
            core = "numpy.core" if self.numpy1 else "numpy._core"
            for old in ("numpy._core", "numpy.core"):
                if module.startswith(old + "."):
                    module = core + module[len(old):]
                    break
        if self.proto >= 4:
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch = pickle._Pickler.dispatch.copy()
    dispatch[types.FunctionType] = save_global  # the base table would bypass the override for functions


class _TFPickler(RenamingPickler):
    def renamed(self, obj: Any) -> tuple[str, str] | None:
        return ("dnnlib.tflib.network", "Network") if obj is TFNetworkWriter else None


def dumps_tf(obj: Any, protocol: int = 4, numpy1: bool = True) -> bytes:
    """Pickle (G, D, Gs) (or anything holding TFNetworkWriter objects) as NVIDIA's training loop did."""
    buf = io.BytesIO()
    _TFPickler(buf, protocol=protocol, numpy1=numpy1).dump(obj)
    return buf.getvalue()


# --- StyleGAN1 (NVlabs/stylegan training/networks_stylegan.py, G_style) ----------------------------

SG1_DEFAULTS = dict(latent_size=512, label_size=0, dlatent_size=512, num_channels=3, resolution=1024,
                    fmap_base=8192, fmap_decay=1.0, fmap_max=512, mapping_layers=8, mapping_fmaps=512)


def _sg1_nf(stage: int, kw: dict) -> int:
    return min(int(kw["fmap_base"] / (2.0 ** (stage * kw["fmap_decay"]))), kw["fmap_max"])


def stylegan1_shapes(**static_kwargs) -> dict[str, dict[str, tuple[int, ...]]]:
    """Own variable names and shapes of G_style's three networks, in TF creation order (template
    graph, structure 'linear'): {'G': {...}, 'G_synthesis': {...}, 'G_mapping': {...}}."""
    kw = {**SG1_DEFAULTS, **static_kwargs}
    log2 = int(np.log2(kw["resolution"]))
    nc, w = kw["num_channels"], kw["dlatent_size"]
    syn: dict[str, tuple[int, ...]] = {"lod": ()}
    for i in range(2 * log2 - 2):
        r = 2 ** (i // 2 + 2)
        syn[f"noise{i}"] = (1, 1, r, r)

    def epilogue(scope: str, ch: int) -> None:
        syn[f"{scope}/Noise/weight"] = (ch,)
        syn[f"{scope}/bias"] = (ch,)
        syn[f"{scope}/StyleMod/weight"] = (w, 2 * ch)
        syn[f"{scope}/StyleMod/bias"] = (2 * ch,)

    def torgb(r2: int) -> None:
        ch = _sg1_nf(r2 - 1, kw)
        syn[f"ToRGB_lod{log2 - r2}/weight"] = (1, 1, ch, nc)
        syn[f"ToRGB_lod{log2 - r2}/bias"] = (nc,)

    ch = _sg1_nf(1, kw)
    syn["4x4/Const/const"] = (1, ch, 4, 4)
    epilogue("4x4/Const", ch)
    syn["4x4/Conv/weight"] = (3, 3, ch, ch)
    epilogue("4x4/Conv", ch)
    torgb(2)
    for r2 in range(3, log2 + 1):
        r, cin, cout = 2 ** r2, _sg1_nf(r2 - 2, kw), _sg1_nf(r2 - 1, kw)
        syn[f"{r}x{r}/Conv0_up/weight"] = (3, 3, cin, cout)
        epilogue(f"{r}x{r}/Conv0_up", cout)
        syn[f"{r}x{r}/Conv1/weight"] = (3, 3, cout, cout)
        epilogue(f"{r}x{r}/Conv1", cout)
        torgb(r2)
    mapping: dict[str, tuple[int, ...]] = {}
    z = kw["latent_size"]
    if kw["label_size"]:
        mapping["LabelConcat/weight"] = (kw["label_size"], z)
    feats = [z * (2 if kw["label_size"] else 1)] + [kw["mapping_fmaps"]] * (kw["mapping_layers"] - 1) + [w]
    for i in range(kw["mapping_layers"]):
        mapping[f"Dense{i}/weight"] = (feats[i], feats[i + 1])
        mapping[f"Dense{i}/bias"] = (feats[i + 1],)
    return {"G": {"lod": (), "dlatent_avg": (w,)}, "G_synthesis": syn, "G_mapping": mapping}


def _sg1_values(shapes: dict[str, tuple[int, ...]], rng: np.random.RandomState, mapping_lrmul: float) -> dict[str, np.ndarray]:
    """Random values with trained-like scales (weights as stored: N(0, 1/lrmul) for the mapping)."""
    out = {}
    for name, shape in shapes.items():
        if name == "lod":
            out[name] = np.float32(0)   # a 0-d variable comes back from tfutil.run as a numpy scalar
            continue
        leaf = name.split("/")[-1]
        if name.startswith("Dense") and leaf == "weight":
            value = rng.randn(*shape) / mapping_lrmul
        elif name.startswith("Dense"):
            value = rng.randn(*shape) * 0.1 / mapping_lrmul
        elif leaf in ("weight", "const") or name.startswith("noise"):
            value = rng.randn(*shape)
        else:  # biases, noise strengths, dlatent_avg
            value = rng.randn(*shape) * 0.2
        out[name] = value.astype(np.float32)
    return out


def stylegan1_networks(seed: int = 0, static_kwargs: dict | None = None, mapping_lrmul: float = 0.01,
                       variables_override: dict[str, dict[str, np.ndarray | None]] | None = None,
                       build_module_src: str = DUMMY_BUILD_SRC):
    """(G, D, Gs) TFNetworkWriters of a G_style model with random weights, as training_loop.py saves them.

    static_kwargs: G_style's kwargs (resolution, num_channels, label_size always present, as in training).
    variables_override: {'G_synthesis'|'G_mapping'|'G': {name: array or None (= delete)}} applied to Gs.
    """
    kwargs = {"num_channels": 3, "resolution": 32, "label_size": 0, **(static_kwargs or {})}
    shapes = stylegan1_shapes(**kwargs)
    rng = np.random.RandomState(seed)

    def make(name: str, values_seed: int):
        r = np.random.RandomState(values_seed)
        vals = {net: _sg1_values(s, r, mapping_lrmul) for net, s in shapes.items()}
        if name == "Gs":
            for net, changes in (variables_override or {}).items():
                for var, value in changes.items():
                    if value is None:
                        vals[net].pop(var, None)
                    else:
                        vals[net][var] = value
        syn = TFNetworkWriter("G_synthesis", "G_synthesis", kwargs, vals["G_synthesis"], build_module_src=build_module_src)
        num_layers = sum(1 for k in shapes["G_synthesis"] if k.startswith("noise"))
        mapping = TFNetworkWriter("G_mapping", "G_mapping", {"dlatent_broadcast": num_layers, **kwargs}, vals["G_mapping"],
                                  build_module_src=build_module_src)
        return TFNetworkWriter(name, "G_style", kwargs, vals["G"], {"synthesis": syn, "mapping": mapping},
                               build_module_src=build_module_src)

    G = make("G", rng.randint(1 << 30))
    Gs = make("Gs", rng.randint(1 << 30))
    D = TFNetworkWriter("D", "D_basic", kwargs, {"FromRGB_lod0/weight": np.ones((1, 1, 3, 4), np.float32)},
                        build_module_src=build_module_src)
    return G, D, Gs
