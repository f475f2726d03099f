"""Latent paths: keyframes, interpolation, timing, style groups and noise -> ws for every frame.

    from interpolate.paths import plan_path, style_groups
    path = plan_path(G, opts)              # opts: interpolate.options.RenderOptions
    path.num_frames, path.fps, path.key_frames
    frames = path.chunk(0, 16)             # .ws [16, num_ws, w_dim] float32, .noise, .noise_mode
    path.save_latents('plan.npz');  LatentPath.from_latents('plan.npz', G)

Only the Generator surface is used: G.mapping, num_ws, w_dim, z_dim, c_dim, w_avg, ws_resolution,
noise_shapes.
"""

from .interp import EASINGS, INTERPS, make_curve, slerp
from .keys import Key, load_keys, parse_keys, read_w_file
from .noise import NOISE_MODES, NoiseSchedule
from .path import Frames, LatentPath
from .plan import plan_path, resolve_truncation, validate_path_options
from .styles import STYLES, describe_style_groups, format_layers, parse_layers, resolve_style, style_groups
from .timing import PACES, Timeline

__all__ = [
    "plan_path", "validate_path_options", "resolve_truncation", "LatentPath", "Frames", "style_groups", "describe_style_groups",
    "format_layers", "parse_layers", "resolve_style", "load_keys", "parse_keys", "read_w_file", "Key",
    "slerp", "make_curve", "Timeline", "NoiseSchedule", "INTERPS", "EASINGS", "PACES", "STYLES", "NOISE_MODES",
]
