"""Reels: a sequence of segments (own keys, style, timing, preset, title) rendered as one video.

    [reel]                          # the whole video: checkpoint, output, size, fps, psi, noise ...
    checkpoint = "checkpoints/chibi-64.pt"
    output = "reel.mp4"
    preset = "reel-vertical"

    [[segment]]
    keys = "3,17,42"
    preset = "color-cycle"          # only its path shape is used (style, interp, easing, timing ...)
    title = "Colours"               # optional title over the segment's first seconds
    duration = 4.0                  # seconds for the whole segment (or: seconds per transition)

    [[segment]]
    keys = "8"                      # starts where the previous segment ended, then travels to 8
    style = "coarse"

Joins: the path continues through each join. Segment n+1 starts exactly at the last frame of
segment n (its first key is that frame; repeating the previous last key is allowed and dropped),
and the layers a segment does not move keep the values they have there, so nothing jumps. Adjacent
segments with the same path shape (style, layers, interp, easing, pace, stagger, hold) are planned as
ONE path, so a cubic or Catmull-Rom curve runs C1 through their joins. Where the style changes, the
moving layers change; the join is then continuous in position, and C1 when the segments' easing
starts and ends at rest (smoothstep, sine, cubic).

Per-key hold: a segment's `hold = [0, 1.5, 0]` gives one hold per key it lists, in order (an entry
of a repeated previous last key, which is dropped, is not used: that key was already held). A group
that holds per key starts its join key with no hold: the previous group ended on that key's hold.
Keys on a song's beats take one number.

Reel-wide only (a segment cannot change them without a jump): checkpoint, psi, cutoff, noise, class,
fps and every output field. `loop` is not used in reels. A [reel] song (audio, audio_start,
audio_seconds) is muxed; beat keys (beats_per_key / bars) and reactions come from batch/reel_music.py.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import WaifuError
from ..options import RenderOptions
from .. import presets as P
from .jobs import _preset_ref, absolute_paths
from .titles import draw_title

SEGMENT_FIELDS = ("keys", "shuffle_seed", "interp", "easing", "seconds", "frames", "durations", "hold", "pace",
                  "style", "layers", "stagger")
SHAPE_FIELDS = ("style", "layers", "interp", "easing", "pace", "stagger", "hold")   # same shape -> one path
SEGMENT_EXTRA = ("preset", "title", "title_seconds", "duration", "name")
TITLE_SECONDS = 2.0
FADE_SECONDS = 0.35


@dataclass
class Segment:
    index: int
    options: RenderOptions            # reel options with this segment's path fields applied
    title: str | None
    title_seconds: float
    duration: float | None            # seconds for the whole segment (split over its transitions)


@dataclass
class Reel:
    path: Path
    options: RenderOptions            # reel-wide options (output, size, fps, psi, noise, checkpoint ...)
    segments: list[Segment]


# --- reading -----------------------------------------------------------------------------------------
def load_reel(path: str | os.PathLike) -> Reel:
    """Read and check a reel TOML file (one-line errors naming the file, segment and key)."""
    path = Path(path)
    data = P.read_toml(path, "reel file")
    unknown = set(data) - {"reel", "segment", "segments"}
    if unknown:
        raise WaifuError(f"reel file '{path}' has unknown top-level key(s) {', '.join(sorted(unknown))}; "
                         f"use a [reel] table and [[segment]] tables")
    head = dict(data.get("reel", {}))
    rows = data.get("segment", data.get("segments", []))
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise WaifuError(f"reel file '{path}' has no segments; add [[segment]] tables with keys = \"3,17\"")
    base_dir = path.resolve().parent
    where = f"[reel] of '{path}'"
    reel_preset = head.pop("preset", None)
    head.pop("description", None)
    head_values = P.check_values(head, where)
    if "keys" in head_values:
        raise WaifuError(f"'keys' in {where} belong to the segments; give each [[segment]] its own keys")
    opts = RenderOptions(output=str(Path(path.stem + ".mp4")))
    if reel_preset:
        reel_preset = _preset_ref(str(reel_preset), base_dir)
    opts = P.layered(opts, (reel_preset, head_values, where))
    opts = dataclasses.replace(absolute_paths(opts, base_dir), loop=False, durations=None, psi_end=None,
                               base=None, from_latents=None, save_latents=None, space="auto")
    segments = []
    for i, row in enumerate(rows):
        where = f"segment {i + 1} of '{path}'"
        row = dict(row)
        row.pop("description", None)
        extra = {k: row.pop(k) for k in SEGMENT_EXTRA if k in row}
        values = P.check_values(row, where)
        for key in values:
            if key not in SEGMENT_FIELDS:
                raise WaifuError(f"'{key}' in {where} is reel-wide (a segment cannot change it without a jump); "
                                 f"move it to [reel]")
        seg_opts = opts
        if extra.get("preset"):
            shape = {k: v for k, v in P.resolve(_preset_ref(str(extra["preset"]), base_dir)).items() if k in SEGMENT_FIELDS}
            seg_opts = seg_opts.updated(shape, source=f"preset '{extra['preset']}'")
        seg_opts = absolute_paths(seg_opts.updated(values, source=where), base_dir)
        if not seg_opts.keys:
            raise WaifuError(f"{where} has no keys; give it keys = \"3,17\" (a later segment may give one key)")
        title = extra.get("title")
        if title is not None and not isinstance(title, str):
            raise WaifuError(f"'title' in {where} must be a string, got {title!r}")
        title_seconds = _number(extra.get("title_seconds", TITLE_SECONDS), "title_seconds", where)
        duration = extra.get("duration")
        if duration is not None:
            duration = _number(duration, "duration", where)
            if duration <= 0:
                raise WaifuError(f"'duration' in {where} must be > 0 seconds, got {duration}")
        segments.append(Segment(index=i, options=seg_opts, title=title, title_seconds=title_seconds,
                                duration=duration))
    return Reel(path=path, options=opts, segments=segments)


def _number(value, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WaifuError(f"'{key}' in {where} must be a number of seconds, got {value!r}")
    return float(value)


# --- planning ---------------------------------------------------------------------------------------
@dataclass
class PlannedGroup:
    """Consecutive segments with one path shape, planned as one LatentPath."""
    segments: list[Segment]
    path: object                       # LatentPath
    first_frame: int                   # frame of the reel at which this group's frame 0 is shown


class ReelPath:
    """The chained paths of a reel (a paths.RenderablePath).

    Frames of group g > 0 start at its frame 1 (its frame 0 is the previous group's last frame).
    Noise runs over the whole reel from one schedule, so it does not restart at a join.
    """

    def __init__(self, groups: list[PlannedGroup], noise, fps: float, titles: list[tuple[int, int, str]]):
        self.groups = groups
        self.noise = noise
        self._fps = float(fps)
        self.titles = titles                            # (start frame, frames, text)
        self.num_frames = groups[-1].first_frame + groups[-1].path.num_frames
        self.key_labels = [lab for g in groups for lab in (g.path.key_labels if g is groups[0] else g.path.key_labels[1:])]
        self.num_ws, self.w_dim = groups[0].path.num_ws, groups[0].path.w_dim
        self.audio: dict | None = None                  # the song's analysis (batch.reel_music), for the sidecar

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def _locate(self, frame: int) -> tuple[PlannedGroup, int]:
        for g in reversed(self.groups):
            if frame >= g.first_frame:
                return g, frame - g.first_frame
        raise IndexError(frame)

    def ws_frames(self, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= self.num_frames:
            raise IndexError(f"frames [{start}, {stop}) outside [0, {self.num_frames})")
        parts = []
        for g in self.groups:
            lo, hi = max(start, g.first_frame), min(stop, g.first_frame + g.path.num_frames)
            if g is not self.groups[0]:
                lo = max(lo, g.first_frame + 1)
            if lo < hi:
                parts.append(g.path.ws_frames(lo - g.first_frame, hi - g.first_frame))
        if not parts:
            return np.zeros((0, self.num_ws, self.w_dim), np.float32)
        return np.concatenate(parts)

    def chunk(self, start: int, stop: int):
        from ..paths import Frames
        stop = min(stop, self.num_frames)
        return Frames(start, torch.from_numpy(self.ws_frames(start, stop)), self.noise.frames(start, stop),
                      self.noise.synthesis_mode)

    def chunks(self, size: int):
        for start in range(0, self.num_frames, size):
            yield self.chunk(start, start + size)

    def label(self, frame: int) -> str:
        g, local = self._locate(frame)
        return g.path.label(local)

    def title_at(self, frame: int) -> tuple[str, float] | None:
        """(text, opacity 0..1) of the title shown on `frame`, or None."""
        for start, length, text in self.titles:
            if start <= frame < start + length:
                fade = max(1, int(round(FADE_SECONDS * self.fps)))
                k = frame - start
                return text, min(1.0, (k + 1) / fade, (length - k) / fade)
        return None

    @property
    def key_frames(self) -> np.ndarray:
        out = []
        for g in self.groups:
            kf = g.path.key_frames + g.first_frame
            out.extend(kf.tolist() if g is self.groups[0] else kf[1:].tolist())
        return np.asarray(out, dtype=np.int64)

    def describe(self) -> dict:
        return {"reel": True, "num_frames": self.num_frames, "fps": self.fps, "key_labels": self.key_labels,
                "key_frames": self.key_frames.tolist(),
                "groups": [{"first_frame": g.first_frame, "segments": [s.index for s in g.segments],
                            **{k: v for k, v in g.path.describe().items() if k not in ("keys",)}}
                           for g in self.groups],
                "titles": [list(t) for t in self.titles], **({"audio": self.audio} if self.audio else {})}


def shape_of(opts: RenderOptions) -> tuple:
    return tuple(getattr(opts, f) for f in SHAPE_FIELDS)


def group_segments(segments: list[Segment]) -> list[list[Segment]]:
    """Runs of adjacent segments with the same path shape (each run becomes one path)."""
    groups: list[list[Segment]] = []
    for seg in segments:
        if groups and shape_of(groups[-1][-1].options) == shape_of(seg.options):
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def plan_reel(G, reel: Reel, music=None) -> ReelPath:
    """Plan every group of segments for generator G and chain them into one ReelPath.

    Each group's keys go to plan_path as in-memory W values (paths.WKey), labelled as the reel shows them.
    `music` (batch.reel_music.ReelMusic) puts the keys on the song's beats and adds its reactions.
    """
    from ..paths import NoiseSchedule, WKey, load_keys, mix_layers, plan_path, resolve_style

    opts = reel.options
    fps = float(opts.fps)
    state: np.ndarray | None = None
    state_label = None
    planned: list[PlannedGroup] = []
    titles: list[tuple[int, int, str]] = []
    first_frame = 0
    runs = group_segments(reel.segments)
    for g, segs in enumerate(runs):
        head = segs[0].options
        moving = list(resolve_style(G, head.style, head.layers).moving)
        keys: list[WKey] = []
        holds: list[float] = []                 # per key of the group, when the segments hold per key
        per_key = isinstance(head.hold, (list, tuple))
        durations: list[float] = []
        seg_key_counts = []
        for seg in segs:
            where = f"segment {seg.index + 1} of '{reel.path}'"
            seg_keys = load_keys(G, seg.options.keys, seg.options.shuffle_seed, opts.class_idx)
            seg_holds = _segment_holds(seg, len(seg_keys), where)
            if per_key and music is not None and music.beats:
                raise WaifuError(f"'hold' in {where}: keys on the song's beats take one hold for every key; "
                                 f"give one number")
            if state is None:                       # the reel's first key: the whole w of key 0
                state, state_label = seg_keys[0].w.copy(), seg_keys[0].label
                keys.append(WKey(state.copy(), state_label))
                holds.append(seg_holds[0])
                seg_keys, seg_holds = seg_keys[1:], seg_holds[1:]
            else:
                if not keys:                        # a new group starts from where the reel is
                    keys.append(WKey(state.copy(), state_label))
                    holds.append(0.0)               # per-key holds: it was held at the end of the group before
                if seg_keys and seg_keys[0].label == state_label:
                    seg_keys, seg_holds = seg_keys[1:], seg_holds[1:]   # the previous segment's last key, repeated: drop it
            holds.extend(seg_holds)
            if not seg_keys:
                raise WaifuError(f"{where} has no key to travel to; give it at least one new key")
            for k in seg_keys:
                state = mix_layers(state, k.w, moving)
                keys.append(WKey(state.copy(), k.label))
                state_label = k.label
            seg_key_counts.append(len(seg_keys))
            if music is not None and music.beats and seg.duration is not None:
                raise WaifuError(f"'duration' in {where}: with beats_per_key / bars in [reel] the song's beats set "
                                 f"the timing; drop it")
            durations.extend(_segment_durations(seg, len(seg_keys), where))
        even = head.pace == "even"
        spec = dataclasses.replace(
            head, shuffle_seed=None, base=None, loop=False, space="w",
            durations=None if even else durations, frames=None,
            seconds=float(np.mean(durations)) if even else head.seconds,
            psi=opts.psi, psi_end=None, cutoff=opts.cutoff, noise="const", fps=fps, class_idx=opts.class_idx,
            hold=holds if per_key else head.hold).path_spec()
        if music is not None:
            spec = music.place(spec, len(keys), first_frame, g == len(runs) - 1, head.hold,
                               f"segment {segs[0].index + 1} of '{reel.path}'")
        path = plan_path(G, keys, spec)
        # where each segment starts: its first key's frame (key index = keys before it)
        starts, k = [], 0
        for n in seg_key_counts:
            starts.append(first_frame + int(path.key_frames[k]))
            k += n
        for seg, start in zip(segs, starts):
            if seg.title:
                titles.append((start, max(1, int(round(seg.title_seconds * fps))), seg.title))
        planned.append(PlannedGroup(segments=segs, path=path, first_frame=first_frame))
        first_frame += path.num_frames - 1
    total = planned[-1].first_frame + planned[-1].path.num_frames
    if music is not None:
        music.envelopes(total)
        for p in planned:
            p.path = music.react(G, p.path, p.first_frame)
    noise = NoiseSchedule(opts.noise, opts.noise_seed, G.noise_shapes, fps, total, False, float(opts.noise_drift))
    out = ReelPath(planned, noise, fps, titles)
    if music is not None:
        out.audio = music.record()
    return out


def _segment_holds(seg: Segment, num_keys: int, where: str) -> list[float]:
    """A segment's hold per key it lists (its number for every key, or its list: one per key)."""
    hold = seg.options.hold
    if not isinstance(hold, (list, tuple)):
        return [hold] * num_keys
    if len(hold) != num_keys:
        raise WaifuError(f"'hold' in {where} gives {len(hold)} holds for its {num_keys} keys; give one per key "
                         f"it lists, in order, or one number")
    return list(hold)


def _segment_durations(seg: Segment, transitions: int, where: str) -> list[float]:
    o = seg.options
    if seg.duration is not None:
        return [seg.duration / transitions] * transitions
    if o.durations is not None:
        if len(o.durations) != transitions:
            raise WaifuError(f"{where} gives {len(o.durations)} durations for {transitions} transitions; "
                             f"give one per transition")
        return [float(d) for d in o.durations]
    if o.frames is not None:
        return [int(o.frames) / float(o.fps)] * transitions
    return [float(o.seconds)] * transitions


# --- the `reel` command -----------------------------------------------------------------------------
def title_hook(path: ReelPath):
    """A frame hook for the renderer: (frame index, HxWx3 uint8) -> the frame with its title drawn."""
    def hook(index: int, frame: np.ndarray) -> np.ndarray:
        shown = path.title_at(index)
        return frame if shown is None else draw_title(frame, *shown)
    return hook if path.titles else None


def render_reel(G, reel: Reel, on_frames=None, console=None) -> int:
    """Plan and render a reel with a loaded generator; returns the number of frames written."""
    from . import render_api
    from .reel_music import reel_music

    music = reel_music(reel.options)            # [reel] audio: beat keys and reactions (None: muxed only)
    if music is not None and console is not None and not reel.options.quiet:
        from rich.markup import escape

        for note in music.notes():
            console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    path = plan_reel(G, reel, music)
    return render_api.render_path(G, path, reel.options, on_frames, frame_hook=title_hook(path))


def render_reel_file(reel_file, *, output: str | None = None, overwrite: bool = False, device: str | None = None,
                     quiet: bool = False, console=None) -> int:
    """`waifu-morph reel REEL.toml`: load the reel, its checkpoint once, and render it in one pass."""
    from . import render_api

    reel = load_reel(reel_file)
    changes: dict = {"quiet": quiet}
    if output is not None:
        changes["output"] = output
    if overwrite:
        changes["overwrite"] = True
    if device is not None:
        changes["device"] = device
    reel.options = reel.options.updated(changes)
    G = render_api.load_model(reel.options.checkpoint, reel.options.device)
    return render_reel(G, reel, console=console)
