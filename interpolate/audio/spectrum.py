"""Short-time spectra of a mono clip: onset strength (log-mel spectral flux) and band energies.

    feats = spectral_features(samples, rate)     # Features: onset [T], bass [T], treble [T], times [T]

Frames are HOP samples apart (11.6 ms at 22.05 kHz) and hold N_FFT samples under a Hann window,
centred on their time (the clip is zero-padded by N_FFT / 2 at both ends), so frame t describes the
sound around t * HOP / rate seconds.

Onset strength: the mel power spectrum in dB (64 bands, 30 Hz .. 11 kHz, floored 80 dB under the
clip's peak), its rise from one frame to the next (negative changes count 0), averaged over bands
(the first frames, whose windows reach into the padding, count 0):
a drum hit or a note attack raises many bands at once. ONSET_LAG shifts it so a click's peak lands
on the frame of the click (the rise shows once the click enters the window, before its centre).
Accent: the same rise measured in loudness (cube root of the mel power) rather than dB, so a kick
counts more than a hi-hat; tempo and downbeats read it, the beat positions read the onset strength.
Band energies: summed power of 30-150 Hz (bass) and 4-11 kHz (treble), in dB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FFT = 1024
HOP = 256
N_MELS = 64
FMIN, FMAX = 30.0, 11025.0
TOP_DB = 80.0
BASS = (30.0, 150.0)
TREBLE = (4000.0, 11025.0)
ONSET_LAG = 1                  # frames the flux is shifted later (measured on clicks, tests/test_audio_analysis.py)


@dataclass
class Features:
    rate: int
    frame_rate: float          # feature frames per second (rate / HOP)
    onset: np.ndarray          # [T] float32 >= 0, onset strength (dB rises: every attack counts, for timing)
    accent: np.ndarray         # [T] float32 >= 0, rises in loudness (cube root of power: loud hits count more)
    bass: np.ndarray           # [T] float32, dB
    treble: np.ndarray         # [T] float32, dB
    mel_db: np.ndarray | None = None   # [T, N_MELS] float32 (downbeats: where the harmony changes)

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self.onset)) / self.frame_rate


def power_spectrogram(samples: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2 [T, n_fft // 2 + 1] float32, frames centred on t * hop."""
    x = np.asarray(samples, dtype=np.float32)
    assert x.ndim == 1, x.shape
    x = np.pad(x, (n_fft // 2, n_fft // 2))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    out = np.empty((count, n_fft // 2 + 1), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:count]
    for lo in range(0, count, 2048):                     # bounded memory on long songs
        spec = np.fft.rfft(frames[lo:lo + 2048] * window, axis=1)
        out[lo:lo + 2048] = spec.real ** 2 + spec.imag ** 2
    return out


def mel_filters(rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = FMIN,
                fmax: float = FMAX) -> np.ndarray:
    """Triangular filters on the HTK mel scale, [n_mels, n_fft // 2 + 1], each of unit area."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    fmax = min(fmax, rate / 2)
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down))
    fb /= np.maximum(fb.sum(axis=1, keepdims=True), 1e-12)
    return fb.astype(np.float32)


def to_db(power: np.ndarray, top_db: float = TOP_DB) -> np.ndarray:
    db = 10.0 * np.log10(np.maximum(power, 1e-10))
    return np.maximum(db, db.max(initial=-100.0) - top_db)


def band_db(power: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    freqs = np.linspace(0, rate / 2, power.shape[1])
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return 10.0 * np.log10(np.maximum(power[:, sel].sum(axis=1), 1e-10))


def spectral_features(samples: np.ndarray, rate: int) -> Features:
    """Onset strength and bass / treble energy of a mono clip, one value per HOP samples."""
    power = power_spectrogram(samples)
    mel = power @ mel_filters(rate).T
    mel_db = to_db(mel)
    flux = np.maximum(0.0, np.diff(mel_db, axis=0)).mean(axis=1)
    onset = np.concatenate([np.zeros(1 + ONSET_LAG), flux])[: len(mel_db)]
    onset[: N_FFT // (2 * HOP) + ONSET_LAG + 1] = 0.0      # the rise out of the zero padding is no onset
    loud = np.cbrt(mel / max(float(mel.max(initial=0.0)), 1e-20))          # loudness-like, keeps accents
    rise = np.maximum(0.0, np.diff(loud, axis=0)).mean(axis=1)
    accent = np.concatenate([np.zeros(1 + ONSET_LAG), rise])[: len(mel_db)]
    accent[: N_FFT // (2 * HOP) + ONSET_LAG + 1] = 0.0
    return Features(rate=rate, frame_rate=rate / HOP, onset=onset.astype(np.float32), accent=accent.astype(np.float32),
                    bass=band_db(power, rate, BASS).astype(np.float32),
                    treble=band_db(power, rate, TREBLE).astype(np.float32), mel_db=mel_db.astype(np.float32))
