"""Keys + a PathSpec + a generator -> a LatentPath: validation and planning in one place.

    path = plan_path(G, [3, 17, w_array, "proj.npz"], PathSpec(...))   # keys: seeds, W files, W values
    path = plan_path(G, opts)                # a RenderOptions: its keys and opts.path_spec() (or its replay)

`validate(G, keys, spec)` runs every check without planning (dry runs).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import WaifuError
from .interp import EASINGS, INTERPS, make_curve
from .keys import base_entry, expand_files, key_record, map_z, parse_keys, resolve_entries, resolve_entry, shuffle_keys
from .noise import NOISE_MODES, NoiseSchedule
from .path import LatentPath, PathEvaluator
from .spec import PathSpec
from .styles import mix_layers, resolve_style, style_groups
from .timing import PACES, ArcTable, Timeline, even_seg_frames, seconds_to_seg_frames
from .truncation import check_psi, resolve_truncation

SPACES = ("auto", "z", "w")
ARC_SAMPLES = 128          # samples per transition for the arc-length table of --pace even


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


def validate_path_options(opts, G) -> None:
    """Check a RenderOptions' path fields against the generator (nothing to check for a replay)."""
    if not opts.from_latents:
        validate(G, opts.keys, opts.path_spec())


def validate(G, keys, spec: PathSpec) -> list:
    """Check keys and spec against the generator; a one-line WaifuError naming the fix. Returns the
    expanded key entries (one per keyframe) for planning."""
    t, st, tr, nz = spec.timing, spec.styles, spec.truncation, spec.noise
    if spec.interp not in INTERPS:
        raise WaifuError(f"unknown interpolation '{spec.interp}'; use one of {', '.join(INTERPS)}")
    if spec.easing not in EASINGS:
        raise WaifuError(f"unknown easing '{spec.easing}'; use one of {', '.join(EASINGS)}")
    if t.pace not in PACES:
        raise WaifuError(f"unknown pace '{t.pace}'; use key (equal time per transition) or even (equal speed)")
    if nz.mode not in NOISE_MODES:
        raise WaifuError(f"unknown noise mode '{nz.mode}'; use one of {', '.join(NOISE_MODES)}")
    fps = _finite("fps", t.fps, 0, strict=True)
    _finite("seconds", t.seconds, 0, strict=True)
    if tr.psi is not None:
        check_psi(tr.psi, "--psi")
    if tr.psi_end is not None:
        check_psi(tr.psi_end, "--psi-end")
    _finite("noise_drift", nz.drift, 0)
    stagger = _finite("stagger", st.stagger, 0)
    if stagger > 1:
        raise WaifuError(f"--stagger is the overlap of the cascade windows, from 0 (one after another) to 1 "
                         f"(all at once); got {st.stagger}")
    if t.frames is not None and (int(t.frames) != t.frames or t.frames < 1):
        raise WaifuError(f"--frames is frames per transition, a whole number >= 1; got {t.frames}")
    if tr.cutoff is not None and not 0 <= int(tr.cutoff) <= G.num_ws:
        raise WaifuError(f"--cutoff {tr.cutoff} is out of range; this model has {G.num_ws} ws, use 0-{G.num_ws}")
    resolve_style(G, st.style, st.layers)
    if keys is None or (isinstance(keys, (list, tuple)) and not len(keys)):
        raise WaifuError("no keyframes given; pass seeds (--seeds 3,17,42) and/or W files (.npy/.npz)")
    entries = expand_files(parse_keys(keys), G.num_ws, G.w_dim)
    has_files = any(src.seed is None for src, _, _ in entries)
    resolve_space(spec.interp, spec.space, has_files)
    walks = direction_walks(G, spec)
    if len(entries) == 1 and not t.loop and not walks:
        raise WaifuError("a morph needs at least two keyframes; add seeds or W files (e.g. --seeds 3,17), "
                         "or pass --loop to animate one key (with --noise smooth), or walk one with --direction")
    check_hold(t.hold, len(entries), t.key_timing is not None)
    walked_keys = 2 if walks and len(entries) == 1 and not t.loop else len(entries)
    transitions = num_transitions(walked_keys, t.loop)
    if t.durations is not None:
        if t.pace == "even":
            raise WaifuError("per-transition durations and --pace even both set the timing; drop one of them")
        if len(t.durations) != transitions:
            raise WaifuError(f"{len(t.durations)} durations given for {transitions} transitions "
                             f"({len(entries)} keys{', looping' if t.loop else ''}); give one per transition")
        for d in t.durations:
            _finite("durations", d, 0, strict=True)
    if not G.c_dim and spec.class_idx is not None:
        raise WaifuError(f"--class-idx {spec.class_idx} given, but this model is unconditional (no classes); drop --class-idx")
    if G.c_dim and spec.class_idx is None:
        raise WaifuError(f"this model is conditional ({G.c_dim} classes); pick one with --class-idx N")
    if G.c_dim and not 0 <= spec.class_idx < G.c_dim:
        raise WaifuError(f"--class-idx {spec.class_idx} is out of range; this model has classes 0-{G.c_dim - 1}")
    if st.base is not None:
        base_entry(G, st.base)
    if t.frames is None and t.durations is None:
        seconds_to_seg_frames([t.seconds] * transitions, fps)
    return entries


