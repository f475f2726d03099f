"""Reactions: the song's pulse, bass and treble move styles, frame by frame.

    env = frame_envelopes(features, fps, num_frames, attack, decay)    # {'pulse', 'bass', 'treble'}: [N] in [0, 1]
    path = with_reactions(path, env, strengths={'pulse': 0.5}, w_avg=G.w_avg)

The mapping (each strength 0 = off, the default; 1 = strong):

    pulse  (onset strength: drum hits, attacks)  -> fine styles   (colours flash on each hit)
    bass   (30-150 Hz energy, slow)              -> coarse styles (pose and face shape swell)
    treble (4-11 kHz energy, fast)               -> middle styles (features and hair shimmer)

A reaction pushes its layer group away from the average face: w = w_avg + (w - w_avg) * (1 + s * e),
the opposite of truncation, so the frame stays the same character, only more so. It acts on the ws
of each frame (after truncation), so --save-latents records it and --from-latents replays it.

Envelopes are per video frame: frame i covers audio [i / fps, (i + 1) / fps); the pulse is the
strongest onset inside it (a click shorter than a frame still lands on its frame), bass and treble
the mean level, each scaled to [0, 1] over the clip. Then attack / decay smoothing: the envelope
rises to a new value within `attack` seconds and falls back over `decay` seconds (one-pole).
"""

from __future__ import annotations

import math

import numpy as np

from .spectrum import Features

REACTIONS = {"pulse": "fine", "bass": "coarse", "treble": "middle"}
GATE = 0.05                  # envelope values under this (after scaling) count as silence


def frame_envelopes(features: Features, fps: float, num_frames: int, attack: float = 0.0,
                    decay: float = 0.25) -> dict[str, np.ndarray]:
    """{'pulse', 'bass', 'treble'}: [num_frames] float64 in [0, 1], smoothed."""
    fr = features.frame_rate
    edges = np.rint(np.arange(num_frames + 1) / fps * fr).astype(np.int64)
    edges = np.clip(edges, 0, len(features.onset))
    pulse = _per_frame(features.onset, edges, np.max)
    bass = _per_frame(features.bass, edges, np.mean)
    treble = _per_frame(features.treble, edges, np.mean)
    ref = float(np.percentile(pulse, 99)) if num_frames else 1.0
    out = {"pulse": np.clip(pulse / max(ref, 1e-9), 0.0, 1.0), "bass": _scale(bass), "treble": _scale(treble)}
    return {k: smooth(np.where(v < GATE, 0.0, v), fps, attack, decay) for k, v in out.items()}


def _per_frame(x: np.ndarray, edges: np.ndarray, reduce) -> np.ndarray:
    out = np.zeros(len(edges) - 1)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        if hi > lo:
            out[i] = reduce(x[lo:hi])
        elif lo < len(x):
            out[i] = x[lo]
        elif len(x):
            out[i] = x[-1]
    return out


def _scale(x: np.ndarray) -> np.ndarray:
    """dB levels -> [0, 1] between the clip's 5th and 98th percentiles (0 when it barely moves)."""
    if len(x) == 0:
        return x
    lo, hi = np.percentile(x, [5, 98])
    if hi - lo < 1.0:                     # under 1 dB of movement: nothing to react to
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def smooth(x: np.ndarray, fps: float, attack: float, decay: float) -> np.ndarray:
    """One-pole follower: rises with time constant `attack`, falls with `decay` (seconds; 0 = instant)."""
    def coef(tau):
        return 1.0 if tau <= 0 else 1.0 - math.exp(-1.0 / (tau * fps))

    up, down = coef(attack), coef(decay)
    y = np.empty_like(np.asarray(x, dtype=np.float64))
    prev = 0.0
    for i, v in enumerate(np.asarray(x, dtype=np.float64)):
        prev += (v - prev) * (up if v > prev else down)
        y[i] = prev
    return y


class ReactiveEvaluator:
    """Wraps a path's evaluator: frame positions -> ws, then each reaction's push on its layers."""

    def __init__(self, evaluate, envelopes: dict[str, np.ndarray], strengths: dict[str, float],
                 groups: dict[str, list[int]], w_avg, loop: bool):
        self.evaluate = evaluate
        self.loop = loop
        self.w_avg = np.asarray(w_avg.detach().float().cpu().numpy() if hasattr(w_avg, "detach") else w_avg,
                                dtype=np.float32)
        self.terms = [(envelopes[name], float(s), list(groups.get(REACTIONS[name], [])))
                      for name, s in strengths.items() if s and groups.get(REACTIONS[name])]

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        ws = self.evaluate(pos)
        if not self.terms:
            return ws
        n = len(self.terms[0][0])
        idx = np.floor(np.asarray(pos, dtype=np.float64)).astype(np.int64)
        idx = np.mod(idx, n) if self.loop else np.clip(idx, 0, n - 1)
        ws = ws.copy()
        for env, s, layers in self.terms:
            gain = (1.0 + s * env[idx]).astype(np.float32)[:, None, None]
            ws[:, layers] = self.w_avg + (ws[:, layers] - self.w_avg) * gain
        return ws


def with_reactions(path, envelopes: dict[str, np.ndarray], strengths: dict[str, float], w_avg):
    """The same LatentPath with its ws pushed by the envelopes (a new object; `path` is unchanged)."""
    from ..paths.path import LatentPath

    active = {k: float(v) for k, v in strengths.items() if v}
    if not active:
        return path
    evaluate = ReactiveEvaluator(path._evaluate, envelopes, active, path.groups, w_avg, path.timeline.loop)
    params = {**path.params, "reactions": {name: {"strength": s, "styles": REACTIONS[name]} for name, s in active.items()}}
    return LatentPath(timeline=path.timeline, noise=path.noise, num_ws=path.num_ws, w_dim=path.w_dim, params=params,
                      key_labels=path.key_labels, key_ws=path.key_ws, groups=path.groups, evaluate=evaluate)
