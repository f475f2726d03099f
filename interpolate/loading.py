"""From a checkpoint file to a ready generator: read (formats/), build (networks/), load strictly.

`load_generator(path, device=None)` is the one entry point the rest of waifu-morph (and users) call.
Loading is strict both ways: every tensor in the file must land in the network built from the file's
own kwargs, with the same shape, and every tensor of that network must come from the file. The first
mismatch is reported by name in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import networks
from .device import pick_device
from .errors import CheckpointError
from .files import sha256_file
from .formats import CheckpointData, read_checkpoint


@dataclass
class CheckpointInfo:
    """Where a loaded generator came from (attached as `G.checkpoint_info`)."""

    path: Path
    format: str
    arch: str
    init_kwargs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    _sha256: str | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        """SHA-256 of the file, computed on first use."""
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)
        return self._sha256


def build_generator(data: CheckpointData) -> torch.nn.Module:
    """networks.build(arch, **init_kwargs) + strict state-dict load; float32 on CPU, eval, no grad."""
    try:
        G = networks.build(data.arch, **data.init_kwargs)
    except CheckpointError:
        raise
    except ImportError as exc:
        raise CheckpointError(f"this waifu-morph has no {data.arch} network yet ({exc}); update waifu-morph") from None
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        raise CheckpointError(f"cannot build the {data.arch} generator from the file's settings ({type(exc).__name__}: {exc}); the checkpoint's kwargs are not supported") from None
    load_state_strict(G, data.state_dict, data.arch)
    G.eval().requires_grad_(False)
    meta = data.meta or {}
    for attr, key in (("default_truncation_psi", "truncation_psi"), ("default_truncation_cutoff", "truncation_cutoff")):
        if key in meta and not hasattr(G, attr):
            setattr(G, attr, meta[key])
    return G


def load_state_strict(G: torch.nn.Module, state_dict: dict[str, torch.Tensor], arch: str = "") -> None:
    """Copy `state_dict` into G; every file tensor consumed, every G tensor provided, shapes equal."""
    expected = G.state_dict()
    what = f"the {arch} generator" if arch else "the generator"
    for name, value in state_dict.items():
        if name not in expected:
            raise CheckpointError(f"tensor '{name}' in the file has no place in {what} built from the file's settings; the checkpoint does not match its own kwargs")
        if tuple(value.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"tensor '{name}' has shape {list(value.shape)} in the file but {what} built from the file's settings needs {list(expected[name].shape)}; the checkpoint is corrupt or its kwargs do not match its weights")
    missing = [name for name in expected if name not in state_dict]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"the file lacks tensor '{missing[0]}'{more} that {what} needs; the checkpoint is incomplete")
    for name, value in state_dict.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"tensor '{name}' in the file holds NaN or infinite values; the checkpoint is corrupt")
    with torch.no_grad():
        G.load_state_dict({k: v.to(expected[k].dtype) for k, v in state_dict.items()}, strict=True)


def load_generator(path: str | Path, device: str | torch.device | None = None) -> torch.nn.Module:
    """Load a generator from any supported checkpoint (format detected from the content).

    device: None or 'auto' picks cuda, then mps, then cpu. Returns the network in eval mode with
    requires_grad off and `G.checkpoint_info` (path, format, arch, init_kwargs, meta, lazy sha256).
    """
    path = Path(path)
    data = read_checkpoint(path)
    G = build_generator(data)
    G.checkpoint_info = CheckpointInfo(path=path, format=data.format, arch=data.arch,
                                       init_kwargs=dict(data.init_kwargs), meta=dict(data.meta or {}))
    return G.to(pick_device(device))


# --- `waifu-morph info` ------------------------------------------------------------------------------


def _style_group_lines(G: torch.nn.Module) -> list[str]:
    try:
        from .paths.styles import describe_style_groups  # owned by paths/
    except ImportError:
        describe_style_groups = None
    if describe_style_groups is not None:
        return describe_style_groups(G)
    bands: dict[str, list[int]] = {"coarse": [], "middle": [], "fine": []}
    for i, res in enumerate(G.ws_resolution):
        bands["coarse" if res < 11.3 else "middle" if res < 45.3 else "fine"].append(i)
    return [f"{name:<7} layers {','.join(map(str, idx)) or '-'}" for name, idx in bands.items()]


def _truncation_text(G: torch.nn.Module) -> str:
    """What `image` and `render` apply when --psi / --cutoff are not given (paths.resolve_truncation)."""
    from .paths.truncation import resolve_truncation

    stored = any(getattr(G, a, None) is not None for a in ("default_truncation_psi", "default_truncation_cutoff"))
    psi, cutoff = resolve_truncation(G, None, None)
    if not stored:
        return "psi 1 (none stored in the file; pass --psi, e.g. 0.7)"
    if psi == 1:
        return "psi 1 (the file's setting: off; --psi overrides)"
    layers = f"ws[:{cutoff}] of {G.num_ws}" if cutoff is not None and cutoff < G.num_ws else f"all {G.num_ws} ws"
    return f"psi {psi:g} on {layers} (the file's setting; --psi / --cutoff override)"


def summary(G: torch.nn.Module) -> list[tuple[str, str]]:
    """(field, value) rows describing a loaded generator, for `waifu-morph info`."""
    info: CheckpointInfo | None = getattr(G, "checkpoint_info", None)
    meta = info.meta if info else {}
    kw = info.init_kwargs if info else {}
    height = getattr(G, "img_height", G.img_resolution)
    width = getattr(G, "img_width", G.img_resolution)
    rows: list[tuple[str, str]] = []
    if info:
        rows.append(("file", str(info.path)))
        rows.append(("format", info.format))
        if meta.get("source"):
            rows.append(("written by", str(meta["source"])))
    arch = G.arch
    if arch == "stylegan2":
        arch += f" ({kw.get('architecture', 'skip')})"
    elif arch == "stylegan3":
        arch += " (config R)" if kw.get("use_radial_filters") or kw.get("conv_kernel") == 1 else " (config T)"
    rows.append(("architecture", arch))
    rows.append(("resolution", f"{height}x{width} (HxW), {G.img_channels} channels"))
    rows.append(("z / w / c dims", f"{G.z_dim} / {G.w_dim} / {G.c_dim}"))
    rows.append(("num_ws", str(G.num_ws)))
    group_lines = _style_group_lines(G)
    if G.arch == "stylegan3":
        group_lines.append("(StyleGAN3: a layer's scale is 2 x its cutoff frequency, so not a power of two)")
    rows.append(("style groups", "\n".join(group_lines)))
    rows.append(("parameters", f"{sum(p.numel() for p in G.parameters()):,}"))
    num_fp16 = kw.get("num_fp16_res", getattr(getattr(G, "synthesis", None), "num_fp16_res", 0)) or 0
    fp16_res = getattr(getattr(G, "synthesis", None), "fp16_resolutions", None)
    if num_fp16:
        sizes = list(dict.fromkeys(int(r) for r in fp16_res or ()))      # each size once, in order
        where = f" ({len(fp16_res)} layers/blocks at {', '.join(map(str, sizes))} px)" if fp16_res else ""
        rows.append(("fp16 layers", f"num_fp16_res={num_fp16}{where}: float16 on CUDA, float32 on CPU"))
    else:
        rows.append(("fp16 layers", "none (float32)"))
    if "conv_clamp" in kw:
        rows.append(("conv clamp", str(kw["conv_clamp"])))
    rows.append(("default truncation", _truncation_text(G)))
    if meta.get("w_avg"):
        rows.append(("w_avg", str(meta["w_avg"])))
    return rows


def describe(path: str | Path, console: Any = None) -> list[tuple[str, str]]:
    """Load `path` on the CPU and print its summary as a table; returns the rows."""
    from rich.console import Console
    from rich.table import Table

    G = load_generator(path, device="cpu")
    rows = summary(G)
    table = Table(title=f"{Path(path).name}", show_header=False, title_justify="left")
    table.add_column("field", style="bold cyan", no_wrap=True)
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value)
    (console or Console()).print(table)
    return rows
