"""Synthetic songs for the audio tests: click tracks with known beats, sweeps, silence (WAV via scipy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

RATE = 22050


def click(rate: int, accent: bool = False) -> np.ndarray:
    """A 25 ms decaying tone burst (1 kHz, or 1.6 kHz louder for a downbeat)."""
    t = np.arange(int(0.025 * rate)) / rate
    f, amp = (1600.0, 0.9) if accent else (1000.0, 0.5)
    return (amp * np.sin(2 * np.pi * f * t) * np.exp(-t * 150)).astype(np.float32)


def beat_times(bpm_parts: list[tuple[float, float]], start: float = 0.5, jitter: float = 0.0,
               seed: int = 0) -> np.ndarray:
    """Beat times: for each (bpm, seconds) part in turn, beats every 60 / bpm, each moved by up to
    +-jitter seconds (uniform)."""
    rng = np.random.RandomState(seed)
    times, t = [], start
    for bpm, seconds in bpm_parts:
        end = t + seconds
        while t < end - 1e-9:
            times.append(t)
            t += 60.0 / bpm
    times = np.asarray(times)
    return times + rng.uniform(-jitter, jitter, len(times)) if jitter else times


def click_track(times: np.ndarray, seconds: float, rate: int = RATE, noise: float = 0.002,
                per_bar: int = 4, bass: bool = True) -> np.ndarray:
    """Clicks at `times` (every per_bar-th accented, with a 60 Hz thump under it when `bass`)."""
    y = np.random.RandomState(1).randn(int(seconds * rate)).astype(np.float32) * noise
    for i, t in enumerate(times):
        c = click(rate, accent=i % per_bar == 0)
        if bass and i % per_bar == 0:
            tt = np.arange(int(0.12 * rate)) / rate
            thump = (0.6 * np.sin(2 * np.pi * 60 * tt) * np.exp(-tt * 25)).astype(np.float32)
            c = np.pad(c, (0, len(thump) - len(c))) + thump
        lo = int(round(t * rate))
        seg = y[lo:lo + len(c)]
        seg += c[:len(seg)]
    return y


def drum_song(minutes: float, bpm: float = 128.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Kick on 1 and 3, snare on 2 and 4, hats on eighths, a chord pad; returns (samples, beat times)."""
    rng = np.random.RandomState(seed)
    seconds = minutes * 60
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 311.1)]
    bar = 4 * 60.0 / bpm
    y = np.zeros(n, np.float32)
    which = (np.maximum(t - 0.2, 0) // bar).astype(int) % len(chords)      # chords change on the downbeats
    for k, chord in enumerate(chords):
        m = which == k
        y[m] += sum(0.05 * np.sin(2 * np.pi * f * t[m]) for f in chord).astype(np.float32)
    beats = beat_times([(bpm, seconds - 1.0)], start=0.2)
    kick_t = np.arange(int(0.15 * RATE)) / RATE
    kick = (0.8 * np.sin(2 * np.pi * (50 + 60 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 18)).astype(np.float32)
    snare = (0.4 * rng.randn(int(0.12 * RATE)) * np.exp(-np.arange(int(0.12 * RATE)) / RATE * 30)).astype(np.float32)
    hat = (0.15 * rng.randn(int(0.03 * RATE)) * np.exp(-np.arange(int(0.03 * RATE)) / RATE * 150)).astype(np.float32)
    hat = np.diff(hat, prepend=0).astype(np.float32)            # bright
    step = 60.0 / bpm

    def add(sound, at):
        lo = int(round(at * RATE))
        seg = y[lo:lo + len(sound)]
        seg += sound[:len(seg)]

    for i, b in enumerate(beats):
        add(kick if i % 2 == 0 else snare, b)
        add(hat, b)
        add(hat * 0.6, b + step / 2)
    return np.clip(y, -1, 1), beats


def sweep(seconds: float, rate: int = RATE, f0: float = 100.0, f1: float = 5000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1)
    return (0.3 * np.sin(phase)).astype(np.float32)


def write_wav(path, samples: np.ndarray, rate: int = RATE) -> str:
    from scipy.io import wavfile

    wavfile.write(str(path), rate, (np.clip(samples, -1, 1) * 32767).astype(np.int16))
    return str(path)


def convert(wav: str, suffix: str) -> str:
    """wav -> .mp3/.ogg/.flac/.m4a with the bundled ffmpeg (codecs it has)."""
    import imageio_ffmpeg

    out = str(Path(wav).with_suffix(suffix))
    codec = {".mp3": ["-c:a", "libmp3lame", "-b:a", "128k"], ".ogg": ["-c:a", "libvorbis"],
             ".flac": ["-c:a", "flac"], ".m4a": ["-c:a", "aac"]}[suffix]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-i", wav, *codec, out],
                   check=True)
    return out


def match(found: np.ndarray, truth: np.ndarray, tol: float) -> tuple[float, float]:
    """(precision, recall) of found beat times against the truth, each truth matched at most once."""
    found, truth = np.asarray(found), np.asarray(truth)
    used = np.zeros(len(truth), bool)
    hits = 0
    for f in found:
        d = np.abs(truth - f)
        d[used] = np.inf
        i = int(np.argmin(d)) if len(d) else -1
        if i >= 0 and d[i] <= tol:
            used[i] = True
            hits += 1
    return hits / max(len(found), 1), hits / max(len(truth), 1)