def check_hold(hold, num_keys: int, placed: bool = False) -> None:
    """--hold: seconds >= 0 on every key (a number), or one per key in key order (a list)."""
    if not isinstance(hold, (list, tuple)):
        _finite("hold", hold, 0)
        return
    if placed:
        raise WaifuError("keys on the beats of a song take one --hold for every key, not one per key; "
                         "give one number (e.g. --hold 0.25)")
    if len(hold) != num_keys:
        raise WaifuError(f"--hold gives {len(hold)} holds for {num_keys} keys; give one per key in order "
                         f"(e.g. --hold 0,1.5,0) or one number for every key")
    for h in hold:
        _finite("hold", h, 0)


def hold_frames(hold, fps: float) -> int | tuple[int, ...]:
    """Seconds held (a number, or one per key) -> whole frames held after each key's arrival."""
    if isinstance(hold, (list, tuple)):
        return tuple(int(round(float(h) * fps)) for h in hold)
    return int(round(float(hold) * fps))


def direction_walks(G, spec: PathSpec) -> list:
    """The direction walks of the spec, in order; empty without a direction (interpolate/directions/walk.py)."""
    from ..directions.walk import walks_for

    return walks_for(G, spec)


def segment_frames(timing, transitions: int) -> tuple[int, ...]:
    """Frames of each transition: placed from outside (key_timing, e.g. on beats), from durations,
    frames per transition, or seconds per transition."""
    fps = float(timing.fps)
    if timing.key_timing is not None:
        assert len(timing.key_timing.seg_frames) == transitions, (timing.key_timing, transitions)
        return tuple(int(f) for f in timing.key_timing.seg_frames)
    if timing.durations is not None:
        return tuple(seconds_to_seg_frames(list(timing.durations), fps))
    if timing.frames is not None:
        return (int(timing.frames),) * transitions
    return tuple(seconds_to_seg_frames([float(timing.seconds)] * transitions, fps))


