"""The flat schema: every option of a render, by the names users write, and the edge to typed specs.

The CLI, presets, reels, batch jobs and the JSON sidecar all read and write `RenderOptions`; field
names are the keys of preset TOML files and sidecars (CLI flags are the same names with dashes).
Below this edge nothing takes the whole bag: it is turned once into typed specs,

    opts.path_spec()     -> paths.PathSpec      (with opts.keys: what plan_path takes)
    opts.output_spec()   -> render.OutputSpec   (what render_path writes)
    opts.device_spec()   -> device.DeviceSpec   (where synthesis runs)

Layering presets and sidecars under typed flags lives beside it, in interpolate/presets.py.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

from .errors import WaifuError


@dataclass
class RenderOptions:
    # --- what to load -------------------------------------------------------------------------
    checkpoint: str | None = None            # None: the model shipped in checkpoints/
    device: str = "auto"                     # auto | cpu | cuda | mps
    precision: str = "auto"                  # auto | fp32 | fp16 | bf16

    # --- the path through latent space (paths/) ----------------------------------------------
    keys: list[str] = field(default_factory=list)   # seeds ('3', '0-9') and/or W files (.npy/.npz), in order
    shuffle_seed: int | None = None          # permute the keys with this seed
    interp: str = "cubic"                    # slerp (in Z) | linear | cubic | catmull-rom
    space: str = "auto"                      # auto (z for slerp of seeds, else w) | z | w
    easing: str = "linear"                   # linear | smoothstep | sine | cubic, per transition
    seconds: float = 2.0                     # seconds per transition (ignored when frames is set)
    frames: int | None = None                # frames per transition
    hold: float | list[float] = 0.0          # seconds held on every key, or a list: one per key in key order
    loop: bool = False                       # return to the first key, seamlessly
    pace: str = "key"                        # key (equal time per transition) | even (arc length in W)
    style: str = "all"                       # all | coarse | middle | fine | cascade | cascade-reverse
    layers: str | None = None                # explicit ws indices, e.g. '0-3,8-15' (overrides style groups)
    base: str | None = None                  # seed or W file for the layers that do not move (default: first key)
    stagger: float = 0.5                     # cascade: overlap of the coarse / middle / fine windows
    psi: float | None = None                 # truncation psi; None: the checkpoint's own (StyleGAN1 0.7), else 1
    psi_end: float | None = None             # animate psi from `psi` to `psi_end` over the clip
    cutoff: int | None = None                # truncate only ws[:cutoff]
    noise: str = "const"                     # const | random | none | smooth
    noise_seed: int = 0                      # seed of random / smooth noise
    noise_drift: float = 0.25                # smooth noise: cycles per second of its slowest component
    class_idx: int | None = None             # class of a conditional model (required when c_dim > 0)
    durations: list[float] | None = None     # seconds of each transition (overrides seconds and frames)
    direction: str | list[str] | None = None   # walk along a direction: 'dirs.npz:2' (from `waifu-morph directions`),
                                             # or a list of them (their edits add up)
    strength: str | float | list[str | float] | None = None   # 'A:B' from A to B over the clip (and back with
                                             # loop); B: 0 to B; with a list of directions, a list: one each
    save_latents: str | None = None          # write ws per frame and the plan to this .npz
    from_latents: str | None = None          # replay a --save-latents .npz bit for bit (ignores the path fields)

    # --- music (audio/): keys on the beats of a song, reactions, the song in the MP4 -----------------
    audio: str | None = None                 # song file (any format ffmpeg decodes); None: no music
    audio_start: float = 0.0                 # seconds into the song where the clip starts
    audio_seconds: float | None = None       # length of the clip (None: to the end of the song)
    beats_per_key: int | None = None         # a key every N beats (default 1 with --audio)
    bars: int | None = None                  # a key every N bars (downbeats) instead
    bpm: float | None = None                 # set the tempo instead of estimating it
    react_pulse: float = 0.0                 # onset pulse -> fine styles (0 = off)
    react_bass: float = 0.0                  # bass energy -> coarse styles
    react_treble: float = 0.0                # treble energy -> middle styles
    react_attack: float = 0.0                # seconds for a reaction to rise
    react_decay: float = 0.25                # seconds for a reaction to fall back

    # --- the output (render/) -----------------------------------------------------------------
    output: str = "waifu.mp4"                # .mp4 | .gif | .webp | a folder or %05d.png pattern
    overwrite: bool = False
    fps: float = 30.0
    crf: int = 18
    x264_preset: str = "veryfast"            # x264/x265 speed preset (ultrafast ... veryslow)
    codec: str = "h264"                      # h264 | h265
    encoder: str = "auto"                    # MP4: auto (NVENC on a CUDA render when it works, else x264) | x264 | nvenc
    gif_quality: str = "normal"              # normal | hq
    max_size: str | None = None              # e.g. '15MB': shrink width, then fps, until it fits
    size: str | None = None                  # WxH
    fit: str = "pad"                         # pad | crop
    grid: str | None = None                  # e.g. '3x2'
    label: bool = False
    sidecar: bool = True
    batch_size: int | None = None            # None: adapt to the device
    quiet: bool = False

    # --- the edge: typed specs ------------------------------------------------------------------
    def path_spec(self):
        from .paths.spec import PathSpec

        return PathSpec.from_flat(self.to_dict())

    def output_spec(self):
        from .render.spec import OutputSpec

        return OutputSpec.from_flat(self.to_dict())

    def device_spec(self):
        from .device import DeviceSpec

        return DeviceSpec(device=self.device, precision=self.precision, batch_size=self.batch_size)

    # -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "options") -> "RenderOptions":
        """Build from a mapping; an unknown key is a one-line error naming the nearest valid key."""
        return cls().updated(data, source=source)

    def updated(self, data: dict[str, Any], *, source: str = "options") -> "RenderOptions":
        """A copy with `data` applied on top (later layers override: preset < file < command line)."""
        names = self.field_names()
        clean: dict[str, Any] = {}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in names:
                near = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                raise WaifuError(f"unknown option '{key}' in {source}{hint}")
            clean[name] = value
        return dataclasses.replace(self, **clean)
