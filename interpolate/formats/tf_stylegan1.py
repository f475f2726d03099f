"""StyleGAN1 TF network pickles (NVlabs/stylegan `G_style`, pickle version 3) -> CheckpointData.

Every TF variable of Gs is accounted for: each is either converted to a parameter/buffer of
`interpolate.networks.stylegan1.Generator` or is one of the variables that play no part at lod 0
(`lod` itself, which must be 0, and the lower-resolution `ToRGB_lod{k>0}` heads). A missing,
misshapen or unexpected variable is reported by name.

Layout changes: dense weights [in, out] -> [out, in]; conv weights [kh, kw, in, out] ->
[out, in, kh, kw]; StyleMod weights [w_dim, 2C] -> [2C, w_dim]; const [1, C, 4, 4] -> [C, 4, 4];
noise{i} [1, 1, r, r] -> [r, r]. Values are unchanged (the run-time scales live in the network).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import CheckpointError
from . import CheckpointData
from .tf_pickle import TFNetwork

ARCH = "stylegan1"

# static kwargs G_style / G_mapping / G_synthesis accept, with the defaults of NVlabs/stylegan.
DEFAULTS: dict[str, Any] = dict(
    latent_size=512, label_size=0, dlatent_size=512, num_channels=3, resolution=1024,
    fmap_base=8192, fmap_decay=1.0, fmap_max=512,
    mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, mapping_nonlinearity="lrelu",
    normalize_latents=True, nonlinearity="lrelu", fused_scale="auto", blur_filter=[1, 2, 1],
    truncation_psi=0.7, truncation_cutoff=8,
)
# Flags whose non-default values change the architecture in ways this port does not implement.
REQUIRED = dict(use_styles=True, const_input_layer=True, use_noise=True, use_wscale=True,
                use_pixel_norm=False, use_instance_norm=True)
# Training-only or run-time switches: harmless at inference.
IGNORED = {"truncation_psi_val", "truncation_cutoff_val", "dlatent_avg_beta", "style_mixing_prob", "is_training",
           "is_validation", "is_template_graph", "randomize_noise", "structure", "dtype", "dlatent_broadcast",
           "force_clean_graph", "components"}

Transform = Callable[[np.ndarray], np.ndarray]


def _dense(a: np.ndarray) -> np.ndarray:
    return a.T


def _conv(a: np.ndarray) -> np.ndarray:
    return a.transpose(3, 2, 0, 1)


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _nf(stage: int, kw: dict) -> int:
    return min(int(kw["fmap_base"] / (2.0 ** (stage * kw["fmap_decay"]))), kw["fmap_max"])


def init_kwargs_from(static_kwargs: dict[str, Any], img_size: tuple[int, int] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generator init kwargs from G_style's static kwargs; also returns a meta dict (ignored kwargs...)."""
    kw = {**DEFAULTS, **{k: v for k, v in static_kwargs.items() if k in DEFAULTS}}
    for name, want in REQUIRED.items():
        if name in static_kwargs and bool(static_kwargs[name]) != want:
            raise CheckpointError(f"this StyleGAN1 pickle was built with {name}={static_kwargs[name]!r}; waifu-morph supports only {name}={want} (the published G_style layout)")
    res = int(kw["resolution"])
    if res < 4 or res != 2 ** int(round(math.log2(res))):
        raise CheckpointError(f"this StyleGAN1 pickle has resolution={res}; G_style needs a power of two >= 4")
    for name in ("mapping_nonlinearity", "nonlinearity"):
        if kw[name] not in ("lrelu", "relu"):
            raise CheckpointError(f"this StyleGAN1 pickle uses {name}={kw[name]!r}; only 'lrelu' and 'relu' exist in G_style")
    if kw["fused_scale"] not in (True, False, "auto"):
        raise CheckpointError(f"this StyleGAN1 pickle has fused_scale={kw['fused_scale']!r}; expected True, False or 'auto'")
    psi, cutoff = kw["truncation_psi"], kw["truncation_cutoff"]
    truncation_on = psi is not None and cutoff is not None and cutoff > 0 and psi != 1
    height, width = img_size if img_size else (res, res)
    init_kwargs = dict(
        z_dim=int(kw["latent_size"]), c_dim=int(kw["label_size"] or 0), w_dim=int(kw["dlatent_size"]),
        img_resolution=res, img_channels=int(kw["num_channels"]),
        fmap_base=int(kw["fmap_base"]), fmap_decay=float(kw["fmap_decay"]), fmap_max=int(kw["fmap_max"]),
        mapping_layers=int(kw["mapping_layers"]), mapping_fmaps=int(kw["mapping_fmaps"]),
        mapping_lrmul=float(kw["mapping_lrmul"]), mapping_nonlinearity=kw["mapping_nonlinearity"],
        normalize_latents=bool(kw["normalize_latents"]), nonlinearity=kw["nonlinearity"],
        fused_scale=kw["fused_scale"], blur_filter=list(kw["blur_filter"]) if kw["blur_filter"] else None,
        img_height=int(height), img_width=int(width),
        default_truncation_psi=float(psi) if truncation_on else 1.0,
        default_truncation_cutoff=int(cutoff) if truncation_on else None,
    )
    ignored = sorted(k for k in static_kwargs if k not in DEFAULTS and k not in REQUIRED and k not in IGNORED)
    meta = dict(truncation_psi=init_kwargs["default_truncation_psi"], truncation_cutoff=init_kwargs["default_truncation_cutoff"],
                static_kwargs=dict(static_kwargs), ignored_kwargs=ignored)
    return init_kwargs, meta


