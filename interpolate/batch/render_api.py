"""The few calls batch/ makes into the loader and the renderer, in one place.

    G = load_model(checkpoint, device)                     # interpolate.loading (once per checkpoint)
    frames = render_options(G, opts, on_frames)            # plan_path + the streaming renderer
    frames = render_path(G, path, opts, on_frames, frame_hook)   # any LatentPath-like (reels)
    read_sidecar_options(output) -> dict | None            # what a finished output was made from
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import WaifuError


def load_model(checkpoint: str | None, device: str | None = None):
    """The generator of `checkpoint` (None: the shipped model) on the chosen device, in eval mode."""
    from ..device import pick_device
    from ..loading import load_generator

    return load_generator(checkpoint, device=pick_device(device)).eval()


def render_options(G, opts, on_frames: Callable | None = None) -> int:
    """Render `opts` with an already-loaded generator; returns the number of frames written."""
    from ..paths import plan_path

    return render_path(G, plan_path(G, opts), opts, on_frames)


def render_path(G, path, opts, on_frames: Callable | None = None, frame_hook: Callable | None = None) -> int:
    """Render a planned path to opts.output (temp file, renamed when complete)."""
    raise WaifuError("the renderer (interpolate.render) is not available in this build")


def sidecar_path(output) -> Path:
    return Path(str(output) + ".json")


def read_sidecar_options(output) -> dict | None:
    """The options recorded in the sidecar of `output`, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    options = data.get("options") if isinstance(data, dict) else None
    return options if isinstance(options, dict) else None
