"""The few calls batch/ makes into the loader and the renderer, in one place.

    G = load_model(checkpoint, device)                     # interpolate.loading (once per checkpoint)
    frames = render_options(G, opts, on_frames)            # plan_path + the streaming renderer
    check_options(G, opts)                                 # what that would check, nothing written (dry runs)
    frames = render_path(G, path, opts, on_frames, frame_hook)   # any paths.RenderablePath (reels)
    read_sidecar(output) -> dict | None                    # what a finished output was made from
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable



def load_model(checkpoint: str | None, device: str | None = None):
    """The generator of `checkpoint` (None: the shipped model) on the chosen device (None or 'auto':
    cuda, then mps, then cpu)."""
    from ..loading import load_generator
    from ..render.video import default_checkpoint

    return load_generator(checkpoint or default_checkpoint(), device=device).eval()


def render_options(G, opts, on_frames: Callable | None = None) -> int:
    """Render `opts` with an already-loaded generator; returns the number of frames written.
    A job with `audio` gets its keys on the song's beats and the song in its MP4, as `render` does."""
    from ..audio.music import plan_paths, prepare

    track = prepare(opts)      # the job keeps its audio path as written, so a re-run finds it complete
    return render_path(G, plan_paths(G, [opts], track, opts)[0], opts, on_frames)


def check_options(G, opts) -> None:
    """Every check a render of `opts` with G runs (output, keys, styles, timing), writing nothing."""
    from ..render.video import check_render

    check_render(G, opts)


def render_path(G, path, opts, on_frames: Callable | None = None, frame_hook: Callable | None = None) -> int:
    """Render a planned path to opts.output with the streaming renderer (temp file, renamed when complete)."""
    from ..render.video import render_path as stream_render

    return stream_render(G, path, opts, on_frames=on_frames, frame_hook=frame_hook).frames


def sidecar_path(output) -> Path:
    from ..render.sidecar import sidecar_path as path_of

    return path_of(output)


def read_sidecar(output) -> dict | None:
    """The sidecar of `output` as a dict, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sidecar_checkpoint_sha256(sidecar: dict) -> str | None:
    """The checkpoint SHA-256 a sidecar records, if any."""
    ck = sidecar.get("checkpoint")
    sha = sidecar.get("checkpoint_sha256") or (ck.get("sha256") if isinstance(ck, dict) else None)
    return sha if isinstance(sha, str) else None
