"""Test helper: writers of the OFFICIAL on-disk layouts, from our own networks (no NVIDIA code).

* `nvidia_pickle_bytes`: a stylegan2-ada-pytorch / stylegan3 training snapshot. Every module is
  pickled as `torch_utils.persistence._reconstruct_persistent_obj(meta)`, meta = {type 'class',
  version 6, module_src (a dummy that raises if ever run), class_name, state = the module's __dict__}
  with tensors through torch's own reduce (`_rebuild_tensor_v2`, `_load_from_bytes`,
  `_rebuild_parameter`), `dnnlib.util.EasyDict` kwargs, numpy scalars/arrays in numpy 1 or 2 spelling,
  and new-style (dict + newer hook dicts) or old-style (OrderedDict, older hooks only) module dicts.
* `rosinality_checkpoint`: a rosinality/stylegan2-pytorch .pt dict (convert_weight.py or train.py).
* `stylegan2_tf_networks`: (G, D, Gs) TF Network writers of NVlabs/stylegan2 G_main.
* `perturb`: random values on every tensor, so every parameter and buffer matters.
"""

from __future__ import annotations

import argparse
import collections
import io
import math
from typing import Any

import numpy as np
import torch

from writers_tf import RenamingPickler, TFNetworkWriter

DUMMY_MODULE_SRC = "raise RuntimeError('module_src must never be executed')\n"
SG3_MODULE_SRC = '"""Generator architecture from the paper\n"Alias-Free Generative Adversarial Networks"."""\n' + DUMMY_MODULE_SRC
NEW_HOOKS = ("_backward_pre_hooks", "_backward_hooks", "_is_full_backward_hook", "_forward_hooks",
             "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks",
             "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_state_dict_pre_hooks",
             "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")
OLD_HOOKS = ("_backward_hooks", "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks")


class EasyDict(dict):
    """Pickled as dnnlib.util.EasyDict."""


def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called, only named
    raise AssertionError


class _Persistent:
    def __init__(self, meta: dict):
        self.meta = meta

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/waifu-morph-pwned",))


class _NvidiaPickler(RenamingPickler):
    def renamed(self, obj: Any) -> tuple[str, str] | None:
        if obj is _reconstruct_persistent_obj:
            return "torch_utils.persistence", "_reconstruct_persistent_obj"
        if obj is EasyDict:
            return "dnnlib.util", "EasyDict"
        return None


def _plain_attrs(module: torch.nn.Module, sg3: bool) -> dict[str, Any]:
    """Plain attributes as the official modules hold them: floats as numpy scalars, SG3 sizes as arrays."""
    out: dict[str, Any] = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training":
            continue
        if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
            out[key] = value
        elif isinstance(value, float):
            out[key] = np.float64(value)
        elif sg3 and isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
            out[key] = np.asarray(value, dtype=np.int64)
    return out


def module_meta(module: torch.nn.Module, init_kwargs: dict | None = None, *, module_src: str = DUMMY_MODULE_SRC,
                old_dicts: bool = False, sg3: bool = False, class_name: str | None = None) -> _Persistent:
    """Persistent-object reduction of `module` and its children (child classes named as ours)."""
    dict_type = collections.OrderedDict if old_dicts else dict
    params = dict_type((k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False))
                       for k, v in module._parameters.items())
    buffers = dict_type((k, None if v is None else v.detach().clone()) for k, v in module._buffers.items())
    children = dict_type((k, None if v is None else module_meta(v, module_src=module_src, old_dicts=old_dicts, sg3=sg3))
                         for k, v in module._modules.items())
    state: dict[str, Any] = {"training": False, "_parameters": params, "_buffers": buffers,
                             "_non_persistent_buffers_set": set(module._non_persistent_buffers_set)}
    for hook in OLD_HOOKS if old_dicts else NEW_HOOKS:
        state[hook] = collections.OrderedDict() if hook != "_is_full_backward_hook" else None
    state["_modules"] = children
    state.update(_plain_attrs(module, sg3))
    state["_init_args"] = ()
    state["_init_kwargs"] = EasyDict(init_kwargs or {})
    meta = {"type": "class", "version": 6, "module_src": module_src,
            "class_name": class_name or type(module).__name__, "state": state}
    return _Persistent(meta)


