"""Style groups: which ws indices move, derived from the network, never from a hard-coded 18.

The StyleGAN paper splits the styles by the scale they act on. We read that scale from
`G.ws_resolution` (StyleGAN1/2: the resolution of the block each w feeds, 2 per resolution;
StyleGAN3: twice the cutoff frequency of the layer it modulates) and sort it into three pixel bands:

    coarse   4-8 px     pose, face shape, hair style
    middle   16-32 px   facial features, hair and eyes
    fine     64 px +    colour scheme and micro-texture

Style mixing (some layers of one w, the rest from another: keys over a base, the cascade, the mix
figure, reel joins) happens in `mix_layers`, here and nowhere else.

StyleGAN3's scales are not powers of two, so the band edges sit half-way between the bands on a log
scale (8 < edge < 16 at 2**3.5 ~ 11.3 px, 32 < edge < 64 at 2**5.5 ~ 45.3 px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import WaifuError

GROUP_NAMES = ("coarse", "middle", "fine")
BAND_EDGES_LOG2 = (3.5, 5.5)      # coarse | middle | fine, in log2(pixels)
BAND_PIXELS = {"coarse": "4-8 px", "middle": "16-32 px", "fine": "64+ px"}
STYLES = ("all", "coarse", "middle", "fine", "cascade", "cascade-reverse")


def band_of(resolution: float) -> str:
    """The pixel band ('coarse' | 'middle' | 'fine') of one ws index's scale."""
    level = math.log2(max(float(resolution), 1.0))
    if level < BAND_EDGES_LOG2[0]:
        return "coarse"
    if level < BAND_EDGES_LOG2[1]:
        return "middle"
    return "fine"


def groups_from_resolutions(ws_resolution: tuple[float, ...] | list[float]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {name: [] for name in GROUP_NAMES}
    for index, res in enumerate(ws_resolution):
        groups[band_of(res)].append(index)
    groups["all"] = list(range(len(ws_resolution)))
    return groups


def style_groups(G) -> dict[str, list[int]]:
    """{'coarse': [...], 'middle': [...], 'fine': [...], 'all': [...]} for this generator's ws indices."""
    ws_resolution = tuple(G.ws_resolution)
    assert len(ws_resolution) == G.num_ws, f"ws_resolution has {len(ws_resolution)} entries, num_ws is {G.num_ws}"
    return groups_from_resolutions(ws_resolution)


def format_layers(layers: list[int]) -> str:
    """[0, 1, 2, 3, 8, 9] -> '0-3,8-9' (the syntax --layers accepts); [] -> '-'."""
    if not layers:
        return "-"
    parts, run = [], [layers[0], layers[0]]
    for i in layers[1:]:
        if i == run[1] + 1:
            run[1] = i
        else:
            parts.append(run)
            run = [i, i]
    parts.append(run)
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in parts)


def describe_style_groups(G) -> list[str]:
    """Lines for `waifu-morph info`: each group, its ws indices and the scales they control."""
    groups = style_groups(G)
    res = tuple(G.ws_resolution)
    lines = []
    for name in GROUP_NAMES:
        idx = groups[name]
        scales = sorted({_fmt_res(res[i]) for i in idx}, key=float)
        scale_text = ", ".join(scales) + " px" if scales else "none in this model"
        lines.append(f"{name:<7} layers {format_layers(idx):<12} ({BAND_PIXELS[name]}; here {scale_text})")
    return lines


def _fmt_res(r: float) -> str:
    return f"{r:g}"


def parse_layers(text: str, num_ws: int) -> list[int]:
    """'0-3,8-15' -> [0, 1, 2, 3, 8, ..., 15]; every index must be below num_ws."""
    layers: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise WaifuError(f"--layers takes ws indices like '0-3,8-15'; got '{part}'") from None
        if b < a:
            raise WaifuError(f"layer range '{part}' runs backwards; write it as '{b}-{a}'")
        if a < 0 or b >= num_ws:
            raise WaifuError(f"layer index {b if b >= num_ws else a} is out of range: this model has "
                             f"{num_ws} ws (indices 0-{num_ws - 1}); fix --layers")
        layers.update(range(a, b + 1))
    if not layers:
        raise WaifuError("--layers is empty; give ws indices like '0-3,8-15'")
    return sorted(layers)


