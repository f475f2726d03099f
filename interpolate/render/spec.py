"""`OutputSpec`: where and how a render is written (format from the name, size/fit/grid, codec, budget).

    out = OutputSpec(output="waifu.gif", size="256x256", gif_quality="hq", max_size="8MB")
    render_path(G, path, out)                         # interpolate.render.render_path

Built once at the edge from the flat schema (`RenderOptions.output_spec()`); `flat()` gives the
schema names back for the sidecar.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputSpec:
    output: str = "waifu.mp4"                # .mp4 | .gif | .webp | a folder or %05d.png pattern
    overwrite: bool = False
    crf: int = 18
    x264_preset: str = "veryfast"            # the x264/x265 speed (not a recipe)
    codec: str = "h264"
    encoder: str = "auto"                    # MP4: auto (NVENC on a CUDA render when it works) | x264 | nvenc
    gif_quality: str = "normal"
    max_size: str | None = None              # '15MB': shrink width, then fps, until it fits
    size: str | None = None                  # WxH
    fit: str = "pad"
    grid: str | None = None                  # 'COLSxROWS'
    label: bool = False
    sidecar: bool = True
    save_latents: str | None = None          # also write the path's ws per frame to this .npz
    audio: str | None = None                 # MP4: mux this song (AAC) from audio_start, as long as the clip
    audio_start: float = 0.0
    quiet: bool = False

    @classmethod
    def from_flat(cls, values: dict[str, Any]) -> "OutputSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def flat(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "OutputSpec":
        return dataclasses.replace(self, **changes)
