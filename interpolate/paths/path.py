"""`LatentPath`: the whole motion of a morph as data, evaluated lazily in chunks.

    path = plan_path(G, keys, spec)           # interpolate.paths.plan_path
    for start in range(0, path.num_frames, 16):
        frames = path.chunk(start, start + 16)   # Frames: ws [n, num_ws, w_dim] float32, noise, noise_mode
        img = G.synthesis(frames.ws.to(dev), noise_mode=frames.noise_mode, noise=frames.noise_on(dev))

Nothing per frame is stored: ws are computed on demand in aligned blocks of BLOCK frames (so the
result of any frame never depends on how the caller chunks), noise per frame from (seed, frame).
`save_latents` streams every frame's ws into an .npz; `from_latents` memory-maps it back and replays
it bit for bit.

Everything the renderer draws (a LatentPath, a reel's chained paths, a mix-figure cell) has the
`RenderablePath` surface: num_frames, fps, chunk(start, stop), label(frame), describe().
"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch

from ..errors import WaifuError
from ..files import atomic_path
from .interp import Curve, easing
from ..files import NUMPY_READ_ERRORS
from .noise import NoiseSchedule
from .styles import StylePlan, mix_layers
from .timing import ArcTable, Timeline
from .truncation import psi_schedule, truncate

BLOCK = 64                      # ws are computed in aligned blocks of this many frames
LATENTS_FORMAT = "waifu-morph-latents"
LATENTS_VERSION = 1


@dataclass
class Frames:
    """A run of consecutive frames [start, start + n)."""
    start: int
    ws: torch.Tensor                     # [n, num_ws, w_dim] float32, truncation applied
    noise: list[torch.Tensor] | None     # None, or one [n, 1, H, W] per G.noise_shapes
    noise_mode: str                      # what to pass to G.synthesis(noise_mode=...)

    def __len__(self) -> int:
        return self.ws.shape[0]

    @property
    def stop(self) -> int:
        return self.start + len(self)

    def noise_on(self, device) -> list[torch.Tensor] | None:
        return None if self.noise is None else [n.to(device, non_blocking=True) for n in self.noise]


@runtime_checkable
class RenderablePath(Protocol):
    """What render/ needs of a path: its length and rate, Frames by range, a caption, a description."""
    num_frames: int
    fps: float

    def chunk(self, start: int, stop: int) -> Frames: ...
    def label(self, frame: int) -> str: ...
    def describe(self) -> dict: ...


class LatentPath:
    """ws (and noise) for every frame of a morph. Build with `plan_path`, or `from_latents`."""

    def __init__(self, *, timeline: Timeline, noise: NoiseSchedule, num_ws: int, w_dim: int,
                 params: dict, key_labels: list[str], key_ws: np.ndarray, groups: dict[str, list[int]],
                 evaluate: Callable[[np.ndarray], np.ndarray] | None = None,
                 stored_ws: np.ndarray | None = None):
        self.timeline = timeline
        self.noise = noise
        self.num_ws = num_ws
        self.w_dim = w_dim
        self.params = params
        self.key_labels = list(key_labels)
        self.key_ws = key_ws                    # [K, num_ws, w_dim] float32, as shown at the key frames
        self.groups = groups
        self._evaluate = evaluate               # frame positions [n] -> ws [n, num_ws, w_dim] float32
        self._stored = stored_ws                # replay: [num_frames, num_ws, w_dim] (memory-mapped)
        self._cache: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()           # a renderer may prefetch chunks from another thread

    # --- shape of the clip -----------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.timeline.num_frames

    @property
    def fps(self) -> float:
        return self.timeline.fps

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def key_frames(self) -> np.ndarray:
        """Frame index at which each keyframe is shown exactly."""
        return self.timeline.key_frames

    def __len__(self) -> int:
        return self.num_frames

    def label(self, frame: int) -> str:
        """A caption for one frame: the key's label on a key ('17'), 'a → b' during a transition."""
        seg, f = self.timeline.locate(np.asarray([frame]))
        i, K = int(seg[0]), len(self.key_labels)
        if f[0] == 0:
            return self.key_labels[i]
        return f"{self.key_labels[i]} → {self.key_labels[(i + 1) % K]}"

    def __repr__(self) -> str:
        return (f"LatentPath({self.num_frames} frames at {self.fps:g} fps, {len(self.key_labels)} keys, "
                f"interp={self.params.get('interp')}, style={self.params.get('style')})")

    # --- evaluation --------------------------------------------------------------------------------
    def _block(self, b: int) -> np.ndarray:
        with self._lock:
            return self._block_locked(b)

    def _block_locked(self, b: int) -> np.ndarray:
        if b not in self._cache:
            lo, hi = b * BLOCK, min((b + 1) * BLOCK, self.num_frames)
            ws = self._evaluate(np.arange(lo, hi, dtype=np.float64))
            assert ws.shape == (hi - lo, self.num_ws, self.w_dim) and ws.dtype == np.float32
            if len(self._cache) >= 2:
                self._cache.pop(next(iter(self._cache)))
            self._cache[b] = ws
        return self._cache[b]

    def ws_frames(self, start: int, stop: int) -> np.ndarray:
        """ws of frames [start, stop) as float32 numpy [n, num_ws, w_dim]."""
        if not 0 <= start <= stop <= self.num_frames:
            raise IndexError(f"frames [{start}, {stop}) outside [0, {self.num_frames})")
        if self._stored is not None:
            return np.array(self._stored[start:stop], dtype=np.float32)
        if start == stop:
            return np.zeros((0, self.num_ws, self.w_dim), np.float32)
        parts = []
        for b in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            lo = b * BLOCK
            parts.append(self._block(b)[max(start - lo, 0): min(stop - lo, BLOCK)])
        return np.concatenate(parts)

    def chunk(self, start: int, stop: int) -> Frames:
        """Frames [start, stop) (stop is clipped to num_frames)."""
        stop = min(stop, self.num_frames)
        ws = torch.from_numpy(self.ws_frames(start, stop))
        return Frames(start, ws, self.noise.frames(start, stop), self.noise.synthesis_mode)

    def chunks(self, size: int):
        """Iterate Frames of at most `size` frames over the whole clip."""
        for start in range(0, self.num_frames, size):
            yield self.chunk(start, start + size)

    def ws_at(self, t: float | np.ndarray) -> torch.Tensor:
        """ws at any time(s) t in seconds (between frames too), [n, num_ws, w_dim] float32."""
        if self._evaluate is None:
            raise WaifuError("a replayed latents file only has whole frames; use chunk(start, stop)")
        pos = np.atleast_1d(np.asarray(t, dtype=np.float64)) * self.fps
        return torch.from_numpy(self._evaluate(pos))

    # --- save / replay -------------------------------------------------------------------------------
    def describe(self) -> dict:
        """Everything about the path, JSON-ready (for the sidecar)."""
        return {**self.params, "num_frames": self.num_frames, "key_labels": self.key_labels,
                "key_frames": self.key_frames.tolist(), "groups": self.groups}

    def save_latents(self, path: str, chunk_size: int = BLOCK) -> str:
        """Write ws per frame, key frames, times, groups and all parameters to an .npz, streaming.

        The ws array is stored uncompressed so `from_latents` can memory-map it. Written through
        interpolate.files.atomic_path (temp file beside it, renamed when complete).
        """
        path = os.fspath(path)
        if not path.lower().endswith(".npz"):
            raise WaifuError(f"--save-latents needs a .npz file name, got '{path}'")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise WaifuError(f"folder '{folder}' for --save-latents does not exist; create it first")
        n = self.num_frames
        meta = {"format": LATENTS_FORMAT, "version": LATENTS_VERSION, "num_ws": self.num_ws, "w_dim": self.w_dim,
                "fps": self.fps, "hold_frames": _jsonable_hold(self.timeline.hold_frames),
                "seg_frames": list(self.timeline.seg_frames), "loop": self.timeline.loop,
                "lead_frames": self.timeline.lead_frames, "tail_frames": self.timeline.tail_frames,
                "noise": self.noise.params(), "params": self.params, "groups": self.groups,
                "key_labels": self.key_labels}
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                with zf.open(_member("ws.npy"), "w", force_zip64=True) as fp:
                    np.lib.format.write_array_header_2_0(
                        fp, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
                             "shape": (n, self.num_ws, self.w_dim)})
                    for start in range(0, n, chunk_size):
                        fp.write(np.ascontiguousarray(self.ws_frames(start, min(start + chunk_size, n)), "<f4").tobytes())
                small = {"key_frames": self.key_frames.astype(np.int64),
                         "times": np.arange(n, dtype=np.float64) / self.fps,
                         "key_ws": self.key_ws.astype(np.float32),
                         "key_labels": np.array(self.key_labels, dtype=str),
                         "meta": np.array(json.dumps(meta))}
                for name, arr in small.items():
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
                    zf.writestr(_member(name + ".npy"), buf.getvalue())
        return path

    @classmethod
    def from_latents(cls, path: str, G=None) -> "LatentPath":
        """Replay a file written by `save_latents` (ws memory-mapped, noise recomputed from its seed)."""
        path = os.fspath(path)
        name = os.path.basename(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                key_frames = data["key_frames"]
                key_ws = data["key_ws"]
                key_labels = [str(s) for s in data["key_labels"]]
        except (KeyError, *NUMPY_READ_ERRORS):
            raise WaifuError(f"'{name}' is not a latents file written by --save-latents; render it with --keys instead") from None
        if not isinstance(meta, dict) or meta.get("format") != LATENTS_FORMAT or meta.get("version") != LATENTS_VERSION:
            raise WaifuError(f"'{name}' is not a waifu-morph latents file (version {LATENTS_VERSION}); save it again with --save-latents")
        try:
            return cls._replay(path, name, meta, key_frames, key_ws, key_labels, G)
        except (KeyError, AttributeError, OverflowError, IndexError, *NUMPY_READ_ERRORS):
            raise WaifuError(f"'{name}' is damaged (its plan cannot be read); save it again with --save-latents") from None

    @classmethod
    def _replay(cls, path: str, name: str, meta: dict, key_frames, key_ws, key_labels, G) -> "LatentPath":
        """The LatentPath a latents file records; a malformed record raises KeyError/TypeError/ValueError."""
        num_ws, w_dim = int(meta["num_ws"]), int(meta["w_dim"])
        if G is not None and (G.num_ws, G.w_dim) != (num_ws, w_dim):
            raise WaifuError(f"'{name}' holds ws of shape [{num_ws}, {w_dim}] but this model needs "
                             f"[{G.num_ws}, {G.w_dim}]; render it with the checkpoint it was saved from")
        noise_p = meta["noise"]
        if G is not None and [list(s) for s in G.noise_shapes] != noise_p["shapes"] and noise_p["mode"] in ("random", "smooth"):
            raise WaifuError(f"'{name}' was saved for noise inputs {noise_p['shapes']}, this model has "
                             f"{[list(s) for s in G.noise_shapes]}; render it with the checkpoint it was saved from")
        damaged = f"'{name}' is damaged (its plan is not one --save-latents writes); save it again with --save-latents"
        fps, seg = float(meta["fps"]), tuple(int(f) for f in meta["seg_frames"])
        hold = _read_hold(meta["hold_frames"])         # one int (every key; files before per-key hold) or one per key
        lead, tail = int(meta.get("lead_frames", 0)), int(meta.get("tail_frames", 0))
        groups, params = meta["groups"], meta["params"]
        keys = len(seg) if bool(meta["loop"]) else len(seg) + 1
        if not (np.isfinite(fps) and fps > 0 and min(hold) >= 0 and len(hold) in (1, keys) and lead >= 0 and tail >= 0 and seg and min(seg) >= 1
                and isinstance(params, dict) and isinstance(groups, dict)
                and all(isinstance(v, list) and all(isinstance(i, int) and 0 <= i < num_ws for i in v) for v in groups.values())
                and key_ws.dtype == np.float32 and key_ws.ndim == 3 and key_ws.shape[1:] == (num_ws, w_dim)
                and len(key_labels) == key_ws.shape[0]):
            raise WaifuError(damaged)
        timeline = Timeline(fps=fps, hold_frames=hold[0] if len(hold) == 1 else hold, seg_frames=seg, loop=bool(meta["loop"]),
                            lead_frames=lead, tail_frames=tail)
        ws = _map_npy_member(path, "ws.npy")
        if ws.dtype != np.float32:
            raise WaifuError(f"'{name}' holds ws as {ws.dtype}; save it again with --save-latents")
        if ws.shape != (timeline.num_frames, num_ws, w_dim):
            raise WaifuError(f"'{name}' is damaged: ws has shape {list(ws.shape)}; save it again with --save-latents")
        if not np.array_equal(key_frames, timeline.key_frames):
            raise WaifuError(f"'{name}' is damaged: its key frames do not match its timing; save it again with --save-latents")
        return cls(timeline=timeline, noise=NoiseSchedule.from_params(noise_p), num_ws=num_ws, w_dim=w_dim,
                   params={**meta["params"], "from_latents": os.path.abspath(path)}, key_labels=key_labels,
                   key_ws=key_ws, groups=meta["groups"], stored_ws=ws)


def _jsonable_hold(hold: int | tuple[int, ...]) -> int | list[int]:
    return list(hold) if isinstance(hold, tuple) else int(hold)


def _read_hold(value) -> tuple[int, ...]:
    """meta hold_frames (an int, or a list of ints) -> a tuple; anything else raises ValueError."""
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError("hold_frames")
    return tuple(values)


def _member(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date, so the same path gives the same latents file byte for byte."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o600 << 16
    return info


def _map_npy_member(path: str, member: str) -> np.ndarray:
    """Memory-map an uncompressed .npy inside a zip (falls back to reading it when compressed)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            with zf.open(member) as fp:
                return np.lib.format.read_array(fp, allow_pickle=False)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if fortran or dtype != np.dtype("<f4"):
        raise WaifuError(f"'{os.path.basename(path)}' holds ws as {dtype}; save it again with --save-latents")
    return np.memmap(path, dtype=dtype, mode="r", shape=tuple(shape), offset=offset)


# --- the planned path's evaluator ------------------------------------------------------------------
class PathEvaluator:
    """Frame positions -> ws: timeline -> (segment, fraction) -> per-group easing/pace -> curve -> W."""

    def __init__(self, *, timeline: Timeline, curve: Curve, to_w: Callable[[np.ndarray], np.ndarray] | None,
                 key_ws: np.ndarray, base_w: np.ndarray, style: StylePlan, stagger: float, easing_name: str,
                 arc: ArcTable | None, w_avg: torch.Tensor, psi: float, psi_end: float | None, cutoff: int | None,
                 walks: tuple = ()):
        self.timeline = timeline
        self.walks = tuple(walks)           # directions.walk.DirectionWalk each (see edit)
        self.curve = curve                  # in W ([K, num_ws, w_dim]) or in Z ([K, 1, z_dim])
        self.to_w = to_w                    # None in W space; Z points [n, z_dim] -> W [n, num_ws, w_dim]
        self.key_ws = key_ws                # [K, num_ws, w_dim] float64, untruncated, base layers filled in
        self.base_w = base_w                # [num_ws, w_dim] float64
        self.style = style
        self.windows = style.windows(stagger)
        self.ease = easing(easing_name)
        self.arc = arc
        self.w_avg = w_avg.detach().float().cpu()
        self.psi, self.psi_end, self.cutoff = psi, psi_end, cutoff

    def params_of(self, seg: np.ndarray, f: np.ndarray, window: tuple[float, float]) -> np.ndarray:
        """Curve parameter of one layer group: its window of the transition, eased, then paced."""
        start, length = window
        local = np.clip((f - start) / length, 0.0, 1.0)
        local = np.where(f == 0, 0.0, local)
        s = self.ease(local)
        return self.arc.param(seg, s) if self.arc is not None else s

    def edit(self, pos: np.ndarray, ws: np.ndarray) -> np.ndarray:
        """Changes to the untruncated ws [n, num_ws, w_dim] at frame positions `pos`: each direction walk
        adds strength(frame) * direction on its own layers; several add up, in order."""
        for walk in self.walks:
            ws = ws + walk.offsets(pos, self.timeline.num_frames, ws.shape[1])
        return ws

    def points(self, seg: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Untruncated W [n, num_ws, w_dim] of the curve at (seg, s)."""
        p = self.curve(seg, s)
        return p if self.to_w is None else self.to_w(p[:, 0])

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        seg, f = self.timeline.locate(pos)
        n = len(seg)
        ws = np.broadcast_to(self.base_w, (n,) + self.base_w.shape)
        for (_, layers), window in zip(self.style.groups, self.windows):
            ws = mix_layers(ws, self.points(seg, self.params_of(seg, f, window)), layers)
        ws = np.array(ws, copy=True, order="C")
        at_key = f == 0
        if at_key.any():   # keys exactly, whatever the arithmetic or batch did
            ws[at_key] = self.key_ws[seg[at_key] % len(self.key_ws)]
        ws = self.edit(pos, ws)
        out = torch.from_numpy(ws.astype(np.float32))
        psi = psi_schedule(self.psi, self.psi_end, self.timeline.num_frames, self.timeline.loop, pos)
        return truncate(out, self.w_avg, psi, self.cutoff).numpy()