@dataclass(frozen=True)
class StylePlan:
    """Which ws indices move, and in which order (one group unless cascading)."""
    style: str
    moving: tuple[int, ...]                    # every index that moves
    groups: tuple[tuple[str, tuple[int, ...]], ...]   # (name, indices) in the order they move
    cascade: bool

    def windows(self, stagger: float) -> list[tuple[float, float]]:
        """(start, length) of each group's window inside a transition, in [0, 1].

        stagger = 0: one after another; stagger = 1: all at once. Every window has the same length L
        and successive windows start L * (1 - stagger) apart, so the last one ends exactly at 1.
        """
        n = len(self.groups)
        if not self.cascade or n == 1:
            return [(0.0, 1.0)] * n
        length = 1.0 / (n - (n - 1) * stagger)
        return [(g * length * (1.0 - stagger), length) for g in range(n)]


def resolve_style(G, style: str, layers: str | None) -> StylePlan:
    """Turn --style / --layers into a StylePlan for this generator (one-line errors on bad input)."""
    groups = style_groups(G)
    style = (style or "all").strip().lower()
    explicit = parse_layers(layers, G.num_ws) if layers else None

    if style in ("cascade", "cascade-reverse"):
        order = GROUP_NAMES if style == "cascade" else tuple(reversed(GROUP_NAMES))
        picked = []
        for name in order:
            idx = [i for i in groups[name] if explicit is None or i in explicit]
            if idx:
                picked.append((name, tuple(idx)))
        if not picked:
            raise WaifuError("--layers leaves no layers for the cascade; widen --layers or use --style all")
        moving = tuple(sorted(i for _, idx in picked for i in idx))
        return StylePlan(style, moving, tuple(picked), cascade=len(picked) > 1)

    if explicit is not None:
        return StylePlan(style, tuple(explicit), (("layers", tuple(explicit)),), cascade=False)

    names = [s for s in style.replace(",", "+").split("+") if s]
    for name in names:
        if name not in groups:
            raise WaifuError(f"unknown style '{name}'; use one of {', '.join(STYLES)} "
                             f"(or 'coarse+middle'), or --layers 0-3,8-15")
    moving = sorted({i for name in names for i in groups[name]})
    if not moving:
        raise WaifuError(f"style '{style}' has no layers in this {G.img_resolution}-px model "
                         f"({'; '.join(describe_style_groups(G))}); pick another --style or use --layers")
    return StylePlan(style, tuple(moving), ((style, tuple(moving)),), cascade=False)


def mix_layers(base, source, layers, alpha=1.0):
    """Style mixing, the one place: `base` ws with `layers` taken from `source` (moved `alpha` of the way).

    numpy or torch, any leading shape [..., num_ws, w_dim] (source broadcasts against base); alpha a
    number or a tensor broadcasting against [..., len(layers), w_dim]. Returns a new array.
    """
    layers = list(layers)
    if isinstance(base, torch.Tensor):
        out = base.clone()
        if layers:
            src = source[..., layers, :].expand_as(out[..., layers, :])
            out[..., layers, :] = src if _is_one(alpha) else torch.lerp(out[..., layers, :], src, alpha)
        return out
    out = np.array(base, copy=True, order="C")
    if layers:
        src = np.broadcast_to(np.asarray(source)[..., layers, :], out[..., layers, :].shape)
        out[..., layers, :] = src if _is_one(alpha) else out[..., layers, :] + alpha * (src - out[..., layers, :])
    return out


def _is_one(alpha) -> bool:
    return not isinstance(alpha, torch.Tensor) and np.ndim(alpha) == 0 and float(alpha) == 1.0
