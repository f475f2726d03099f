"""The render's music hook: options -> song analysis -> keys on beats, reactions, the mux arguments.

    track = prepare(opts, recorded)            # None without --audio; analyses (or replays) the song
    paths = plan_paths(G, cell_opts, track)    # plan_path with the beat timing, then reactions
    audio_in, audio_out = mux_args(song, start, seconds)   # for the MP4's ffmpeg process

`recorded` is what a sidecar (render --from) or a latents file recorded under path.audio: when the
request (song, span, tempo) is the same, its beats are replayed as they were, and a song whose
SHA-256 differs from the recorded one is named in a note.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from ..errors import WaifuError
from .analysis import Analysis, analyze
from .decode import read_song
from .plan import KeyPlan, plan_keys
from .react import REACTIONS, frame_envelopes, with_reactions

AAC_BITRATE = "192k"
MUSIC_FIELDS = ("beats_per_key", "bars", "bpm", "react_pulse", "react_bass", "react_treble")


@dataclass
class Track:
    analysis: Analysis | None            # None for --from-latents (the replayed file has its own timing)
    plan: KeyPlan | None                 # ... and so no plan either
    song: str                            # the file muxed
    sha256: str = ""
    notes: list[str] = field(default_factory=list)

    def latents_notes(self, path) -> list[str]:
        """--from-latents: a note when the song differs from the one the latents file recorded."""
        if self.plan is not None:
            return []
        rec = path.params.get("audio") if isinstance(getattr(path, "params", None), dict) else None
        if not isinstance(rec, dict):
            return ["the latents file records no song; the song is muxed from --audio-start as given"]
        if rec.get("sha256") != self.sha256:
            return [f"the song '{os.path.basename(self.song)}' is not the one the latents file was saved with "
                    f"(SHA-256 {self.sha256[:12]}... != {str(rec.get('sha256'))[:12]}...); it is muxed as it is now"]
        return []

    def record(self, opts) -> dict:
        rec = self.analysis.record()
        rec["request"] = request_of(opts)
        if self.plan is not None:
            rec["plan"] = self.plan.record()
        return rec


def request_of(opts) -> dict:
    return {"audio": os.path.abspath(opts.audio), "audio_start": float(opts.audio_start or 0.0),
            "audio_seconds": None if opts.audio_seconds is None else float(opts.audio_seconds),
            "bpm": None if opts.bpm is None else float(opts.bpm)}


def check_music_options(opts) -> None:
    """Music flags without --audio, and reaction numbers, as one-line errors."""
    if not opts.audio:
        used = [f for f in MUSIC_FIELDS if getattr(opts, f) not in (None, 0, 0.0)]
        if used:
            raise WaifuError(f"--{used[0].replace('_', '-')} needs a song: add --audio SONG (mp3, wav, flac, m4a, ogg)")
        return
    if not isinstance(opts.audio, (str, os.PathLike)):
        raise WaifuError(f"--audio must be the path of a song file, got {opts.audio!r}")
    for name in ("beats_per_key", "bars"):
        v = getattr(opts, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or v < 1):
            raise WaifuError(f"--{name.replace('_', '-')} must be a whole number >= 1, got {v!r}")
    if opts.bpm is not None and (isinstance(opts.bpm, bool) or not isinstance(opts.bpm, (int, float))):
        raise WaifuError(f"--bpm must be beats per minute, e.g. --bpm 120; got {opts.bpm!r}")
    if opts.beats_per_key is not None and opts.bars is not None:
        raise WaifuError("--beats-per-key and --bars both place the keys; give one of them")
    if isinstance(opts.hold, (list, tuple)) and not opts.from_latents:
        raise WaifuError("keys on the beats of a song take one --hold for every key, not one per key; "
                         "give one number (e.g. --hold 0.25)")
    for name in ("audio_start", "audio_seconds", "react_pulse", "react_bass", "react_treble", "react_attack",
                 "react_decay"):
        if name == "audio_seconds" and opts.audio_seconds is None:
            continue
        v = getattr(opts, name)
        try:
            ok = float(v) >= 0 and float(v) < float("inf")
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise WaifuError(f"--{name.replace('_', '-')} must be a number >= 0, got {v!r}")
    if opts.durations is not None or opts.frames is not None:
        raise WaifuError("--audio places the keys on the beats; drop --frames / --durations "
                         "(use --beats-per-key or --bars to set the pace)")


def check_song(opts) -> None:
    """Without analysing it: the music options, and that the song exists, decodes and reaches the
    span's start (batch --dry-run, reels)."""
    from .decode import check_span

    check_music_options(opts)
    if opts.audio:
        start = float(opts.audio_start or 0.0)
        seconds = None if opts.audio_seconds is None else float(opts.audio_seconds)
        song = read_song(opts.audio, until=start + (seconds or 0.0) + 1.0)
        check_span(song, start, seconds)