def plan_path(G, keys, spec: PathSpec | None = None, *, durations: list[float] | None = None) -> LatentPath:
    """The LatentPath through `keys` (seeds, W files, in-memory W values) that `spec` describes.

    `keys` may instead be a RenderOptions (its keys and path fields; or the replay of its
    from_latents). `durations` (seconds per transition) overrides the spec's timing.
    """
    if hasattr(keys, "path_spec"):               # RenderOptions, the flat schema
        opts = keys
        if opts.from_latents:
            return LatentPath.from_latents(opts.from_latents, G)
        keys, spec = opts.keys, opts.path_spec()
    spec = spec or PathSpec()
    if durations is not None:
        spec = spec.replace(durations=[float(d) for d in durations], frames=None)
    entries = validate(G, keys, spec)
    t, st, tr = spec.timing, spec.styles, spec.truncation
    holds = list(t.hold) if isinstance(t.hold, (list, tuple)) else None     # per key: it moves with its key
    if holds is None:
        keys_ = resolve_entries(G, shuffle_keys(entries, spec.shuffle_seed), spec.class_idx)
    else:
        pairs = shuffle_keys(list(zip(entries, holds)), spec.shuffle_seed)
        keys_ = resolve_entries(G, [e for e, _ in pairs], spec.class_idx)
        holds = [h for _, h in pairs]
    placed = t.key_timing                        # keys placed from outside (music): cycle the keys to fit
    if placed is not None:
        keys_ = [keys_[i % len(keys_)] for i in range(placed.num_keys(bool(t.loop)))]
    walks = direction_walks(G, spec)
    if walks and len(keys_) == 1 and not t.loop:
        keys_ = keys_ * 2                        # a walk on one key: one transition from the key to itself
        holds = holds * 2 if holds is not None else None
    space = resolve_space(spec.interp, spec.space, any(k.seed is None for k in keys_))
    style = resolve_style(G, st.style, st.layers)
    base = resolve_entry(G, *base_entry(G, st.base), spec.class_idx) if st.base is not None else keys_[0]
    moving = list(style.moving)
    fps = float(t.fps)
    loop = bool(t.loop)
    K = len(keys_)
    S = num_transitions(K, loop)

    # what each key looks like on screen: moving layers from the key, the rest from the base
    key_ws = mix_layers(np.stack([base.w] * K), np.stack([k.w for k in keys_]), moving)

    if space == "z":
        curve = make_curve(spec.interp, np.stack([k.z for k in keys_])[:, None, :], loop)
        to_w = lambda z: map_z(G, z, spec.class_idx)  # noqa: E731
    else:
        curve = make_curve(spec.interp, key_ws, loop)
        to_w = None

    psi, cutoff = resolve_truncation(G, tr.psi, tr.cutoff)
    held = placed.hold_frames if placed else hold_frames(t.hold if holds is None else holds, fps)
    seg_frames = segment_frames(t, S)
    arc = None
    if t.pace == "even":                         # (placed keys keep their frames: even pace within each)
        arc = arc_table(curve, to_w, moving, S)
        if placed is None:
            seg_frames = even_seg_frames(arc.lengths, sum(seg_frames))
        arc.equalize_chords(seg_frames, lambda seg, u: _chords(curve, to_w, moving, seg, u))
    timeline = Timeline(fps=fps, hold_frames=held, seg_frames=tuple(seg_frames), loop=loop,
                        lead_frames=placed.lead_frames if placed else 0, tail_frames=placed.tail_frames if placed else 0)

    evaluator = PathEvaluator(timeline=timeline, curve=curve, to_w=to_w, key_ws=key_ws, base_w=base.w, style=style,
                              stagger=float(st.stagger), easing_name=spec.easing, arc=arc, w_avg=G.w_avg,
                              psi=psi, psi_end=tr.psi_end, cutoff=cutoff, walks=walks)
    noise = NoiseSchedule(spec.noise.mode, spec.noise.seed, G.noise_shapes, fps, timeline.num_frames, loop,
                          float(spec.noise.drift))
    # the keys as shown (truncated with the psi of their frame)
    shown = evaluator(timeline.key_frames.astype(np.float64))
    flat = spec.flat()
    if st.base is not None and not isinstance(st.base, (str, int)):
        flat["base"] = base.label
    if walks:                                    # in-memory directions are recorded by what they are
        from ..directions.walk import is_several, strength_text

        if is_several(spec.direction):
            flat["direction"], flat["strength"] = [w.source for w in walks], [strength_text(w) for w in walks]
        else:
            flat["direction"], flat["strength"] = walks[0].source, strength_text(walks[0])
    params = {"keys": key_record(keys), **{k: _jsonable(v) for k, v in flat.items()}}
    if walks and is_several(spec.direction):
        params["direction_walks"] = [w.params() for w in walks]
    elif walks:
        params["direction_walk"] = walks[0].params()
    params.update({"space_resolved": space, "psi_resolved": psi, "cutoff_resolved": cutoff, "moving_layers": moving, "base_label": base.label,
                   "style_groups_order": [[name, list(idx)] for name, idx in style.groups],
                   "arch": getattr(G, "arch", None), "num_ws": G.num_ws, "w_dim": G.w_dim})
    groups = style_groups(G)
    return LatentPath(timeline=timeline, noise=noise, num_ws=G.num_ws, w_dim=G.w_dim, params=params,
                      key_labels=[k.label for k in keys_], key_ws=shown, groups=groups, evaluate=evaluator)


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