def variable_table(kw: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...], Transform]]:
    """(TF name as in TFNetwork.all_vars(), our state_dict name, TF shape, transform), for init kwargs `kw`."""
    log2 = int(math.log2(kw["img_resolution"]))
    z, c, w = kw["z_dim"], kw["c_dim"], kw["w_dim"]
    rows: list[tuple[str, str, tuple[int, ...], Transform]] = [("dlatent_avg", "mapping.w_avg", (w,), _same)]
    if c:
        rows.append(("mapping/LabelConcat/weight", "mapping.embed", (c, z), _dense))
    feats = [z * (2 if c else 1)] + [kw["mapping_fmaps"]] * (kw["mapping_layers"] - 1) + [w]
    for i in range(kw["mapping_layers"]):
        rows.append((f"mapping/Dense{i}/weight", f"mapping.fc{i}.weight", (feats[i], feats[i + 1]), _dense))
        rows.append((f"mapping/Dense{i}/bias", f"mapping.fc{i}.bias", (feats[i + 1],), _same))

    def epilogue(tf_scope: str, ours: str, channels: int) -> None:
        rows.append((f"{tf_scope}/Noise/weight", f"{ours}.noise_strength", (channels,), _same))
        rows.append((f"{tf_scope}/bias", f"{ours}.bias", (channels,), _same))
        rows.append((f"{tf_scope}/StyleMod/weight", f"{ours}.style.weight", (w, 2 * channels), _dense))
        rows.append((f"{tf_scope}/StyleMod/bias", f"{ours}.style.bias", (2 * channels,), _same))

    for i in range(2 * log2 - 2):
        r = 2 ** (i // 2 + 2)
        rows.append((f"synthesis/noise{i}", f"synthesis.b{r}.epilogue{i % 2}.noise_const", (1, 1, r, r), lambda a: a[0, 0]))
    ch = _nf(1, kw)
    rows.append(("synthesis/4x4/Const/const", "synthesis.b4.const", (1, ch, 4, 4), lambda a: a[0]))
    epilogue("synthesis/4x4/Const", "synthesis.b4.epilogue0", ch)
    rows.append(("synthesis/4x4/Conv/weight", "synthesis.b4.conv.weight", (3, 3, ch, ch), _conv))
    epilogue("synthesis/4x4/Conv", "synthesis.b4.epilogue1", ch)
    for r2 in range(3, log2 + 1):
        r, cin, cout = 2 ** r2, _nf(r2 - 2, kw), _nf(r2 - 1, kw)
        rows.append((f"synthesis/{r}x{r}/Conv0_up/weight", f"synthesis.b{r}.up.weight", (3, 3, cin, cout), _conv))
        epilogue(f"synthesis/{r}x{r}/Conv0_up", f"synthesis.b{r}.epilogue0", cout)
        rows.append((f"synthesis/{r}x{r}/Conv1/weight", f"synthesis.b{r}.conv.weight", (3, 3, cout, cout), _conv))
        epilogue(f"synthesis/{r}x{r}/Conv1", f"synthesis.b{r}.epilogue1", cout)
    ch = _nf(log2 - 1, kw)
    rows.append(("synthesis/ToRGB_lod0/weight", "synthesis.torgb.conv.weight", (1, 1, ch, kw["img_channels"]), _conv))
    rows.append(("synthesis/ToRGB_lod0/bias", "synthesis.torgb.bias", (kw["img_channels"],), _same))
    return rows


def unused_variable_shapes(kw: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Variables G_style stores that play no part at lod 0: `lod` and the ToRGB heads of lower lods."""
    log2 = int(math.log2(kw["img_resolution"]))
    out: dict[str, tuple[int, ...]] = {"lod": (), "synthesis/lod": ()}
    for r2 in range(2, log2):
        lod = log2 - r2
        out[f"synthesis/ToRGB_lod{lod}/weight"] = (1, 1, _nf(r2 - 1, kw), kw["img_channels"])
        out[f"synthesis/ToRGB_lod{lod}/bias"] = (kw["img_channels"],)
    return out


def size_hint_from_name(name: str, resolution: int) -> tuple[int, int] | None:
    """(height, width) from a file name like 'karras2019stylegan-cars-512x384.pkl' (WIDTHxHEIGHT), if non-square."""
    for w_str, h_str in re.findall(r"(\d+)x(\d+)", Path(str(name)).name):
        w, h = int(w_str), int(h_str)
        if max(w, h) == resolution and w != h and min(w, h) >= 4:
            return h, w
    return None


def convert(net: TFNetwork, img_size: tuple[int, int] | None = None) -> CheckpointData:
    """TF G_style (Gs) -> CheckpointData for networks.stylegan1.Generator.

    img_size: (height, width) of a letterboxed non-square model (e.g. (384, 512) for NVIDIA's cars);
    the network stays square and the output is centre-cropped.
    """
    if net.components and set(net.components) != {"synthesis", "mapping"}:
        raise CheckpointError(f"this StyleGAN1 pickle's generator has components {sorted(net.components)}; expected 'synthesis' and 'mapping'")
    init_kwargs, meta = init_kwargs_from(net.static_kwargs, img_size)
    tf_vars = net.all_vars()
    table = variable_table(init_kwargs)
    unused = unused_variable_shapes(init_kwargs)

    missing = [tf_name for tf_name, _, _, _ in table if tf_name not in tf_vars]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CheckpointError(f"this StyleGAN1 pickle lacks variable(s) {', '.join(missing[:3])}{more} for a {init_kwargs['img_resolution']} px G_style; the file is incomplete or not a G_style network")
    expected_shapes = {**{t: s for t, _, s, _ in table}, **unused}
    for tf_name, value in tf_vars.items():
        if tf_name not in expected_shapes:
            raise CheckpointError(f"this StyleGAN1 pickle has an unexpected variable '{tf_name}' {tuple(np.shape(value))}; waifu-morph does not know this G_style variant")
        if tuple(np.shape(value)) != expected_shapes[tf_name]:
            raise CheckpointError(f"variable '{tf_name}' has shape {tuple(np.shape(value))}, expected {expected_shapes[tf_name]} from the pickle's settings; the file is corrupt or its static kwargs do not match its weights")
    for name in ("lod", "synthesis/lod"):
        if name in tf_vars and float(tf_vars[name]) != 0.0:
            raise CheckpointError(f"this StyleGAN1 snapshot was saved during progressive growing ({name} = {float(tf_vars[name]):g}); waifu-morph renders finished networks (lod 0): use a later snapshot")

    state_dict: dict[str, torch.Tensor] = {}
    for tf_name, ours, _, transform in table:
        arr = np.asarray(transform(np.asarray(tf_vars[tf_name])), dtype=np.float32)
        state_dict[ours] = torch.from_numpy(np.ascontiguousarray(arr))
    meta.update(
        name=net.name, build_func_name=net.build_func_name, pickle_version=net.version,
        unused_variables=sorted(k for k in tf_vars if k in unused),
        num_tf_params=int(sum(np.size(v) for v in tf_vars.values())),
    )
    return CheckpointData(arch=ARCH, init_kwargs=init_kwargs, state_dict=state_dict,
                          format="StyleGAN1 TensorFlow network pickle (NVlabs/stylegan)", meta=meta)
