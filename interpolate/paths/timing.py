"""Timing: which key or transition each frame belongs to, and how far along it is.

Frame layout (H_i = hold frames of key i, F_i = frames of transition i):

    key i arrives at frame a_i and is shown exactly on frames a_i .. a_i + H_i (H_i + 1 frames),
    transition i then runs over the next F_i frames, so a_{i+1} = a_i + H_i + F_i.

`hold_frames` is one int (every key) or a tuple with one per key (per-key --hold); a uniform tuple is
stored as its int, so both give the same Timeline. An open path ends on the last key's last hold
frame: num_frames = a_{K-1} + H_{K-1} + 1 (the last key's hold is the still the clip ends on). A loop
ends one frame before key 0 would come round again: num_frames = a_K, so its last frame is not a copy
of its first and the file loops without a stutter (key 0's hold is at the start of the clip, the
last key's hold before the transition back to key 0).

Keys placed from outside (music: keys on beats) add lead frames before key 0 arrives (they show key
0) and, on an open path, tail frames after the last key's hold: a_0 = lead, num_frames grows by the
tail. `KeyTiming` carries such a plan into `plan_path`.

`locate(pos)` turns frame positions (floats allowed) into (segment, fraction f in [0, 1)); f == 0
exactly on a key (arrival and hold frames).

Pace: 'key' gives each transition its own time (equal by default); 'even' keeps the total transition
time and shares it out in proportion to each transition's arc length in W, and `ArcTable` maps a
fraction of a transition's arc length back to its curve parameter, so frames move at constant speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WaifuError

PACES = ("key", "even")


@dataclass(frozen=True)
class Timeline:
    fps: float
    hold_frames: int | tuple[int, ...]   # held frames after each key's arrival: one for all keys, or one per key
    seg_frames: tuple[int, ...]      # frames per transition, one per segment
    loop: bool
    lead_frames: int = 0             # frames before key 0 arrives (showing key 0)
    tail_frames: int = 0             # open path: frames after the last key's hold (showing it)

    def __post_init__(self):
        if isinstance(self.hold_frames, (tuple, list)):
            holds = tuple(int(h) for h in self.hold_frames)
            assert len(holds) == self.num_keys, (holds, self.num_keys)
            object.__setattr__(self, "hold_frames", holds[0] if len(set(holds)) == 1 else holds)
        else:
            object.__setattr__(self, "hold_frames", int(self.hold_frames))
        assert min(self.holds) >= 0 and all(f >= 1 for f in self.seg_frames)
        assert self.lead_frames >= 0 and self.tail_frames >= 0 and not (self.loop and self.tail_frames)

    @property
    def holds(self) -> np.ndarray:
        """Hold frames of each key, [K] int64."""
        if isinstance(self.hold_frames, tuple):
            return np.asarray(self.hold_frames, dtype=np.int64)
        return np.full(self.num_keys, self.hold_frames, dtype=np.int64)

    @property
    def num_keys(self) -> int:
        return len(self.seg_frames) if self.loop else len(self.seg_frames) + 1

    @property
    def arrivals(self) -> np.ndarray:
        """Frame index at which each key arrives (for a loop, plus the closing arrival = num_frames)."""
        steps = np.asarray(self.seg_frames, dtype=np.int64) + self.holds[: len(self.seg_frames)]
        return (np.concatenate([[0], np.cumsum(steps)]) + self.lead_frames).astype(np.int64)

    @property
    def key_frames(self) -> np.ndarray:
        """Frame index at which each key is first shown exactly, [K]."""
        return self.arrivals[: self.num_keys]

    @property
    def num_frames(self) -> int:
        a = self.arrivals
        return int(a[-1]) if self.loop else int(a[-1]) + int(self.holds[-1]) + 1 + self.tail_frames

    def locate(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame positions [n] -> (segment index [n] int64, fraction f [n] in [0, 1))."""
        pos = np.asarray(pos, dtype=np.float64)
        n = self.num_frames
        pos = np.mod(pos, n) if self.loop else np.clip(pos, 0, n - 1)
        arrivals = self.arrivals.astype(np.float64)
        seg = np.searchsorted(arrivals, pos, side="right") - 1
        seg = np.clip(seg, 0, self.num_keys - 1)
        depart = arrivals[seg] + self.holds[seg]
        frames = np.asarray(self.seg_frames + (1,), dtype=np.float64)[np.minimum(seg, len(self.seg_frames))]
        f = np.clip((pos - depart) / frames, 0.0, None)
        if not self.loop:
            f = np.where(seg >= self.num_keys - 1, 0.0, f)
        return seg.astype(np.int64), np.minimum(f, np.nextafter(1.0, 0.0))


