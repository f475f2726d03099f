"""Rendering: stills (render/stills.py), videos, GIFs, WebP and frames (render/video.py), figures.

    from interpolate.render import render, render_path
    result = render(opts)                               # RenderOptions -> finished file + sidecar
    result = render_path(G, path, opts, on_frames)      # a loaded generator and a planned path

Modules: encode (ffmpeg encoders), pipeline (streaming generation), target (temp file + rename),
sidecar (JSON beside the output), video (the render command), figures (style-mixing figure).
"""

from .pipeline import RenderResult
from .video import default_checkpoint, render, render_path, render_paths

__all__ = ["render", "render_path", "render_paths", "default_checkpoint", "RenderResult"]
