"""`PathSpec`: what a latent path should do, typed, apart from its keys and from any output.

    spec = PathSpec(interp="cubic", timing=Timing(fps=24, seconds=1.5, loop=True),
                    styles=Styles(style="fine"), truncation=Truncation(psi=0.7))
    path = plan_path(G, [3, w_array, "proj.npz"], spec)

The flat schema (CLI flags, preset TOML, sidecars, reel and job files) is turned into a PathSpec once,
at the edge (`RenderOptions.path_spec()`, or `PathSpec.from_flat(mapping)`); `flat()` gives those
names back for the sidecar and --save-latents. Values are kept as given: `plan_path` validates them
against the generator with one-line errors.

A direction walk: `direction` ('dirs.npz:2', or in memory a (Directions, index) pair or a
directions.walk.DirectionWalk) and `strength` ('-3:3', a number, or (A, B)); plan_path turns them into
a DirectionWalk that `PathEvaluator.edit` adds after style mixing and before truncation. Several at
once: `direction` a list of those and `strength` None or a list with one per direction, in order
(each 'A:B', B or (A, B)); their edits add up, each on its own layers, all at the same place; a walk
on a single key walks them all together. One direction in a list is the single form bit for bit.

Per-key hold: `Timing.hold` is seconds on every key (a number) or a tuple with one per key, in the
order the keys are given (with --loop too; the hold belongs to its key, so --shuffle-seed moves it
with the key). Key i is shown exactly on round(hold_i * fps) + 1 frames from its arrival; without
--loop the last key's hold is the still the clip ends on. Flat schema `hold`: a number or a list.
Keys placed from outside (music beats) take one number only.

Externally timed transitions (music beats) are `Timing.key_timing` (paths.timing.KeyTiming: lead
frames, frames per transition, tail frames), read by `plan.segment_frames`; the keys are cycled to the
number it places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .timing import KeyTiming


@dataclass(frozen=True)
class Timing:
    fps: float = 30.0
    seconds: float = 2.0                      # per transition (ignored when frames or durations is set)
    frames: int | None = None                 # frames per transition
    durations: tuple[float, ...] | None = None   # seconds of each transition
    hold: float | tuple[float, ...] = 0.0     # seconds held on every key, or one per key in key order
    loop: bool = False
    pace: str = "key"                         # key | even
    key_timing: KeyTiming | None = None       # keys placed from outside in frames (music: on beats); not a
                                              # flat name: the song's analysis records it (audio/music.py)


@dataclass(frozen=True)
class Styles:
    style: str = "all"                        # all | coarse | middle | fine | cascade | cascade-reverse | a+b
    layers: str | None = None                 # explicit ws indices '0-3,8-15'
    base: Any = None                          # key (seed, W file, W array) for the layers that do not move
    stagger: float = 0.5


@dataclass(frozen=True)
class Truncation:
    psi: float | None = None                  # None: the checkpoint's own (paths.truncation.resolve_truncation)
    psi_end: float | None = None
    cutoff: int | None = None


@dataclass(frozen=True)
class Noise:
    mode: str = "const"                       # const | random | none | smooth
    seed: int = 0
    drift: float = 0.25


@dataclass(frozen=True)
class PathSpec:
    interp: str = "cubic"
    space: str = "auto"
    easing: str = "linear"
    shuffle_seed: int | None = None
    class_idx: int | None = None
    direction: Any = None                     # 'dirs.npz:2', (Directions, index), a DirectionWalk, or a list of them
    strength: Any = None                      # '-3:3', B (0 to B) or (A, B); a list: one per direction; default -3:3
    timing: Timing = field(default_factory=Timing)
    styles: Styles = field(default_factory=Styles)
    truncation: Truncation = field(default_factory=Truncation)
    noise: Noise = field(default_factory=Noise)

    @classmethod
    def from_flat(cls, values: dict[str, Any]) -> "PathSpec":
        """From flat schema names (RenderOptions fields); names that are not path fields are ignored."""
        parts: dict[str, dict[str, Any]] = {"": {}, "timing": {}, "styles": {}, "truncation": {}, "noise": {}}
        for name, (part, attr) in FLAT.items():
            if name in values:
                v = values[name]
                parts[part][attr] = tuple(v) if name in LISTS and isinstance(v, (list, tuple)) else v
        top = parts.pop("")
        return cls(**top, timing=Timing(**parts["timing"]), styles=Styles(**parts["styles"]),
                   truncation=Truncation(**parts["truncation"]), noise=Noise(**parts["noise"]))

    def flat(self) -> dict[str, Any]:
        """Flat schema name -> value, in FLAT's order (what sidecars and latents files record)."""
        out = {}
        for name, (part, attr) in FLAT.items():
            v = getattr(getattr(self, part) if part else self, attr)
            out[name] = list(v) if name in LISTS and isinstance(v, (list, tuple)) else v
        return out

    def replace(self, **flat_changes) -> "PathSpec":
        """A copy with flat-schema names changed: spec.replace(loop=True, psi=0.7)."""
        return PathSpec.from_flat({**self.flat(), **flat_changes})


# flat schema name -> (part of PathSpec, attribute); the order is the sidecar's (after 'keys')
FLAT: dict[str, tuple[str, str]] = {
    "shuffle_seed": ("", "shuffle_seed"), "interp": ("", "interp"), "space": ("", "space"),
    "easing": ("", "easing"), "seconds": ("timing", "seconds"), "frames": ("timing", "frames"),
    "hold": ("timing", "hold"), "loop": ("timing", "loop"), "pace": ("timing", "pace"),
    "style": ("styles", "style"), "layers": ("styles", "layers"), "base": ("styles", "base"),
    "stagger": ("styles", "stagger"), "psi": ("truncation", "psi"), "psi_end": ("truncation", "psi_end"),
    "cutoff": ("truncation", "cutoff"), "noise": ("noise", "mode"), "noise_seed": ("noise", "seed"),
    "noise_drift": ("noise", "drift"), "class_idx": ("", "class_idx"), "durations": ("timing", "durations"),
    "fps": ("timing", "fps"), "direction": ("", "direction"), "strength": ("", "strength"),
}

# flat names whose lists are tuples in the (frozen, hashable) spec
LISTS = ("durations", "hold")

__all__ = ["PathSpec", "Timing", "Styles", "Truncation", "Noise", "FLAT"]
