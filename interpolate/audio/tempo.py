"""Tempo: a local beat period for every onset frame, from a tempogram with a prior.

    period = tempo_curve(onset, frame_rate)        # [T] beat period in onset frames
    bpm = 60 * frame_rate / np.median(period)

Tempogram: the onset strength (mean removed) is cut into windows of WINDOW_S seconds every HOP_S
seconds; each window's autocorrelation at lag L says how often onsets are L frames apart. A lag's
salience adds its double (a beat is also two beats apart: this settles the comb), weighs it by a
log-normal prior around PRIOR_BPM (Ellis 2007: listeners favour about 120 BPM, PRIOR_OCTAVES wide)
and marks down lags whose half is nearly as strong and itself a tempo, i.e. periods that skip every
other beat (that is how an even click track at 174 BPM avoids being read at 87, while a 128 BPM
song with hats on the eighths keeps its quarter-note beat).

A Viterbi pass over windows picks one lag per window, paying for jumps by how far they move in
octaves, so a tempo change is followed but a single busy bar does not flip the tempo.
"""

from __future__ import annotations

import numpy as np

WINDOW_S = 8.0
HOP_S = 1.0
MIN_BPM, MAX_BPM = 50.0, 220.0
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0
HALF_PENALTY = 0.8          # how much a lag's own half-lag support marks it down (0: not at all) ...
HALF_FROM = 0.7             # ... once the half-lag's autocorrelation passes this fraction of the lag's
JUMP_COST = 4.0             # Viterbi cost per octave of tempo change between windows (in salience units)


def _autocorr(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of each row for lags 0..max_lag (FFT), rows [W, n] -> [W, max_lag + 1]."""
    n = x.shape[1]
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size, axis=1)
    ac = np.fft.irfft(spec * np.conj(spec), size, axis=1)[:, : max_lag + 1]
    return ac


def lag_salience(ac: np.ndarray, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(lags [L] in frames, salience [W, L]) for lags within MIN_BPM..MAX_BPM."""
    lo = int(np.floor(60.0 * frame_rate / MAX_BPM))
    hi = int(np.ceil(60.0 * frame_rate / MIN_BPM))
    lags = np.arange(max(lo, 2), hi + 1)
    norm = np.maximum(ac[:, :1], 1e-12)
    a = np.maximum(ac / norm, 0.0)                          # [W, max_lag + 1], 1 at lag 0

    def at(l):                                             # fractional lags, linear interpolation
        l = np.asarray(l, dtype=np.float64)
        i = np.clip(np.floor(l).astype(int), 0, a.shape[1] - 2)
        f = l - i
        return a[:, i] * (1 - f) + a[:, i + 1] * f

    def peak(l):                                           # best of l-1, l, l+1: onsets jitter
        return np.maximum(np.maximum(at(l - 1), at(l)), at(l + 1))

    bpm = 60.0 * frame_rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    strength = peak(lags) + 0.5 * peak(2 * lags)
    # a period whose half is (nearly) as strong skips every other onset: mark it down, if its half is
    # itself a tempo (a 128 BPM song's eighth-note hats are not a 256 BPM beat)
    ratio = peak(lags / 2.0) / np.maximum(peak(lags), 1e-9)
    skip = np.clip((ratio - HALF_FROM) / (1.0 - HALF_FROM), 0.0, 1.0) * (2 * bpm <= MAX_BPM)[None]
    sal = prior[None] * strength * (1.0 - HALF_PENALTY * skip)
    return lags, sal


def tempo_curve(onset: np.ndarray, frame_rate: float) -> np.ndarray:
    """Beat period in frames for every onset frame, [T] float64."""
    onset = np.asarray(onset, dtype=np.float64)
    T = len(onset)
    win = min(T, int(round(WINDOW_S * frame_rate)))
    hop = max(1, int(round(HOP_S * frame_rate)))
    starts = np.arange(0, max(T - win, 0) + 1, hop)
    if starts[-1] + win < T:
        starts = np.append(starts, T - win)
    window = np.hanning(win + 2)[1:-1]
    rows = np.stack([onset[s:s + win] for s in starts])
    rows = (rows - rows.mean(axis=1, keepdims=True)) * window
    max_lag = int(np.ceil(2 * 60.0 * frame_rate / MIN_BPM)) + 2
    ac = _autocorr(rows, max(max_lag, 4))
    if ac.shape[1] < max_lag + 1:
        ac = np.pad(ac, ((0, 0), (0, max_lag + 1 - ac.shape[1])))
    lags, sal = lag_salience(ac, frame_rate)
    path = viterbi(sal, np.log2(lags))
    centres = starts + win / 2.0
    period = lags[path].astype(np.float64)
    if len(centres) == 1:
        return np.full(T, period[0])
    return np.interp(np.arange(T), centres, period)


def viterbi(salience: np.ndarray, log_lags: np.ndarray) -> np.ndarray:
    """One lag index per window maximising salience minus JUMP_COST per octave moved."""
    W, L = salience.shape
    scale = max(float(salience.max()), 1e-9)
    s = salience / scale
    jump = JUMP_COST * np.abs(log_lags[:, None] - log_lags[None, :])       # [from, to]
    score = s[0].copy()
    back = np.zeros((W, L), dtype=np.int64)
    for w in range(1, W):
        total = score[:, None] - jump
        back[w] = np.argmax(total, axis=0)
        score = total[back[w], np.arange(L)] + s[w]
    path = np.empty(W, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for w in range(W - 1, 0, -1):
        path[w - 1] = back[w, path[w]]
    return path