def _easy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return EasyDict({k: _easy(v) for k, v in obj.items()})
    return obj


def nvidia_pickle_bytes(G: torch.nn.Module | None, init_kwargs: dict, *, repo: str = "stylegan3", numpy1: bool = False,
                        old_dicts: bool = False, protocol: int = 4, keys: tuple[str, ...] | None = None,
                        G_train: torch.nn.Module | None = None, evil: bool = False,
                        D: torch.nn.Module | None = None, d_init_kwargs: dict | None = None) -> bytes:
    """A training snapshot as the official training loop pickles it.

    repo: 'stylegan3' (key order G, D, G_ema, augment_pipe, training_set_kwargs) or 'stylegan2-ada'
    (training_set_kwargs first); init_kwargs are recorded as given (pass sg2ada's nested form for
    'stylegan2-ada'). keys: restrict the snapshot to these keys (e.g. ('D',) = discriminator only).
    G_train: the non-EMA G (default: G with weights * 1.1). evil: add an os.system call.
    D, d_init_kwargs: a real discriminator (e.g. interpolate.train's, official names) and its official
    constructor kwargs (c_dim, img_resolution, architecture, channel_base, epilogue_kwargs, ...);
    default: a one-tensor stand-in.
    """
    sg3 = getattr(G, "arch", "") == "stylegan3"
    src = SG3_MODULE_SRC if sg3 else DUMMY_MODULE_SRC
    kw = _easy(init_kwargs)
    snapshot: dict[str, Any] = {}
    if G is not None:
        if G_train is None:
            import copy
            G_train = copy.deepcopy(G)
            with torch.no_grad():
                for p in G_train.parameters():
                    p.mul_(1.1)
        snapshot["G"] = module_meta(G_train, kw, module_src=src, old_dicts=old_dicts, sg3=sg3)
    if D is None:
        D = torch.nn.Module()
        D.register_parameter("weight", torch.nn.Parameter(torch.randn(4, 3, 1, 1)))
        d_init_kwargs = dict(c_dim=0, img_resolution=8, img_channels=3)
    snapshot["D"] = module_meta(D, _easy(d_init_kwargs), module_src=src, old_dicts=old_dicts, class_name="Discriminator")
    if G is not None:
        snapshot["G_ema"] = module_meta(G, kw, module_src=src, old_dicts=old_dicts, sg3=sg3)
    snapshot["augment_pipe"] = None
    snapshot["training_set_kwargs"] = EasyDict(class_name="training.dataset.ImageFolderDataset", path="data.zip",
                                               use_labels=False, max_size=100, xflip=False, resolution=8)
    if repo == "stylegan2-ada":
        snapshot = {"training_set_kwargs": snapshot.pop("training_set_kwargs"), **snapshot}
    if keys is not None:
        snapshot = {k: v for k, v in snapshot.items() if k in keys}
    if evil:
        snapshot["augment_pipe"] = _Evil()
    buf = io.BytesIO()
    _NvidiaPickler(buf, numpy1=numpy1, protocol=protocol).dump(snapshot)
    return buf.getvalue()


