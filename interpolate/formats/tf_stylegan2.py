"""StyleGAN2 TF network pickles (NVlabs/stylegan2 `G_main`, pickle version 4) -> official PyTorch SG2.

Input: the `TFNetwork` of Gs (see tf_pickle.py), variables named as legacy.py names them
('synthesis/4x4/Conv/weight', 'mapping/Dense0/bias', 'dlatent_avg'). Output: the state dict names and
constructor kwargs of the official PyTorch `networks_stylegan2.Generator`. Layout changes:

    dense   [in, out] -> [out, in]          conv   [kh, kw, in, out] -> [out, in, kh, kw]
    Conv0_up / Skip weights: spatially flipped (TF's transposed conv vs PyTorch's)
    mod_weight.T -> affine.weight           mod_bias + 1 -> affine.bias (TF adds the 1 at run time)
    noise{i} [1, 1, r, r] -> noise_const [r, r]; const [1, C, 4, 4] -> [C, 4, 4]
    channel_base = 2 * fmap_base

Every static kwarg is either converted, checked to be harmless, or refused by name (community forks
with non-square outputs, e.g. resolution_h/resolution_w, are refused). Every variable is consumed or
reported by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from . import CheckpointData
from .tf_pickle import TFNetwork

ARCH = "stylegan2"
FORMAT_NAME = "StyleGAN2 TensorFlow network pickle (NVlabs/stylegan2)"

# static kwarg -> (default, converted into)  (the kwargs legacy.py converts, with its defaults)
CONVERTED = {
    "latent_size": 512, "label_size": 0, "dlatent_size": 512, "resolution": 1024, "num_channels": 3,
    "fmap_base": 16384, "fmap_max": 512, "num_fp16_res": 0, "conv_clamp": None, "architecture": "skip",
    "resample_kernel": [1, 3, 3, 1], "use_noise": True, "nonlinearity": "lrelu",
    "mapping_layers": 8, "label_fmaps": None, "mapping_fmaps": None, "mapping_nonlinearity": "lrelu",
    "mapping_lrmul": 0.01, "w_avg_beta": 0.995,
}
# Kwargs that only matter for training or for TF graph building: accepted and ignored.
IGNORED = {"truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val", "style_mixing_prob",
           "structure", "conditioning", "fused_modconv", "dlatent_avg_beta", "is_training", "is_validation",
           "is_template_graph", "return_dlatents", "randomize_noise", "dtype", "components", "dlatent_broadcast",
           "force_clean_graph"}
# Kwargs whose value must be the default for the official architecture to apply.
REQUIRED = {"fmap_decay": 1.0, "normalize_latents": True, "mapping_func": "G_mapping", "synthesis_func": "G_synthesis_stylegan2"}
# Community forks' kwargs for non-square outputs: named in the refusal.
NON_SQUARE = {"resolution_h", "resolution_w", "min_h", "min_w", "res_log2", "init_res", "size_h", "size_w"}


def init_kwargs_from(static_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(official flat Generator kwargs, meta) from G_main's static kwargs; unknown kwargs refused by name."""
    for name in static_kwargs:
        if name in NON_SQUARE:
            raise CheckpointError(f"this StyleGAN2 TF pickle comes from a non-square fork (static kwarg {name}={static_kwargs[name]!r}); waifu-morph renders square StyleGAN2 models only")
        if name not in CONVERTED and name not in IGNORED and name not in REQUIRED and name != "fmap_min":
            raise CheckpointError(f"this StyleGAN2 TF pickle has the unknown static kwarg {name}={static_kwargs[name]!r}; waifu-morph does not know what it changes, so it refuses the file rather than draw wrong images")
    for name, want in REQUIRED.items():
        if name in static_kwargs and static_kwargs[name] != want:
            raise CheckpointError(f"this StyleGAN2 TF pickle was built with {name}={static_kwargs[name]!r}; waifu-morph supports only {name}={want!r} (the official G_main config E/F)")
    kw = {**CONVERTED, **{k: v for k, v in static_kwargs.items() if k in CONVERTED}}
    res = int(kw["resolution"])
    if res < 4 or res != 2 ** int(round(math.log2(res))):
        raise CheckpointError(f"this StyleGAN2 TF pickle has resolution={res}; G_main needs a power of two >= 4")
    fmap_base, fmap_max = int(kw["fmap_base"]), int(kw["fmap_max"])
    fmap_min = int(static_kwargs.get("fmap_min", 1))
    for r2 in range(2, int(math.log2(res)) + 1):
        tf_nf = int(np.clip(int(fmap_base / 2.0 ** (r2 - 1)), fmap_min, fmap_max))
        if tf_nf != min(2 * fmap_base // 2 ** r2, fmap_max):
            raise CheckpointError(f"this StyleGAN2 TF pickle's fmap_min={fmap_min} changes the channel counts (at {2 ** r2} px); waifu-morph supports fmap_min below every layer's width")
    if kw["architecture"] not in ("orig", "skip", "resnet"):
        raise CheckpointError(f"this StyleGAN2 TF pickle has architecture={kw['architecture']!r}; expected orig, skip or resnet")
    if not kw["resample_kernel"]:
        raise CheckpointError("this StyleGAN2 TF pickle has resample_kernel=None; waifu-morph supports FIR-filtered resampling only")
    mapping_kwargs: dict[str, Any] = {"num_layers": int(kw["mapping_layers"]), "lr_multiplier": float(kw["mapping_lrmul"]),
                                      "activation": kw["mapping_nonlinearity"],
                                      "w_avg_beta": 1.0 if kw["w_avg_beta"] is None else float(kw["w_avg_beta"])}
    if kw["label_fmaps"] is not None:
        mapping_kwargs["embed_features"] = int(kw["label_fmaps"])
    if kw["mapping_fmaps"] is not None:
        mapping_kwargs["layer_features"] = int(kw["mapping_fmaps"])
    init_kwargs = dict(
        z_dim=int(kw["latent_size"]), c_dim=int(kw["label_size"]), w_dim=int(kw["dlatent_size"]), img_resolution=res,
        img_channels=int(kw["num_channels"]), mapping_kwargs=mapping_kwargs, channel_base=2 * fmap_base,
        channel_max=fmap_max, num_fp16_res=int(kw["num_fp16_res"] or 0), conv_clamp=kw["conv_clamp"],
        architecture=kw["architecture"], resample_filter=[float(v) for v in np.asarray(kw["resample_kernel"]).reshape(-1)],
        use_noise=bool(kw["use_noise"]), activation=kw["nonlinearity"],
    )
    psi = static_kwargs.get("truncation_psi", 0.5)
    cutoff = static_kwargs.get("truncation_cutoff", None)
    meta = dict(truncation_psi=1.0 if psi is None else float(psi), truncation_cutoff=None if cutoff is None else int(cutoff),
                static_kwargs=dict(static_kwargs))
    return init_kwargs, meta


def _filter(kernel: list[float]) -> torch.Tensor:
    f = torch.as_tensor(kernel, dtype=torch.float32)
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    return f / f.sum()


def convert(net: TFNetwork) -> CheckpointData:
    """Gs of a StyleGAN2 TF pickle -> CheckpointData with official PyTorch names (see module doc)."""
    if net.version < 4:
        raise CheckpointError(f"TF network {net.describe()} is not a StyleGAN2 pickle (version 4 expected)")
    if net.components and set(net.components) != {"synthesis", "mapping"}:
        raise CheckpointError(f"this StyleGAN2 TF pickle's generator has components {sorted(net.components)}; expected 'synthesis' and 'mapping'")
    kw, meta = init_kwargs_from(net.static_kwargs)
    todo = {name: np.asarray(value) for name, value in net.all_vars().items()}
    if any(name.startswith("synthesis/ToRGB_lod") for name in todo):
        raise CheckpointError("this StyleGAN2 TF pickle has ToRGB_lod variables (a progressive-growing config A-D network); waifu-morph reads config E/F (G_synthesis_stylegan2) pickles")
    out: dict[str, torch.Tensor] = {}

    def take(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in todo:
            raise CheckpointError(f"this StyleGAN2 TF pickle lacks variable '{name}' for a {kw['img_resolution']} px {kw['architecture']} G_main; the file is incomplete or not a G_main network")
        value = todo.pop(name)
        if tuple(value.shape) != tuple(shape):
            raise CheckpointError(f"variable '{name}' has shape {tuple(value.shape)}, expected {tuple(shape)} from the pickle's settings; the file is corrupt or its static kwargs do not match its weights")
        return value

    def put(name: str, value: np.ndarray) -> None:
        out[name] = torch.from_numpy(np.array(value, dtype=np.float32, order="C"))  # (ascontiguousarray makes 0-d 1-d)

    res_log2 = int(math.log2(kw["img_resolution"]))
    w_dim, z_dim, c_dim, nc = kw["w_dim"], kw["z_dim"], kw["c_dim"], kw["img_channels"]
    ch = {2 ** r: min(kw["channel_base"] // 2 ** r, kw["channel_max"]) for r in range(2, res_log2 + 1)}
    rf = _filter(kw["resample_filter"])
    use_noise = kw["use_noise"]

    def modconv(tf: str, ours: str, cin: int, cout: int, k: int, flip: bool = False, noise_idx: int | None = None) -> None:
        w = take(f"{tf}/weight", (k, k, cin, cout))
        put(f"{ours}.weight", (w[::-1, ::-1] if flip else w).transpose(3, 2, 0, 1))
        if noise_idx is not None and use_noise:
            put(f"{ours}.noise_strength", take(f"{tf}/noise_strength", ()))
        put(f"{ours}.bias", take(f"{tf}/bias", (cout,)))
        if noise_idx is not None:
            out[f"{ours}.resample_filter"] = rf.clone()
            if use_noise:
                r = 2 ** ((noise_idx + 5) // 2)
                put(f"{ours}.noise_const", take(f"synthesis/noise{noise_idx}", (1, 1, r, r))[0, 0])
        put(f"{ours}.affine.weight", take(f"{tf}/mod_weight", (w_dim, cin)).T)
        put(f"{ours}.affine.bias", take(f"{tf}/mod_bias", (cin,)) + 1)

    for r2 in range(2, res_log2 + 1):
        res = 2 ** r2
        tf, ours, c = f"synthesis/{res}x{res}", f"synthesis.b{res}", ch[res]
        is_last = res == kw["img_resolution"]
        if res == 4:
            put(f"{ours}.const", take(f"{tf}/Const/const", (1, c, 4, 4))[0])
            out[f"{ours}.resample_filter"] = rf.clone()
            modconv(f"{tf}/Conv", f"{ours}.conv1", c, c, 3, noise_idx=0)
        else:
            out[f"{ours}.resample_filter"] = rf.clone()
            modconv(f"{tf}/Conv0_up", f"{ours}.conv0", ch[res // 2], c, 3, flip=True, noise_idx=2 * r2 - 5)
            modconv(f"{tf}/Conv1", f"{ours}.conv1", c, c, 3, noise_idx=2 * r2 - 4)
        if kw["architecture"] == "skip" or is_last:
            modconv(f"{tf}/ToRGB", f"{ours}.torgb", c, nc, 1)
        if kw["architecture"] == "resnet" and res > 4:
            put(f"{ours}.skip.weight", take(f"{tf}/Skip/weight", (1, 1, ch[res // 2], c))[::-1, ::-1].transpose(3, 2, 0, 1))
            out[f"{ours}.skip.resample_filter"] = rf.clone()

    put("mapping.w_avg", take("dlatent_avg", (w_dim,)))
    if c_dim:
        if "mapping/LabelConcat/weight" in todo:
            raise CheckpointError("this StyleGAN2 TF pickle is conditional with NVlabs/stylegan2's LabelConcat mapping; waifu-morph supports conditional TF models with the stylegan2-ada LabelEmbed mapping only")
        embed = int(kw["mapping_kwargs"].get("embed_features", w_dim))
        put("mapping.embed.weight", take("mapping/LabelEmbed/weight", (c_dim, embed)).T)
        put("mapping.embed.bias", take("mapping/LabelEmbed/bias", (embed,)))
        z_in = z_dim + embed
    else:
        embed, z_in = 0, z_dim
    n_layers = kw["mapping_kwargs"]["num_layers"]
    feats = [z_in] + [int(kw["mapping_kwargs"].get("layer_features", w_dim))] * (n_layers - 1) + [w_dim]
    for i in range(n_layers):
        put(f"mapping.fc{i}.weight", take(f"mapping/Dense{i}/weight", (feats[i], feats[i + 1])).T)
        put(f"mapping.fc{i}.bias", take(f"mapping/Dense{i}/bias", (feats[i + 1],)))

    lod = todo.pop("lod", None)
    todo.pop("synthesis/lod", None)
    if lod is not None and float(lod) != 0.0:
        raise CheckpointError(f"this StyleGAN2 TF snapshot has lod = {float(lod):g}; waifu-morph renders finished networks (lod 0)")
    if todo:
        names = sorted(todo)
        raise CheckpointError(f"this StyleGAN2 TF pickle has {len(names)} variable(s) waifu-morph does not know, first '{names[0]}' {tuple(todo[names[0]].shape)}; it is not a standard G_main network")
    meta.update(name=net.name, build_func_name=net.build_func_name, pickle_version=net.version)
    return CheckpointData(arch=ARCH, init_kwargs=kw, state_dict=out, format=FORMAT_NAME, meta=meta)
