"""Songs in: any file the bundled ffmpeg decodes -> float32 mono PCM at SAMPLE_RATE, plus its span.

    song = read_song("song.mp3")                       # the whole file, decoded once
    clip = song.span(start=12.0, seconds=20.0)         # samples [n] of that span (one-line errors)

ffmpeg (imageio-ffmpeg's binary) downmixes and resamples; the samples come back through a pipe as
little-endian float32, so no temporary file is written. A missing file, a file without an audio
stream or one ffmpeg cannot decode is a one-line WaifuError.
"""

from __future__ import annotations

import math
import os
import subprocess
from dataclasses import dataclass

import numpy as np

from ..errors import WaifuError

SAMPLE_RATE = 22050            # Hz: enough for onsets and bands up to 11 kHz, half the work of 44.1 kHz


@dataclass(frozen=True)
class Song:
    path: str
    samples: np.ndarray        # [n] float32 mono at `rate`: the file, or its start (see `complete`)
    rate: int
    complete: bool = True      # False: decoding stopped at `until`, the song may go on

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def span(self, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
        """Samples of [start, start + seconds) (None: to the end); a span outside the song is an error."""
        start, seconds = check_span(self, start, seconds)
        lo = int(round(start * self.rate))
        hi = lo + int(round(seconds * self.rate))
        return self.samples[lo:hi]


def check_span(song: Song, start: float, seconds: float | None) -> tuple[float, float]:
    """(start, seconds) of a valid span of `song`; one-line errors naming the song's length."""
    name = os.path.basename(song.path)
    length = song.seconds
    for flag, value in (("--audio-start", start), ("--audio-seconds", seconds)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise WaifuError(f"{flag} must be a number of seconds, got {value!r}")
    if start < 0:
        raise WaifuError(f"--audio-start must be >= 0 s, got {start:g}")
    if start >= length:
        raise WaifuError(f"--audio-start {start:g} s is past the end of '{name}' ({fmt_time(length)}); "
                         f"start earlier")
    if seconds is None:
        seconds = length - start
    if seconds <= 0:
        raise WaifuError(f"--audio-seconds must be > 0, got {seconds:g}")
    if start + seconds > length + 1e-3:
        raise WaifuError(f"--audio-start {start:g} + --audio-seconds {seconds:g} = {start + seconds:g} s runs past "
                         f"the end of '{name}' ({fmt_time(length)}); shorten the span to at most "
                         f"{length - start:.2f} s")
    return float(start), float(min(seconds, length - start))


def fmt_time(seconds: float) -> str:
    """183.4 -> '3:03.4' (a song's length, as players show it)."""
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


def read_song(path: str | os.PathLike, rate: int = SAMPLE_RATE, until: float | None = None) -> Song:
    """Decode a song to mono float32 at `rate` Hz: all of it, or its first `until` seconds (a render
    needs only its span; a song shorter than `until` comes back whole, so span checks still hold)."""
    from ..render.ffmpeg import ffmpeg_exe

    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise WaifuError(f"audio file '{path}' does not exist; check the song's path")
    if os.path.isdir(path):
        raise WaifuError(f"'{path}' is a folder; --audio needs a song file (mp3, wav, flac, m4a, ogg)")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:a:0",
           "-vn", "-ac", "1", "-ar", str(rate), *(["-t", f"{float(until):.6f}"] if until else []),
           "-f", "f32le", "-c:a", "pcm_f32le", "pipe:1"]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise WaifuError(f"cannot start ffmpeg to read '{name}' ({exc.strerror or exc}); reinstall imageio-ffmpeg") from None
    if proc.returncode != 0:
        raise WaifuError(f"ffmpeg cannot decode '{name}' as audio ({_last_line(proc.stderr)}); "
                         f"pass a song file: mp3, wav, flac, m4a or ogg")
    samples = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise WaifuError(f"'{name}' holds no audio samples; pass a song file with sound in it")
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return Song(path=path, samples=samples, rate=rate,
                complete=until is None or len(samples) < int(round(float(until) * rate)) - 1)


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = lines[-1] if lines else "no message"
    if "matches no streams" in text or "does not contain any stream" in text:
        return "it has no audio stream"
    return text[:160]
