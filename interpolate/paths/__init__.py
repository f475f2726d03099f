"""Latent paths: keyframes, interpolation, timing, style groups and noise -> ws for every frame.

    from interpolate.paths import PathSpec, Timing, Styles, Truncation, WKey, plan_path
    spec = PathSpec(interp="cubic", timing=Timing(fps=24, seconds=1.5), styles=Styles(style="fine"))
    path = plan_path(G, [3, WKey(w, "me"), "proj.npz"], spec)   # seeds, W values in memory, W files
    path.num_frames, path.fps, path.key_frames
    frames = path.chunk(0, 16)             # .ws [16, num_ws, w_dim] float32, .noise, .noise_mode
    path.save_latents('plan.npz');  LatentPath.from_latents('plan.npz', G)

One idea per module: keys (seeds, W files, in-memory W), spec (PathSpec), interp (curves, easing),
timing (frames per transition, pace), styles (style groups and `mix_layers`, the one style-mixing
operation), truncation (`resolve_truncation`, `truncate`), noise, plan (validate + plan_path), path
(LatentPath, the RenderablePath protocol, the evaluator).

Only the Generator surface is used: G.mapping, num_ws, w_dim, z_dim, c_dim, w_avg, ws_resolution,
noise_shapes.
"""

from .interp import EASINGS, INTERPS, make_curve, slerp
from .keys import Key, WKey, load_keys, parse_keys, read_w_file
from .noise import NOISE_MODES, NoiseSchedule
from .path import Frames, LatentPath, RenderablePath
from .plan import plan_path, validate, validate_path_options
from .spec import Noise, PathSpec, Styles, Timing, Truncation
from .styles import STYLES, describe_style_groups, format_layers, mix_layers, parse_layers, resolve_style, style_groups
from .timing import PACES, Timeline
from .truncation import resolve_truncation, truncate

__all__ = [
    "plan_path", "validate", "validate_path_options", "PathSpec", "Timing", "Styles", "Truncation", "Noise",
    "WKey", "resolve_truncation", "truncate", "mix_layers", "LatentPath", "RenderablePath", "Frames",
    "style_groups", "describe_style_groups", "format_layers", "parse_layers", "resolve_style", "load_keys",
    "parse_keys", "read_w_file", "Key", "slerp", "make_curve", "Timeline", "NoiseSchedule", "INTERPS", "EASINGS",
    "PACES", "STYLES", "NOISE_MODES",
]
