"""The `render` command's glue: defaults or a sidecar, then a preset, then typed flags -> RenderOptions -> render().

The layering itself is interpolate.presets.layered (the options layer); render/ never imports batch/.
"""

from __future__ import annotations

from typing import Any

from ..errors import WaifuError
from ..options import RenderOptions


def options_from_flags(values: dict[str, Any], given: set[str], from_file: str | None,
                       preset: str | None = None) -> tuple[RenderOptions, dict | None]:
    """RenderOptions from the command's flags, in layers: defaults (or the sidecar of --from), then the
    preset of --preset, then the flags typed on the command line. `values` uses RenderOptions names
    plus 'seeds'; `given` names the flags the user typed."""
    values = {k: v for k, v in values.items() if k not in ("shard", "ray")}   # how to split, not what to render
    seeds, keys = values.pop("seeds", None), list(values.pop("keys", None) or [])
    if seeds:
        keys = [seeds, *keys]
    values["keys"] = keys
    if isinstance(values.get("durations"), str):
        values["durations"] = parse_durations(values["durations"])
    if isinstance(values.get("hold"), str):
        values["hold"] = parse_hold(values["hold"])
    for name in ("direction", "strength"):      # repeatable: one stays a string (the single form), several a list
        if isinstance(values.get(name), (list, tuple)):
            many = list(values[name])
            values[name] = None if not many else many[0] if len(many) == 1 else many
    given = set(given)
    if "seeds" in given:
        given.add("keys")
    preset = encoder_speed_as_preset(preset, values, given)
    if from_file is None and preset is None:
        return RenderOptions.from_dict(values, source="the command line"), None
    from ..presets import layered

    data = None
    base = RenderOptions()
    if from_file is not None:
        from .sidecar import options_from_sidecar

        base, data = options_from_sidecar(from_file)
    overrides = {k: v for k, v in values.items() if k in given}
    return layered(base, (preset, None, ""), (None, overrides, "the command line")), data


def encoder_speed_as_preset(preset: str | None, values: dict[str, Any], given: set[str]) -> str | None:
    """`--preset veryfast` (an x264 speed, and no render preset of that name) sets --x264-preset, as
    ffmpeg users type it; returns the render preset name that is left, if any."""
    from ..presets import available
    from .encode import X264_PRESETS

    if preset in X264_PRESETS and preset not in available():
        values["x264_preset"] = preset
        given.add("x264_preset")
        return None
    return preset


def parse_durations(text: str | None) -> list[float] | None:
    """'2,1,3' -> [2.0, 1.0, 3.0] (seconds per transition)."""
    if text in (None, ""):
        return None
    try:
        return [float(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise WaifuError(f"--durations must be seconds per transition, e.g. 2,1,3; got '{text}'") from None


def parse_hold(text: str) -> float | list[float]:
    """'0.5' -> 0.5 (every key); '0,1.5,0' -> [0.0, 1.5, 0.0] (one per key, in key order)."""
    parts = [t for t in str(text).replace(",", " ").split()]
    try:
        values = [float(t) for t in parts]
    except ValueError:
        values = []
    if not values:
        raise WaifuError(f"--hold takes seconds: one number for every key (0.5) or one per key (0,1.5,0); got '{text}'")
    return values[0] if len(values) == 1 and "," not in str(text) else values


def run_render(values: dict[str, Any], given: set[str], from_file: str | None, console,
               preset: str | None = None, shard: str | None = None, ray: str | None = None) -> int:
    """Build the options and render (one shard of the clip with `shard`, across Ray with `ray`:
    render/sharded.py); returns the number of frames written (0 for those two)."""
    from .video import render

    if shard is not None and ray is not None:
        raise WaifuError("--shard and --ray both split the clip; pass one of them")
    if shard is not None:
        from .shards import parse_shard
        parse_shard(shard)                       # a bad spec fails before anything else
    opts, data = options_from_flags(values, given, from_file, preset)
    if shard is not None or ray is not None:
        from .sharded import render_on_ray, render_shard
        if shard is not None:
            render_shard(opts, parse_shard(shard), console, data)
        else:
            render_on_ray(opts, ray, console)
        return 0
    return render(opts, console=console, sidecar_data=data).frames