@dataclass(frozen=True)
class KeyTiming:
    """Key timing decided outside the path (e.g. keys on the beats of a song), in whole frames."""
    lead_frames: int                 # frames before the first key arrives
    seg_frames: tuple[int, ...]      # frames of each transition
    tail_frames: int = 0             # open path: frames held on the last key after its hold
    hold_frames: int = 0

    def num_keys(self, loop: bool) -> int:
        return len(self.seg_frames) if loop else len(self.seg_frames) + 1


def seconds_to_seg_frames(durations: list[float], fps: float) -> tuple[int, ...]:
    """Per-transition seconds -> whole frames, rounding the running total so no drift builds up."""
    ends = np.rint(np.cumsum(np.asarray(durations, dtype=np.float64)) * fps).astype(np.int64)
    frames = np.diff(np.concatenate([[0], ends]))
    if np.any(frames < 1):
        i = int(np.argmin(frames))
        raise WaifuError(f"transition {i} lasts {durations[i]:g} s, less than one frame at {fps:g} fps; "
                         f"use at least {1.0 / fps:.3f} s per transition (or --frames 1)")
    return tuple(int(f) for f in frames)


def even_seg_frames(lengths: np.ndarray, total: int) -> tuple[int, ...]:
    """Share `total` transition frames out in proportion to arc lengths, at least one each."""
    lengths = np.asarray(lengths, dtype=np.float64)
    n = len(lengths)
    if total < n:
        raise WaifuError(f"{total} transition frames cannot cover {n} transitions; give more --seconds or --frames")
    if lengths.sum() <= 0:
        weights = np.full(n, 1.0 / n)
    else:
        weights = lengths / lengths.sum()
    ends = np.rint(np.cumsum(weights) * total).astype(np.int64)
    ends[-1] = total
    frames = np.diff(np.concatenate([[0], ends]))
    while frames.min() < 1:             # a (near) zero-length transition still gets one frame
        frames[int(np.argmax(frames))] -= 1
        frames[int(np.argmin(frames))] += 1
    return tuple(int(f) for f in frames)


class ArcTable:
    """Per transition, a monotone table: fraction of the way (by distance) -> curve parameter.

    Built from arc length sampled densely along each transition; `equalize_chords` then refines it on
    the actual frame grid so successive frames are equally far apart in W (arc length and chord
    length part ways where the path bends sharply between two frames).
    """

    def __init__(self, cumulative: np.ndarray):
        # cumulative [S, M + 1]: arc length from the segment start at parameters linspace(0, 1, M + 1)
        cumulative = np.asarray(cumulative, dtype=np.float64)
        grid = np.linspace(0.0, 1.0, cumulative.shape[1])
        self.lengths = cumulative[:, -1].copy()
        self.tables: list[tuple[np.ndarray, np.ndarray]] = []       # (fractions, params) per segment
        for cum in cumulative:
            if cum[-1] <= 0:
                self.tables.append((grid, grid))
            else:
                self.tables.append((cum / cum[-1], grid))

    def param(self, seg: np.ndarray, frac: np.ndarray) -> np.ndarray:
        """Curve parameter at which segment `seg` has covered fraction `frac` of its length."""
        seg = np.asarray(seg, dtype=np.int64)
        frac = np.asarray(frac, dtype=np.float64)
        out = np.zeros_like(frac)
        for s in np.unique(seg):
            if s >= len(self.tables):      # the last key of an open path: always at its start
                continue
            m = seg == s
            fr, u = self.tables[s]
            out[m] = np.interp(frac[m], fr, u)
        # exactly 0 stays exactly 0 so keys stay bit-exact
        return np.where(frac == 0, 0.0, out)

    def equalize_chords(self, seg_frames, chords, iterations: int = 4) -> None:
        """Refine each table on its frame grid so successive frames are equally far apart.

        chords(seg, u) -> distances between consecutive points at parameters u (len(u) - 1 of them).
        Fixed point: place frame k where the cumulative chord length reaches k / n of the total.
        """
        for s, n in enumerate(seg_frames):
            if self.lengths[s] <= 0 or n < 2:
                continue
            k = np.arange(n + 1) / n
            u = self.param(np.full(n + 1, s), k)
            u[-1] = 1.0
            for _ in range(iterations):
                c = np.concatenate([[0.0], np.cumsum(chords(s, u))])
                if c[-1] <= 0 or np.ptp(np.diff(c)) <= 1e-3 * c[-1] / n:     # within 0.1% of equal
                    break
                u = np.interp(k * c[-1], c, u)
            self.tables[s] = (k, u)
