"""Beat positions by dynamic programming (Ellis 2007), and downbeats by accent.

    beats = track_beats(onset, period)          # onset frames of the beats, [B] int64
    first = downbeat_phase(beats, accent)       # 0..3: which beat of each group of 4 starts a bar

The beats maximise the onset strength they land on minus TIGHTNESS * log(gap / period)^2 for every
gap between two beats, where `period` is the local beat period (tempo.tempo_curve) of the later
beat: beats sit on onsets, about one period apart, and follow the tempo as it changes. The best
chain is found for every frame in one pass (cumulative score + backlink) and read back from the
best-scoring frame of the last period before the last clear onset. Beats before the first clear onset and after the last one are dropped, so a
quiet intro gets no invented beats.
"""

from __future__ import annotations

import numpy as np

TIGHTNESS = 100.0          # how strongly gaps keep to the period (Ellis's alpha, on onsets scaled to unit std)
EDGE_FRACTION = 0.2        # beats at the ends whose onset is under this fraction of the typical beat's are dropped
BEATS_PER_BAR = 4


def track_beats(onset: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Onset-frame indices of the beats, increasing."""
    o = np.asarray(onset, dtype=np.float64)
    T = len(o)
    p = np.broadcast_to(np.asarray(period, dtype=np.float64), (T,))
    assert T >= 1 and np.all(p > 1)
    std = o.std()
    if std <= 0:
        return np.zeros(0, dtype=np.int64)
    o = o / std
    score = np.empty(T)
    back = np.full(T, -1, dtype=np.int64)
    for t in range(T):
        lo, hi = max(0, t - int(round(2 * p[t]))), t - int(round(p[t] / 2))
        if hi <= lo:
            score[t] = o[t]
            continue
        gaps = t - np.arange(lo, hi)
        cand = score[lo:hi] - TIGHTNESS * np.log(gaps / p[t]) ** 2
        i = int(np.argmax(cand))
        if cand[i] > 0:
            score[t], back[t] = o[t] + cand[i], lo + i
        else:
            score[t] = o[t]
    beats = [_last_beat(score, p, o)]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    return trim_edges(np.asarray(beats[::-1], dtype=np.int64), o)


def _last_beat(score: np.ndarray, period: np.ndarray, onset: np.ndarray) -> int:
    """Where the chain ends: the highest cumulative score within 1.1 periods before the last clear
    onset (a frame just after the last beat scores its chain minus a gap penalty, so it loses)."""
    active = np.flatnonzero(onset >= 0.2 * np.percentile(onset, 99))
    end = int(active[-1]) + 1 if len(active) else len(score)
    lo = max(0, end - max(2, int(round(1.1 * period[end - 1]))))
    return lo + int(np.argmax(score[lo:end]))


def trim_edges(beats: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats that land on (near) nothing."""
    if len(beats) == 0:
        return beats
    near = np.array([onset[max(0, b - 2): b + 3].max() for b in beats])
    keep = near >= EDGE_FRACTION * np.median(near)
    if not keep.any():
        return beats[:0]
    first, last = int(np.argmax(keep)), len(keep) - int(np.argmax(keep[::-1]))
    return beats[first:last]


def fixed_grid(start: float, seconds: float, bpm: float) -> np.ndarray:
    """Beat times in seconds every 60 / bpm from `start` up to (not including) `seconds`."""
    step = 60.0 / float(bpm)
    return np.arange(float(start), float(seconds) - 1e-9, step)


def downbeat_phase(beats: np.ndarray, bass: np.ndarray, spectra: np.ndarray | None = None,
                   per_bar: int = BEATS_PER_BAR) -> int:
    """Which of the first `per_bar` beats starts the bars: the phase whose beats carry the most bass
    (the kick drum's beat 1 and 3, an accented click) plus harmonic change (the median spectrum
    between two beats against the one before and the one two before: a chord change, most often on
    beat 1, stands out of both); 0 (the first beat) when there are under 3 bars of beats to tell."""
    if len(beats) < 3 * per_bar:
        return 0
    a = np.asarray(bass, dtype=np.float64)
    cue = _z(np.array([a[max(0, b - 2): b + 3].max() for b in beats]))
    if spectra is not None:
        edges = np.append(beats, len(spectra))
        med = np.stack([np.median(spectra[lo:max(hi, lo + 1)], axis=0) for lo, hi in zip(edges[:-1], edges[1:])])
        for lag in (1, 2):       # against the beat before (a kick/snare alternation is the same at every
            change = np.zeros(len(beats))          # phase) and two before (where it cancels)
            change[lag:] = np.linalg.norm(med[lag:] - med[:-lag], axis=1)
            change[:lag] = np.median(change[lag:])
            cue = cue + _z(change)
    scores = [cue[k::per_bar].mean() for k in range(per_bar)]
    return int(np.argmax(scores))


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-9)
