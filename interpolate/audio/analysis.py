"""One song span in, its beats out: tempo, beat and downbeat times, and the envelopes for reactions.

    a = analyze("song.mp3", start=12.0, seconds=20.0)        # Analysis (times from the span's start)
    a.tempo, a.beats, a.downbeats, a.notes
    a.record()  -> JSON-ready dict (sidecar, --save-latents); Analysis.from_record(d, song) replays it

Times are seconds from the start of the span, which is the clip's time 0 (video frame 0). A span
with no clear beat (silence, a drone, a sweep) or a fixed --bpm falls back to a grid from time 0,
and says so in `notes`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import WaifuError
from .beats import BEATS_PER_BAR, downbeat_phase, fixed_grid, track_beats
from .decode import SAMPLE_RATE, Song, check_span, read_song
from .spectrum import HOP, Features, spectral_features
from .tempo import MAX_BPM, MIN_BPM, tempo_curve

FALLBACK_BPM = 120.0
SILENCE_PEAK = 10 ** (-60 / 20)       # a span whose loudest sample is under -60 dBFS is silence
MIN_CONTRAST = 1.8                    # beats must land on onsets this many times the average strength ...
MIN_ONSET_DB = 1.5                    # ... and the typical beat rise by this many dB (a sweep's is about 1)
RECORD_FORMAT = "waifu-morph-beats"


@dataclass
class Analysis:
    song: str                          # path as given
    sha256: str
    start: float                       # span start in the song, seconds
    seconds: float                     # span length
    song_seconds: float | None         # the whole song's length (None: only its start was decoded)
    tempo: float                       # BPM (median of the local tempo over the beats)
    beats: np.ndarray                  # [B] float64 seconds from the span start
    downbeats: np.ndarray              # [D] float64 seconds, a subset of beats
    fixed: bool = False                # True: a grid (--bpm or the fallback), not tracked beats
    bpm_given: float | None = None
    notes: list[str] = field(default_factory=list)
    features: Features | None = None   # onset / bass / treble (not recorded; recomputed on replay)

    @property
    def name(self) -> str:
        return os.path.basename(self.song)

    def record(self) -> dict:
        """What the sidecar and --save-latents keep: enough to replay the key timing exactly."""
        return {"format": RECORD_FORMAT, "song": os.path.abspath(self.song), "sha256": self.sha256,
                "start": self.start, "seconds": self.seconds, "song_seconds": self.song_seconds,
                "tempo": round(self.tempo, 4), "fixed": self.fixed, "bpm": self.bpm_given,
                "beats": [round(float(b), 6) for b in self.beats],
                "downbeats": [round(float(b), 6) for b in self.downbeats], "notes": list(self.notes)}

    @classmethod
    def from_record(cls, rec: dict, song: Song, sha256: str) -> "Analysis":
        """The recorded beats over the song as it is now (features recomputed for reactions)."""
        try:
            start, seconds = float(rec["start"]), float(rec["seconds"])
            beats = np.asarray(rec["beats"], dtype=np.float64)
            downbeats = np.asarray(rec["downbeats"], dtype=np.float64)
            tempo = float(rec["tempo"])
        except (KeyError, TypeError, ValueError):
            raise WaifuError("the recorded beat analysis is damaged; render without --from (or pass the "
                             "flags again) to analyse the song afresh") from None
        start, seconds = check_span(song, start, seconds)
        return cls(song=song.path, sha256=sha256, start=start, seconds=seconds,
                   song_seconds=song.seconds if song.complete else None,
                   tempo=tempo, beats=beats, downbeats=downbeats, fixed=bool(rec.get("fixed", False)),
                   bpm_given=rec.get("bpm"), notes=[], features=span_features(song, start, seconds))


def analyze(song: str | os.PathLike | Song, start: float = 0.0, seconds: float | None = None,
            bpm: float | None = None) -> Analysis:
    """Decode (unless given a Song), check the span, and find the tempo, beats and downbeats."""
    from ..files import sha256_file

    if not isinstance(song, Song):
        song = read_song(song, SAMPLE_RATE)
    if bpm is not None and not (MIN_BPM / 2 <= float(bpm) <= 2 * MAX_BPM):
        raise WaifuError(f"--bpm {bpm:g} is not a musical tempo; give beats per minute, e.g. --bpm 120")
    start, seconds = check_span(song, float(start or 0.0), seconds)
    clip = song.span(start, seconds)
    feats = span_features(song, start, seconds)
    a = Analysis(song=song.path, sha256=sha256_file(song.path), start=start, seconds=seconds,
                 song_seconds=song.seconds if song.complete else None, tempo=0.0, beats=np.zeros(0), downbeats=np.zeros(0),
                 bpm_given=None if bpm is None else float(bpm), features=feats)
    span_text = f"'{a.name}' {start:g}-{start + seconds:g} s"
    if float(np.abs(clip).max(initial=0.0)) < SILENCE_PEAK:
        return _grid(a, bpm, f"{span_text} is silent; keys are placed on a fixed "
                             f"{float(bpm or FALLBACK_BPM):g} BPM grid from 0 s")
    fr = feats.frame_rate
    if bpm is not None:
        period = np.full(len(feats.onset), 60.0 * fr / float(bpm))
    else:
        period = tempo_curve(feats.accent, fr)
    frames = track_beats(feats.onset, period)
    if len(frames) < 2 or not _clear(feats.onset, frames):
        return _grid(a, bpm, f"{span_text} has no clear beat; keys are placed on a fixed "
                             f"{float(bpm or FALLBACK_BPM):g} BPM grid from 0 s"
                             + ("" if bpm else " (set the tempo with --bpm)"))
    a.beats = frames / fr
    a.tempo = beat_tempo(a.beats) if bpm is None else float(bpm)
    phase = downbeat_phase(frames, feats.bass, feats.mel_db)
    a.downbeats = a.beats[phase::BEATS_PER_BAR]
    return a


PRE_ROLL_FRAMES = 8            # feature frames of sound before the span that are analysed and dropped


def span_features(song: Song, start: float, seconds: float) -> Features:
    """Features of [start, start + seconds), frame 0 at the span's start. Up to PRE_ROLL_FRAMES hops
    of the sound before it are analysed too and dropped, so a hit right on the span's start is seen
    (the first frames of an analysis only see its padding)."""
    lo = int(round(start * song.rate))
    pre = min(lo // HOP, PRE_ROLL_FRAMES) * HOP
    n = int(round(seconds * song.rate))
    f = spectral_features(song.samples[lo - pre: lo + n], song.rate)
    k = pre // HOP
    cut = (lambda a: a[k:]) if k else (lambda a: a)
    return Features(rate=f.rate, frame_rate=f.frame_rate, onset=cut(f.onset), accent=cut(f.accent), bass=cut(f.bass),
                    treble=cut(f.treble), mel_db=None if f.mel_db is None else cut(f.mel_db))


def _grid(a: Analysis, bpm: float | None, note: str) -> Analysis:
    a.tempo = float(bpm or FALLBACK_BPM)
    a.beats = fixed_grid(0.0, a.seconds, a.tempo)
    a.downbeats = a.beats[::BEATS_PER_BAR]
    a.fixed = True
    a.notes.append(note)
    return a


def _clear(onset: np.ndarray, frames: np.ndarray) -> bool:
    """Do the beats stand out: the median beat well above the average onset strength, and a real rise in level?"""
    at = np.array([onset[max(0, b - 1): b + 2].max() for b in frames])
    typical = float(np.median(at))
    return bool(typical >= MIN_CONTRAST * float(onset.mean()) and typical >= MIN_ONSET_DB)


def beat_tempo(beats: np.ndarray) -> float:
    """BPM from beat times: 60 / the mean gap, the quarter longest and shortest gaps left out."""
    gaps = np.sort(np.diff(beats))
    k = len(gaps) // 4
    return float(60.0 / gaps[k: len(gaps) - k].mean())


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to about [0, 1] by the 5th and 95th percentiles."""
    lo, hi = np.percentile(x, [5, 95]) if len(x) else (0.0, 1.0)
    return np.clip((x - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
