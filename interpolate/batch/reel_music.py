"""A reel's song: keys of every segment on the beats (in reel time), reactions over the reel's frames.

    music = reel_music(reel.options)            # None without [reel] audio; analyses the song once
    spec = music.place(spec, keys, first_frame, last, where)   # per planned group: its KeyTiming
    path = music.react(G, path, first_frame)    # per group: the reactions of its frames of the reel
    music.total_frames                          # known once the last group is placed

The analysis and the key beats are render's own (audio.music.prepare -> audio.analysis.analyze and
audio.plan.plan_keys): the reel takes the span's key beats in order, one per key of the reel, so
segment k starts where segment k-1 ended, on a beat. Titles are drawn over the frames, so they take
no time of their own. With `audio_seconds` the reel lasts the span (the last key is held to its end);
without it, the reel ends on its last key's beat. Without beat keys (`beats_per_key` / `bars`) the
segments keep their durations and the song is only muxed (reactions still follow it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import WaifuError
from ..paths.timing import KeyTiming


class ReelMusic:
    def __init__(self, opts, track, analysis, beats: bool):
        self.opts = opts
        self.track = track                      # audio.music.Track (beat keys) or None
        self.analysis = analysis
        self.beats = beats
        self.fps = float(opts.fps)
        self.key_frames = track.plan.key_frames if beats else None
        self.used = 0                           # key beats taken so far
        self.total_frames: int | None = None
        self.strengths = {name: float(getattr(opts, f"react_{name}") or 0.0) for name in ("pulse", "bass", "treble")}
        self.env = None

    # --- keys on beats ---------------------------------------------------------------------------
    def place(self, spec, num_keys: int, first_frame: int, last: bool, hold_seconds: float, where: str):
        """spec with the KeyTiming that puts this group's keys on the next key beats."""
        if not self.beats:
            return spec
        hold = int(round(float(hold_seconds or 0.0) * self.fps))
        new = num_keys if self.used == 0 else num_keys - 1          # a later group's key 0 is the join
        if self.used + new > len(self.key_frames):
            a, plan = self.analysis, self.track.plan
            raise WaifuError(f"the reel's keys need more key beats than the span of '{a.name}' holds ({len(self.key_frames)} "
                             f"with one key every {plan.every}, {a.seconds:.2f} s); lower beats_per_key / bars or "
                             f"lengthen audio_seconds in [reel]")
        frames = self.key_frames[self.used:self.used + new].astype(np.int64)
        arrivals = frames if self.used == 0 else np.concatenate([[first_frame], frames])
        lead = int(frames[0]) if self.used == 0 else 0
        seg = np.diff(arrivals) - hold
        if len(seg) and seg.min() < 1:
            raise WaifuError(f"hold in {where} leaves no time to move between keys {self.track.plan.every} apart; "
                             f"lower hold or raise beats_per_key / bars in [reel]")
        self.used += new
        end = int(arrivals[-1]) + hold + 1                          # frames up to the last key's hold
        tail = 0
        if last:
            span = self.track.plan.num_frames if self.opts.audio_seconds is not None else end
            if end > span:
                raise WaifuError(f"hold in {where} runs past the end of the song's span; lower hold or lengthen "
                                 f"audio_seconds in [reel]")
            tail = span - end
            self.total_frames = span
        timing = KeyTiming(lead_frames=lead, seg_frames=tuple(int(s) for s in seg), tail_frames=int(tail),
                           hold_frames=hold)
        return dataclasses.replace(spec, timing=dataclasses.replace(spec.timing, key_timing=timing))

    # --- reactions --------------------------------------------------------------------------------
    @property
    def reacting(self) -> bool:
        return any(self.strengths.values())

    def envelopes(self, total: int) -> None:
        from ..audio.react import frame_envelopes

        if self.reacting:
            self.env = frame_envelopes(self.analysis.features, self.fps, total, float(self.opts.react_attack),
                                       float(self.opts.react_decay))

    def react(self, G, path, first_frame: int):
        """The group's path with the reactions of reel frames [first_frame, first_frame + its frames)."""
        from ..audio.react import with_reactions

        if self.env is None:
            return path
        part = {k: v[first_frame:first_frame + path.num_frames] for k, v in self.env.items()}
        assert all(len(v) == path.num_frames for v in part.values()), (first_frame, path.num_frames)
        return with_reactions(path, part, self.strengths, G.w_avg)

    def record(self) -> dict:
        """The sidecar's path.audio: the analysis (tempo, beats, downbeats, the span's plan, the song's SHA-256)."""
        from ..audio.music import request_of

        if self.track is not None:
            rec = self.track.record(self.opts)
        else:
            rec = self.analysis.record()
            rec["request"] = request_of(self.opts)
        rec["beat_keys"] = self.beats
        return rec

    def notes(self) -> list[str]:
        return list(self.track.notes) if self.track is not None else list(self.analysis.notes)


def reel_music(opts) -> ReelMusic | None:
    """Analyse the [reel] song when the reel needs it (beat keys or reactions); None otherwise (the song,
    if any, is then only checked and muxed)."""
    from ..audio.music import check_song, prepare

    if not opts.audio:
        from ..audio.music import check_music_options

        check_music_options(opts)               # music keys without audio: one line
        return None
    beats = opts.beats_per_key is not None or opts.bars is not None
    reacting = any(float(getattr(opts, f"react_{n}") or 0.0) for n in ("pulse", "bass", "treble"))
    check_song(opts)
    if not beats and not reacting:
        return None
    if beats:
        track = prepare(dataclasses.replace(opts, hold=0.0))    # render's analysis and key beats
        return ReelMusic(opts, track, track.analysis, True)
    from ..audio.analysis import analyze

    analysis = analyze(opts.audio, start=opts.audio_start or 0.0, seconds=opts.audio_seconds, bpm=opts.bpm)
    return ReelMusic(opts, None, analysis, False)
