"""From beats to keyframes: which video frames the keys land on, and how long each transition is.

    plan = plan_keys(analysis, fps=30, beats_per_key=4)            # or bars=1 (keys on downbeats)
    plan.key_frames        # frame of each key, [K] int64 (for --loop also the closing frame)
    plan.timing            # paths.timing.KeyTiming: lead frames, frames per transition, tail frames

The clip lasts the span: num_frames = round(seconds * fps), frame i shown at i / fps, so frame 0 is
audio time 0 and the video ends within half a frame of the audio. Each key lands on the frame
nearest its beat; frames before the first key show it (the lead), frames after the last key hold
it (the tail). With --loop the clip ends on the key beat where the first key returns, so it is cut
there, on a beat, and loops without a jump.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import WaifuError
from ..paths.timing import KeyTiming
from .analysis import Analysis


@dataclass
class KeyPlan:
    fps: float
    num_frames: int
    key_times: np.ndarray          # [M] seconds of the beats keys land on
    key_frames: np.ndarray         # [M] frame indices (for a loop the last is num_frames: key 0 again)
    timing: KeyTiming
    loop: bool
    every: str                     # '4 beats' | '1 bar'
    notes: list[str] = field(default_factory=list)

    @property
    def num_keys(self) -> int:
        """Distinct keys the path needs (a loop's closing key is the first one again)."""
        return len(self.key_frames) - 1 if self.loop else len(self.key_frames)

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    def record(self) -> dict:
        return {"fps": self.fps, "num_frames": self.num_frames, "every": self.every, "loop": self.loop,
                "key_times": [round(float(t), 6) for t in self.key_times], "key_frames": self.key_frames.tolist(),
                "lead_frames": self.timing.lead_frames, "seg_frames": list(self.timing.seg_frames),
                "tail_frames": self.timing.tail_frames}


def key_beats(analysis: Analysis, beats_per_key: int | None, bars: int | None) -> tuple[np.ndarray, str]:
    """(times of the beats keys land on, how they were chosen in words)."""
    if bars is not None:
        if int(bars) != bars or bars < 1:
            raise WaifuError(f"--bars is bars per key, a whole number >= 1; got {bars}")
        n = int(bars)
        return analysis.downbeats[::n], f"{n} bar{'s' if n > 1 else ''}"
    n = 1 if beats_per_key is None else beats_per_key
    if int(n) != n or n < 1:
        raise WaifuError(f"--beats-per-key is beats per key, a whole number >= 1; got {beats_per_key}")
    n = int(n)
    first = analysis.downbeats[0] if len(analysis.downbeats) else (analysis.beats[0] if len(analysis.beats) else 0.0)
    beats = analysis.beats[analysis.beats >= first - 1e-9]            # start counting on the first downbeat
    return beats[::n], f"{n} beat{'s' if n > 1 else ''}"


def plan_keys(analysis: Analysis, fps: float, beats_per_key: int | None = None, bars: int | None = None,
              loop: bool = False, hold: float = 0.0) -> KeyPlan:
    """Keyframe frames and transition lengths for a clip that lasts the analysed span."""
    fps = float(fps)
    num_frames = int(round(analysis.seconds * fps))
    times, every = key_beats(analysis, beats_per_key, bars)
    frames = np.rint(times * fps).astype(np.int64)
    keep = np.concatenate([[True], np.diff(frames) > 0]) & (frames < num_frames) & (frames >= 0)
    times, frames = times[keep], frames[keep]
    need = 2
    if len(frames) < need:
        raise WaifuError(f"the span of '{analysis.name}' ({analysis.seconds:.2f} s at {analysis.tempo:.0f} BPM) "
                         f"holds {len(frames)} key beat{'s' if len(frames) != 1 else ''} with one key every {every}; "
                         f"lower --beats-per-key / --bars or lengthen --audio-seconds")
    notes: list[str] = []
    hold_frames = int(round(float(hold) * fps))
    if not loop and hold_frames:          # a key too near the end for its hold is left out
        fits = frames + hold_frames + 1 <= num_frames
        times, frames = times[fits], frames[fits]
        if len(frames) < need:
            raise WaifuError(f"--hold {hold:g} s leaves too few key beats in the span of '{analysis.name}'; "
                             f"lower --hold or lengthen --audio-seconds")
    if loop:
        cut = int(frames[-1])
        if cut < num_frames:
            notes.append(f"--loop: the clip is cut on the key beat at {cut / fps:.2f} s (the span lasts "
                         f"{analysis.seconds:.2f} s) so it closes on a beat")
        num_frames = cut
        steps = np.diff(frames)
        tail = 0
    else:
        steps = np.diff(frames)
        tail = num_frames - int(frames[-1]) - hold_frames - 1
    seg = steps - hold_frames
    if seg.min() < 1:
        raise WaifuError(f"--hold {hold:g} s leaves no time to move between keys {every} apart "
                         f"(shortest gap {steps.min() / fps:.2f} s); lower --hold or raise --beats-per-key")
    if tail < 0:              # the last key's hold runs past the clip: shorten it there
        raise WaifuError(f"--hold {hold:g} s runs past the end of the span; lower --hold or lengthen --audio-seconds")
    timing = KeyTiming(lead_frames=int(frames[0]), seg_frames=tuple(int(s) for s in seg), tail_frames=int(tail),
                       hold_frames=hold_frames)
    return KeyPlan(fps=fps, num_frames=num_frames, key_times=times, key_frames=frames, timing=timing, loop=bool(loop),
                   every=every, notes=notes)