def perturb(G: torch.nn.Module, seed: int = 0, filters: bool = True) -> torch.nn.Module:
    """Random values on every float tensor (biases, noise strengths, w_avg, const, filters...).
    filters=False keeps the fixed resampling filters (formats that do not store them: rosinality, TF)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=gen)
            if name.endswith("magnitude_ema"):
                t.copy_(0.5 + noise.abs())
            elif "filter" in name or name.endswith("transform"):
                if filters:
                    t.add_(noise * 0.01 * (t.abs().mean() + 1e-3))
            else:
                t.add_(noise * 0.1 * (t.abs().mean() + 0.1))
    return G


# --- rosinality -----------------------------------------------------------------------------------


def rosinality_state(sd: dict[str, torch.Tensor], img_resolution: int, n_mlp: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """(g_ema state dict in rosinality names, latent_avg) from an official-named SG2 'skip' state dict."""
    kernel = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = (kernel[None] * kernel[:, None]) / 64 * 4
    out: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"].clone()
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"].clone()
    out["input.input"] = sd["synthesis.b4.const"][None].clone()

    def conv(dst: str, src: str, up: bool = False) -> None:
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()
        if up:
            out[f"{dst}.conv.blur.kernel"] = kernel.clone()
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1).clone()
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"].clone()

    def rgb(dst: str, src: str, up: bool) -> None:
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1).clone()
        if up:
            out[f"{dst}.upsample.kernel"] = kernel.clone()
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()

    conv("conv1", "synthesis.b4.conv1")
    rgb("to_rgb1", "synthesis.b4.torgb", False)
    log2 = int(math.log2(img_resolution))
    for k in range(log2 - 2):
        r = 8 * 2 ** k
        conv(f"convs.{2 * k}", f"synthesis.b{r}.conv0", up=True)
        conv(f"convs.{2 * k + 1}", f"synthesis.b{r}.conv1")
        rgb(f"to_rgbs.{k}", f"synthesis.b{r}.torgb", True)
    out["noises.noise_0"] = sd["synthesis.b4.conv1.noise_const"][None, None].clone()
    for k in range(log2 - 2):
        r = 8 * 2 ** k
        out[f"noises.noise_{2 * k + 1}"] = sd[f"synthesis.b{r}.conv0.noise_const"][None, None].clone()
        out[f"noises.noise_{2 * k + 2}"] = sd[f"synthesis.b{r}.conv1.noise_const"][None, None].clone()
    return out, sd["mapping.w_avg"].clone()


def rosinality_checkpoint(sd: dict[str, torch.Tensor], img_resolution: int, n_mlp: int, *, train_py: bool = False) -> dict:
    """convert_weight.py layout {'g_ema', 'latent_avg'}, or train.py's (no latent_avg, with args etc.)."""
    g_ema, latent_avg = rosinality_state(sd, img_resolution, n_mlp)
    if not train_py:
        return {"g_ema": g_ema, "latent_avg": latent_avg}
    args = argparse.Namespace(size=img_resolution, n_mlp=n_mlp, channel_multiplier=2, latent=512, r1=10.0)
    return {"g": {k: v * 1.1 for k, v in g_ema.items()}, "d": {"convs.0.0.weight": torch.randn(4, 3, 1, 1)},
            "g_ema": g_ema, "g_optim": {"state": {}, "param_groups": []}, "d_optim": {"state": {}, "param_groups": []},
            "args": args, "ada_aug_p": 0.0}


# --- NVlabs/stylegan2 TF G_main --------------------------------------------------------------------


