"""A walk along a direction, frame by frame: what `render --direction FILE:I --strength A:B` adds.

Each frame of a path (a morph, or one key held still) gets

    ws[:, layers] += s(frame) * direction          on the untruncated ws, before truncation (as the
                                                   sheet draws it; psi 0.7 shrinks a step to 0.7 of it)

with s running from A to B over the clip, eased (the path's --easing), and for a looping clip from
A to B and back to A, so the loop stays seamless. Several directions (`--direction` repeated, a list
in the flat schema, each with its own --strength in order) each add their own edit on their own
layers; the edits add up, in the order given. The direction's layers are those it was made for
(`waifu-morph directions --style ...`). `params()` is what sidecars and --save-latents record;
`from_params` rebuilds the walk from them (the direction vector itself is recorded, so a replay does
not need the directions file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WaifuError
from .file import Directions, load_directions, parse_direction, parse_strength


@dataclass(frozen=True)
class DirectionWalk:
    vector: np.ndarray              # [w_dim] float64, unit
    layers: tuple[int, ...]
    start: float
    stop: float
    loop: bool
    easing: str = "linear"
    source: str = ""                # 'dirs.npz:2', for labels and the sidecar

    def strengths(self, frames: np.ndarray, num_frames: int) -> np.ndarray:
        """s per frame index: A -> B over the clip (A -> B -> A when looping), eased."""
        from ..paths.interp import easing

        f = np.asarray(frames, dtype=np.float64)
        if self.loop:
            p = f / max(num_frames, 1)
            p = 1 - np.abs(2 * p - 1)                               # 0 -> 1 -> 0, back to 0 at num_frames
        else:
            p = f / max(num_frames - 1, 1)
        return self.start + (self.stop - self.start) * easing(self.easing)(np.clip(p, 0.0, 1.0))

    def offsets(self, frames: np.ndarray, num_frames: int, num_ws: int) -> np.ndarray:
        """[n, num_ws, w_dim] float64 to add to the frames' ws."""
        s = self.strengths(frames, num_frames)
        out = np.zeros((len(s), num_ws, len(self.vector)))
        out[:, list(self.layers)] = s[:, None, None] * self.vector
        return out

    def params(self) -> dict:
        return {"direction": self.source, "strength": [self.start, self.stop], "layers": list(self.layers),
                "vector": [float(v) for v in self.vector], "loop": self.loop, "easing": self.easing}

    @classmethod
    def from_params(cls, p: dict) -> "DirectionWalk":
        return cls(np.asarray(p["vector"], np.float64), tuple(int(i) for i in p["layers"]), float(p["strength"][0]),
                   float(p["strength"][1]), bool(p["loop"]), str(p.get("easing", "linear")), str(p.get("direction", "")))


def make_walk(G, direction, strength=None, *, loop: bool, easing: str = "linear") -> DirectionWalk:
    """A DirectionWalk for generator G from `--direction FILE[:I]` (or in memory a (Directions, index)
    pair, or a DirectionWalk) and `--strength A:B` (or B, or (A, B)); one-line errors for bad input."""
    if isinstance(direction, DirectionWalk):
        if len(direction.vector) != G.w_dim or max(direction.layers) >= G.num_ws:
            raise WaifuError(f"the direction walk is for w_dim {len(direction.vector)}; this model has w_dim {G.w_dim}")
        return direction
    if isinstance(direction, tuple) and len(direction) == 2 and isinstance(direction[0], Directions):
        dirs, index = direction
        source = f"{dirs.method}:{int(index)}"
    else:
        path, index = parse_direction(str(direction))
        dirs = load_directions(path)
        source = f"{path}:{index}"
    dirs.check_model(G, f"the directions in '{source.rpartition(':')[0]}'")
    dirs.check_index(index)
    if isinstance(strength, (tuple, list)) and len(strength) == 2:
        start, stop = parse_strength(f"{strength[0]}:{strength[1]}")
    else:
        start, stop = parse_strength("-3:3" if strength is None else strength)
    return DirectionWalk(dirs.vectors[int(index)].astype(np.float64), tuple(dirs.layers), start, stop, bool(loop),
                         easing, source)


def walks_for(G, spec) -> list[DirectionWalk]:
    """The walks a PathSpec asks for, in order (empty without a direction); their edits add up."""
    directions, strengths = pair_strengths(spec.direction, spec.strength)
    return [make_walk(G, d, s, loop=bool(spec.timing.loop), easing=spec.easing) for d, s in zip(directions, strengths)]


def pair_strengths(direction, strength) -> tuple[list, list]:
    """(directions, one strength each): `direction` is one (a 'FILE:I' string, a (Directions, index)
    pair, a DirectionWalk) or a list of them; `strength` is one (for one direction: 'A:B', B or a tuple
    (A, B)), a list with one per direction, or None (each -3:3)."""
    if direction is None or (isinstance(direction, (str, list, tuple)) and not len(direction)):
        if strength is not None and not (isinstance(strength, (list, tuple, str)) and not len(strength)):
            raise WaifuError("--strength needs --direction FILE:INDEX (a file from `waifu-morph directions`)")
        return [], []
    many = isinstance(direction, list) or (isinstance(direction, tuple) and not _is_pair(direction))
    directions = list(direction) if many else [direction]
    n = len(directions)
    if strength is None or (isinstance(strength, list) and not strength):
        return directions, [None] * n
    if isinstance(strength, tuple) and n == 1:                  # (A, B): one direction's range
        return directions, [strength]
    if isinstance(strength, (list, tuple)) and len(strength) == n:
        return directions, list(strength)
    if not isinstance(strength, (list, tuple)) and n == 1:
        return directions, [strength]
    m = len(strength) if isinstance(strength, (list, tuple)) else 1
    raise WaifuError(f"{n} --direction and {m} --strength given; pair them in order (one --strength per "
                     f"--direction) or give none (each runs -3:3)")


def _is_pair(direction) -> bool:
    return len(direction) == 2 and isinstance(direction[0], Directions)


def is_several(direction) -> bool:
    """Whether a PathSpec's direction is a list of directions (recorded as lists) rather than one."""
    return isinstance(direction, list) or (isinstance(direction, tuple) and not _is_pair(direction))


def strength_text(walk: DirectionWalk) -> str:
    """'A:B' of a walk, exact (the sidecar's --strength)."""
    return f"{_number(walk.start)}:{_number(walk.stop)}"


def _number(x: float) -> str:
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))
