"""Rendering: stills, videos, GIFs, WebP and frames, the style-mixing figure.

    from interpolate.render import OutputSpec, render, render_path
    result = render(opts)                                   # RenderOptions -> finished file + sidecar
    result = render_path(G, path, OutputSpec(output="a.gif"), device=DeviceSpec(batch_size=4))

Modules, one idea each: spec (OutputSpec), video (render a planned path: the render command's core),
pipeline (streaming generation on the device, batch sizing), frames (resize/fit, captions), encode
(the encoders: mp4, gif, webp, png frames), ffmpeg (the ffmpeg process and its signals), containers
(GIF/MP4/WebP bytes: delays, frame counts), budget (the --max-size search), target (temp output +
rename), sidecar (JSON beside the output), command (the render command's flag layering), stills
(`image`), figures (`mix`).
"""

from ..device import DeviceSpec
from .pipeline import RenderResult
from .spec import OutputSpec
from .video import default_checkpoint, render, render_path, render_paths

__all__ = ["render", "render_path", "render_paths", "default_checkpoint", "RenderResult", "OutputSpec", "DeviceSpec"]