def stylegan2_tf_vars(sd: dict[str, torch.Tensor], static_kwargs: dict) -> dict[str, dict[str, np.ndarray]]:
    """{'G': own vars, 'G_synthesis': ..., 'G_mapping': ...} in TF names and layouts, in TF creation
    order, from an official-named SG2 state dict (inverse of legacy.py's conversion)."""
    res = int(static_kwargs.get("resolution", 1024))
    arch = static_kwargs.get("architecture", "skip")
    log2 = int(math.log2(res))

    def a(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    syn: dict[str, np.ndarray] = {}
    for i in range(2 * log2 - 3):
        r = 2 ** ((i + 5) // 2)
        name = "synthesis.b4.conv1" if i == 0 else f"synthesis.b{r}.conv{0 if i % 2 == 1 else 1}"
        syn[f"noise{i}"] = a(sd[f"{name}.noise_const"])[None, None]

    def modconv(tf: str, ours: str, flip: bool = False, noise: bool = True) -> None:
        w = a(sd[f"{ours}.weight"]).transpose(2, 3, 1, 0)
        syn[f"{tf}/weight"] = np.ascontiguousarray(w[::-1, ::-1] if flip else w)
        syn[f"{tf}/mod_weight"] = a(sd[f"{ours}.affine.weight"]).T.copy()
        syn[f"{tf}/mod_bias"] = a(sd[f"{ours}.affine.bias"]) - 1
        if noise:
            syn[f"{tf}/noise_strength"] = a(sd[f"{ours}.noise_strength"])
        syn[f"{tf}/bias"] = a(sd[f"{ours}.bias"])

    syn["4x4/Const/const"] = a(sd["synthesis.b4.const"])[None]
    modconv("4x4/Conv", "synthesis.b4.conv1")
    if arch == "skip":
        modconv("4x4/ToRGB", "synthesis.b4.torgb", noise=False)
    for r2 in range(3, log2 + 1):
        r = 2 ** r2
        modconv(f"{r}x{r}/Conv0_up", f"synthesis.b{r}.conv0", flip=True)
        modconv(f"{r}x{r}/Conv1", f"synthesis.b{r}.conv1")
        if arch == "resnet":
            syn[f"{r}x{r}/Skip/weight"] = np.ascontiguousarray(a(sd[f"synthesis.b{r}.skip.weight"]).transpose(2, 3, 1, 0)[::-1, ::-1])
        if arch == "skip" or r == res:
            modconv(f"{r}x{r}/ToRGB", f"synthesis.b{r}.torgb", noise=False)
    mapping: dict[str, np.ndarray] = {}
    i = 0
    while f"mapping.fc{i}.weight" in sd:
        mapping[f"Dense{i}/weight"] = a(sd[f"mapping.fc{i}.weight"]).T.copy()
        mapping[f"Dense{i}/bias"] = a(sd[f"mapping.fc{i}.bias"])
        i += 1
    return {"G": {"lod": np.float32(0), "dlatent_avg": a(sd["mapping.w_avg"])}, "G_synthesis": syn, "G_mapping": mapping}


def stylegan2_tf_networks(sd: dict[str, torch.Tensor], static_kwargs: dict, overrides: dict | None = None):
    """(G, D, Gs) TFNetworkWriters (version 4, G_main) holding `sd` in Gs (G gets values * 1.1).

    overrides: {'G'|'G_synthesis'|'G_mapping': {var: array or None (= delete)}} applied to Gs."""
    kw = {"num_channels": 3, "resolution": 1024, "label_size": 0, **static_kwargs}
    num_layers = 2 * int(math.log2(kw["resolution"])) - 2

    def make(name: str, scale: float, changes: dict | None) -> TFNetworkWriter:
        vals = stylegan2_tf_vars(sd, kw)
        vals = {net: {k: (v * scale).astype(np.float32) if k != "lod" else v for k, v in d.items()} for net, d in vals.items()}
        for net, change in (changes or {}).items():
            for var, value in change.items():
                if value is None:
                    vals[net].pop(var, None)
                else:
                    vals[net][var] = value
        syn = TFNetworkWriter("G_synthesis", "training.networks_stylegan2.G_synthesis_stylegan2", kw, vals["G_synthesis"], version=4)
        mapping = TFNetworkWriter("G_mapping", "training.networks_stylegan2.G_mapping", {"dlatent_broadcast": num_layers, **kw},
                                  vals["G_mapping"], version=4)
        return TFNetworkWriter(name, "training.networks_stylegan2.G_main", kw, vals["G"], {"synthesis": syn, "mapping": mapping}, version=4)

    G = make("G", 1.1, None)
    Gs = make("Gs", 1.0, overrides)
    D = TFNetworkWriter("D", "training.networks_stylegan2.D_stylegan2", kw, {"4x4/Dense0/weight": np.ones((4, 4), np.float32)}, version=4)
    return G, D, Gs
