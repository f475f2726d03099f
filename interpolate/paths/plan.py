"""From RenderOptions and a generator to a LatentPath: validation and planning in one place."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import WaifuError
from .interp import EASINGS, INTERPS, make_curve
from .keys import expand_files, load_base, load_keys, map_z, parse_keys
from .noise import NOISE_MODES, NoiseSchedule
from .path import LatentPath, PathEvaluator
from .styles import resolve_style, style_groups
from .timing import PACES, ArcTable, KeyTiming, Timeline, even_seg_frames, seconds_to_seg_frames

SPACES = ("auto", "z", "w")
ARC_SAMPLES = 128          # samples per transition for the arc-length table of --pace even
PATH_FIELDS = ("keys", "shuffle_seed", "interp", "space", "easing", "seconds", "frames", "hold", "loop", "pace",
               "style", "layers", "base", "stagger", "psi", "psi_end", "cutoff", "noise", "noise_seed",
               "noise_drift", "class_idx", "durations", "fps")


def _finite(name: str, value, lo: float | None = None, strict: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise WaifuError(f"--{name.replace('_', '-')} must be a number, got '{value}'") from None
    if not math.isfinite(v):
        raise WaifuError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    if lo is not None and (v < lo or (strict and v == lo)):
        raise WaifuError(f"--{name.replace('_', '-')} must be {'>' if strict else '>='} {lo:g}, got {value}")
    return v


def resolve_space(interp: str, space: str, keys_have_files: bool) -> str:
    """'auto' -> z for slerp between seeds (the classic), w otherwise; z needs every key to be a seed."""
    if space not in SPACES:
        raise WaifuError(f"unknown space '{space}'; use z, w or auto")
    if space == "auto":
        return "z" if interp == "slerp" and not keys_have_files else "w"
    if space == "z" and keys_have_files:
        raise WaifuError("W files have no z, so they cannot be interpolated in Z; use --space w (or only seeds)")
    return space


def num_transitions(num_keys: int, loop: bool) -> int:
    return num_keys if loop else num_keys - 1


def resolve_truncation(G, psi: float | None, cutoff: int | None) -> tuple[float, int | None]:
    """(psi, cutoff) to apply: what was asked, else the checkpoint's own default (StyleGAN1 Gs: 0.7 on
    ws[:8]; a model whose meta stores truncation_psi), else psi 1 on all ws."""
    if psi is None:
        psi = getattr(G, "default_truncation_psi", None)
    if cutoff is None:
        cutoff = getattr(G, "default_truncation_cutoff", None)
    return (1.0 if psi is None else float(psi)), (None if cutoff is None else int(cutoff))


def validate_path_options(opts, G) -> None:
    """Check every path field against the generator; raise a one-line WaifuError naming the fix."""
    if opts.from_latents:
        return
    if opts.interp not in INTERPS:
        raise WaifuError(f"unknown interpolation '{opts.interp}'; use one of {', '.join(INTERPS)}")
    if opts.easing not in EASINGS:
        raise WaifuError(f"unknown easing '{opts.easing}'; use one of {', '.join(EASINGS)}")
    if opts.pace not in PACES:
        raise WaifuError(f"unknown pace '{opts.pace}'; use key (equal time per transition) or even (equal speed)")
    if opts.noise not in NOISE_MODES:
        raise WaifuError(f"unknown noise mode '{opts.noise}'; use one of {', '.join(NOISE_MODES)}")
    fps = _finite("fps", opts.fps, 0, strict=True)
    _finite("seconds", opts.seconds, 0, strict=True)
    _finite("hold", opts.hold, 0)
    if opts.psi is not None:
        _finite("psi", opts.psi)
    if opts.psi_end is not None:
        _finite("psi_end", opts.psi_end)
    _finite("noise_drift", opts.noise_drift, 0)
    stagger = _finite("stagger", opts.stagger, 0)
    if stagger > 1:
        raise WaifuError(f"--stagger is the overlap of the cascade windows, from 0 (one after another) to 1 "
                         f"(all at once); got {opts.stagger}")
    if opts.frames is not None and (int(opts.frames) != opts.frames or opts.frames < 1):
        raise WaifuError(f"--frames is frames per transition, a whole number >= 1; got {opts.frames}")
    if opts.cutoff is not None and not 0 <= int(opts.cutoff) <= G.num_ws:
        raise WaifuError(f"--cutoff {opts.cutoff} is out of range; this model has {G.num_ws} ws, use 0-{G.num_ws}")
    resolve_style(G, opts.style, opts.layers)
    if not opts.keys:
        raise WaifuError("no keyframes given; pass seeds (--seeds 3,17,42) and/or W files (.npy/.npz)")
    entries = expand_files(parse_keys(opts.keys), G.num_ws, G.w_dim)
    has_files = any(src.seed is None for src, _, _ in entries)
    resolve_space(opts.interp, opts.space, has_files)
    if len(entries) == 1 and not opts.loop:
        raise WaifuError("a morph needs at least two keyframes; add seeds or W files (e.g. --seeds 3,17), "
                         "or pass --loop to animate one key (with --noise smooth)")
    transitions = num_transitions(len(entries), opts.loop)
    if opts.durations is not None:
        if opts.pace == "even":
            raise WaifuError("per-transition durations and --pace even both set the timing; drop one of them")
        if len(opts.durations) != transitions:
            raise WaifuError(f"{len(opts.durations)} durations given for {transitions} transitions "
                             f"({len(entries)} keys{', looping' if opts.loop else ''}); give one per transition")
        for d in opts.durations:
            _finite("durations", d, 0, strict=True)
    if not G.c_dim and opts.class_idx is not None:
        raise WaifuError(f"--class-idx {opts.class_idx} given, but this model is unconditional (no classes); drop --class-idx")
    if G.c_dim and opts.class_idx is None:
        raise WaifuError(f"this model is conditional ({G.c_dim} classes); pick one with --class-idx N")
    if G.c_dim and not 0 <= opts.class_idx < G.c_dim:
        raise WaifuError(f"--class-idx {opts.class_idx} is out of range; this model has classes 0-{G.c_dim - 1}")
    if opts.base is not None:
        base_entries = expand_files(parse_keys([str(opts.base)]), G.num_ws, G.w_dim)
        if len(base_entries) != 1:
            raise WaifuError(f"--base must be one seed or one w, got {len(base_entries)} from '{opts.base}'; "
                             f"pass a single seed (--base 7) or a W file holding one w")
    if opts.frames is None and opts.durations is None:
        seconds_to_seg_frames([opts.seconds] * transitions, fps)


def plan_path(G, opts, *, durations: list[float] | None = None, timing: KeyTiming | None = None) -> LatentPath:
    """The LatentPath that `opts` describes for generator G (or the replay of opts.from_latents).

    `durations` (seconds per transition) overrides opts.seconds / opts.frames / opts.durations.
    `timing` (keys placed from outside, e.g. on beats) overrides them and opts.hold; the keys are
    cycled (or cut) to the number of keys it places; --pace even then paces within each transition.
    """
    if opts.from_latents:
        return LatentPath.from_latents(opts.from_latents, G)
    if durations is not None:
        opts = dataclasses.replace(opts, durations=[float(d) for d in durations], frames=None)
    validate_path_options(opts, G)
    keys = load_keys(G, opts.keys, opts.shuffle_seed, opts.class_idx)
    if timing is not None:
        need = timing.num_keys(bool(opts.loop))
        keys = [keys[i % len(keys)] for i in range(need)]
    space = resolve_space(opts.interp, opts.space, any(k.seed is None for k in keys))
    style = resolve_style(G, opts.style, opts.layers)
    base = load_base(G, str(opts.base), opts.class_idx) if opts.base is not None else keys[0]
    moving = list(style.moving)
    fps = float(opts.fps)
    loop = bool(opts.loop)
    K = len(keys)
    S = num_transitions(K, loop)

    # what each key looks like on screen: moving layers from the key, the rest from the base
    key_ws = np.stack([base.w] * K).copy()
    key_ws[:, moving] = np.stack([k.w for k in keys])[:, moving]

    if space == "z":
        curve = make_curve(opts.interp, np.stack([k.z for k in keys])[:, None, :], loop)
        to_w = lambda z: map_z(G, z, opts.class_idx)  # noqa: E731
    else:
        curve = make_curve(opts.interp, key_ws, loop)
        to_w = None

    psi, cutoff = resolve_truncation(G, opts.psi, opts.cutoff)

    hold_frames = int(round(float(opts.hold) * fps))
    if timing is not None:
        hold_frames, seg_frames = timing.hold_frames, tuple(timing.seg_frames)
    elif opts.durations is not None:
        seg_frames = seconds_to_seg_frames(list(opts.durations), fps)
    elif opts.frames is not None:
        seg_frames = (int(opts.frames),) * S
    else:
        seg_frames = seconds_to_seg_frames([float(opts.seconds)] * S, fps)

    arc = None
    if opts.pace == "even":
        arc = arc_table(curve, to_w, moving, S)
        if timing is None:
            seg_frames = even_seg_frames(arc.lengths, sum(seg_frames))
        arc.equalize_chords(seg_frames, lambda seg, u: _chords(curve, to_w, moving, seg, u))
    timeline = Timeline(fps=fps, hold_frames=hold_frames, seg_frames=tuple(seg_frames), loop=loop,
                        lead_frames=timing.lead_frames if timing else 0, tail_frames=timing.tail_frames if timing else 0)

    evaluator = PathEvaluator(timeline=timeline, curve=curve, to_w=to_w, key_ws=key_ws, base_w=base.w, style=style,
                              stagger=float(opts.stagger), easing_name=opts.easing, arc=arc, w_avg=G.w_avg,
                              psi=psi, psi_end=opts.psi_end, cutoff=cutoff)
    noise = NoiseSchedule(opts.noise, opts.noise_seed, G.noise_shapes, fps, timeline.num_frames, loop,
                          float(opts.noise_drift))
    # the keys as shown (truncated with the psi of their frame)
    shown = evaluator(timeline.key_frames.astype(np.float64))
    params = {name: _jsonable(getattr(opts, name)) for name in PATH_FIELDS}
    params.update({"space_resolved": space, "psi_resolved": psi, "cutoff_resolved": cutoff, "moving_layers": moving, "base_label": base.label,
                   "style_groups_order": [[name, list(idx)] for name, idx in style.groups],
                   "arch": getattr(G, "arch", None), "num_ws": G.num_ws, "w_dim": G.w_dim})
    groups = style_groups(G)
    return LatentPath(timeline=timeline, noise=noise, num_ws=G.num_ws, w_dim=G.w_dim, params=params,
                      key_labels=[k.label for k in keys], key_ws=shown, groups=groups, evaluate=evaluator)


def arc_table(curve, to_w, moving: list[int], num_segments: int) -> ArcTable:
    """Arc length in W over the moving layers along each transition (chords of ARC_SAMPLES pieces)."""
    grid = np.linspace(0.0, 1.0, ARC_SAMPLES + 1)
    cumulative = np.zeros((num_segments, ARC_SAMPLES + 1))
    for seg in range(num_segments):
        p = curve(np.full(len(grid), seg), grid)
        w = p if to_w is None else to_w(p[:, 0])
        w = w[:, moving].reshape(len(grid), -1)
        steps = np.linalg.norm(np.diff(w, axis=0), axis=1)
        cumulative[seg, 1:] = np.cumsum(steps)
    return ArcTable(cumulative)


def _chords(curve, to_w, moving: list[int], seg: int, u: np.ndarray, chunk: int = 128) -> np.ndarray:
    """Distances in W (moving layers) between the points of segment `seg` at successive parameters u."""
    out, prev = [], None
    for lo in range(0, len(u), chunk):
        p = curve(np.full(len(u[lo:lo + chunk]), seg), u[lo:lo + chunk])
        w = (p if to_w is None else to_w(p[:, 0]))[:, moving].reshape(len(p), -1)
        if prev is not None:
            w = np.concatenate([prev, w])
        out.append(np.linalg.norm(np.diff(w, axis=0), axis=1))
        prev = w[-1:]
    return np.concatenate(out)


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v