def recorded_audio(data: dict | None) -> dict | None:
    """path.audio of a sidecar (a grid records one description per cell) or a latents file's params."""
    if not isinstance(data, dict):
        return None
    path = data.get("path", data)
    if isinstance(path, list):
        path = path[0] if path else None
    rec = path.get("audio") if isinstance(path, dict) else None
    return rec if isinstance(rec, dict) else None


def prepare(opts, recorded: dict | None = None) -> Track | None:
    """Analyse the song of opts.audio (or replay the recorded analysis); None without --audio."""
    from ..files import sha256_file

    check_music_options(opts)
    if not opts.audio:
        return None
    notes: list[str] = []
    if opts.from_latents:                 # the frames are replayed: the song is only muxed (checked, hashed)
        song = read_song(opts.audio, until=float(opts.audio_start or 0.0) + 1.0)
        from .decode import check_span

        check_span(song, float(opts.audio_start or 0.0), None)
        return Track(analysis=None, plan=None, song=song.path, sha256=sha256_file(song.path))
    span = None if opts.audio_seconds is None else float(opts.audio_start or 0.0) + float(opts.audio_seconds)
    song = read_song(opts.audio, until=None if span is None else span + 1.0)     # only as far as the clip needs
    if recorded and recorded.get("request") == request_of(opts):
        sha = sha256_file(song.path)
        if sha != recorded.get("sha256"):
            notes.append(f"the song '{os.path.basename(song.path)}' changed since it was recorded (SHA-256 "
                         f"{sha[:12]}... != {str(recorded.get('sha256'))[:12]}...); the recorded beats are replayed, "
                         f"the song muxed is the file as it is now")
        analysis = Analysis.from_record(recorded, song, sha)
    else:
        analysis = analyze(song, start=opts.audio_start or 0.0, seconds=opts.audio_seconds, bpm=opts.bpm)
    notes += analysis.notes
    plan = plan_keys(analysis, float(opts.fps), beats_per_key=opts.beats_per_key, bars=opts.bars,
                     loop=bool(opts.loop), hold=float(opts.hold or 0.0))
    notes += plan.notes
    return Track(analysis=analysis, plan=plan, song=song.path, sha256=analysis.sha256, notes=notes)


def plan_paths(G, cells: list, track: Track | None, opts) -> list:
    """One LatentPath per grid cell: keys on the beats, reactions on top, the analysis in params."""
    from ..paths import plan_path

    if track is None:
        return [plan_path(G, o) for o in cells]
    if track.plan is None:                                   # --from-latents: its own frames
        return [plan_path(G, o) for o in cells]
    env = None
    strengths = {name: float(getattr(opts, f"react_{name}") or 0.0) for name in REACTIONS}
    out = []
    for o in cells:
        spec = o.path_spec()
        spec = dataclasses.replace(spec, timing=dataclasses.replace(spec.timing, key_timing=track.plan.timing))
        path = plan_path(G, o.keys, spec)
        assert path.num_frames == track.plan.num_frames, (path.num_frames, track.plan.num_frames)
        if any(strengths.values()):
            if env is None:
                env = frame_envelopes(track.analysis.features, path.fps, path.num_frames,
                                      float(opts.react_attack), float(opts.react_decay))
            path = with_reactions(path, env, strengths, G.w_avg)
        path.params["audio"] = track.record(opts)
        out.append(path)
    return out


def mux_args(song: str, start: float, seconds: float) -> tuple[list[str], list[str]]:
    """ffmpeg (extra input, output) arguments that add [start, start + seconds) of the song as AAC."""
    inputs = ["-ss", f"{float(start):.6f}", "-t", f"{float(seconds):.6f}", "-i", os.fspath(song)]
    outputs = ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", AAC_BITRATE]
    return inputs, outputs


def silent_note(kind: str, song: str) -> str | None:
    """The one line for outputs that cannot carry sound."""
    if kind == "mp4":
        return None
    what = {"gif": "a GIF", "webp": "a WebP", "frames": "PNG frames"}.get(kind, kind)
    return (f"{what} carries no sound: '{os.path.basename(song)}' sets the timing only (write .mp4 to hear it)")


def with_song_path(opts, track: Track | None):
    """opts with audio set to the file actually muxed (an absolute path, as the sidecar records it)."""
    if track is None:
        return opts
    return dataclasses.replace(opts, audio=os.path.abspath(track.song))
