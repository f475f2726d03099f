"""The `render` command's glue: flags (or a sidecar plus flags) -> RenderOptions -> render()."""

from __future__ import annotations

from typing import Any

from ..errors import WaifuError
from ..options import RenderOptions


def options_from_flags(values: dict[str, Any], given: set[str], from_file: str | None) -> tuple[RenderOptions, dict | None]:
    """RenderOptions from the command's flags; with --from, the sidecar's options with only the flags
    given on the command line applied on top. `values` uses RenderOptions names plus 'seeds'."""
    values = dict(values)
    seeds, keys = values.pop("seeds", None), list(values.pop("keys", None) or [])
    if seeds:
        keys = [seeds, *keys]
    values["keys"] = keys
    if isinstance(values.get("durations"), str):
        values["durations"] = parse_durations(values["durations"])
    given = set(given)
    if "seeds" in given:
        given.add("keys")
    if from_file is None:
        return RenderOptions.from_dict(values, source="the command line"), None
    from .sidecar import options_from_sidecar

    base, data = options_from_sidecar(from_file)
    overrides = {k: v for k, v in values.items() if k in given}
    return base.updated(overrides, source="the command line"), data


def parse_durations(text: str | None) -> list[float] | None:
    """'2,1,3' -> [2.0, 1.0, 3.0] (seconds per transition)."""
    if text in (None, ""):
        return None
    try:
        return [float(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise WaifuError(f"--durations must be seconds per transition, e.g. 2,1,3; got '{text}'") from None


def run_render(values: dict[str, Any], given: set[str], from_file: str | None, console) -> int:
    """Build the options and render; returns the number of frames written."""
    from .video import render

    opts, data = options_from_flags(values, given, from_file)
    return render(opts, console=console, sidecar_data=data).frames
