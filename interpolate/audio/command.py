"""`waifu-morph beats SONG`: the tempo, the beat times and what a render would do with them."""

from __future__ import annotations

import json

import numpy as np
from rich.markup import escape

from .analysis import analyze
from .decode import fmt_time
from .plan import plan_keys


def print_beats(song: str, *, start: float = 0.0, seconds: float | None = None, bpm: float | None = None,
                fps: float = 30.0, beats_per_key: int | None = None, bars: int | None = None, loop: bool = False,
                as_json: bool = False, console, err_console) -> None:
    """Analyse the span and print it (or its JSON record with the plan)."""
    from ..paths.plan import _finite

    fps = _finite("fps", fps, 0, strict=True)
    a = analyze(song, start=start, seconds=seconds, bpm=bpm)
    plan = plan_keys(a, fps, beats_per_key=beats_per_key, bars=bars, loop=loop)
    if as_json:
        console.print_json(json.dumps({"analysis": a.record(), "plan": plan.record()}))
        return
    for note in a.notes + plan.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    bars_text = f", {len(a.downbeats)} bars of 4" if len(a.downbeats) else ""
    source = "fixed grid" if a.fixed else "tracked"
    console.print(f"{escape(a.name)}  {fmt_time(a.start)}-{fmt_time(a.start + a.seconds)} "
                  f"({a.seconds:.2f} s of {fmt_time(a.song_seconds)})", highlight=False)
    console.print(f"tempo {a.tempo:.1f} BPM{_local_range(a.beats)}, {len(a.beats)} beats ({source}){bars_text}",
                  highlight=False)
    console.print("beats (s): " + " ".join(f"{t:.2f}" for t in a.beats), highlight=False, soft_wrap=False)
    if len(a.downbeats):
        console.print("downbeats (s): " + " ".join(f"{t:.2f}" for t in a.downbeats), highlight=False)
    console.print(f"render plan at {fps:g} fps, a key every {plan.every}{' (loop)' if loop else ''}: "
                  f"{plan.num_keys} keys, {plan.num_frames} frames ({plan.seconds:.2f} s)", highlight=False)
    frames = plan.key_frames
    for i, (t, f) in enumerate(zip(plan.key_times, frames)):
        nxt = f"{int(frames[i + 1] - f):4d} frames to the next key" if i + 1 < len(frames) else (
            "  (the first key again)" if loop else f"  then held {plan.num_frames - int(f) - 1} frames")
        label = "end" if loop and i == len(frames) - 1 else f"{i:3d}"
        console.print(f"  key {label}  beat {t:7.2f} s  frame {int(f):6d}  {nxt}", highlight=False)
    if plan.timing.lead_frames:
        console.print(f"  (frames 0-{plan.timing.lead_frames - 1} before the first key show key 0)", highlight=False)


def _local_range(beats: np.ndarray) -> str:
    """' (locally 88-121)' when the tempo moves by more than 3 %."""
    if len(beats) < 6:
        return ""
    gaps = np.diff(beats)
    k = 4
    local = 60.0 / np.convolve(gaps, np.ones(k) / k, mode="valid")
    lo, hi = float(np.percentile(local, 5)), float(np.percentile(local, 95))
    return f" (locally {lo:.0f}-{hi:.0f})" if hi > 1.03 * lo else ""
