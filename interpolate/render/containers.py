"""Container bytes: GIF frame delays (rewritten in the file), frame counts of MP4 and WebP files, and
the output kind from a file name.

    kind = output_kind('a.gif')                  # 'mp4' | 'gif' | 'webp' | 'frames'
    delays = set_gif_delays(path, fps)           # whole 1/100 s delays that keep the clip's pace
    n = frames_in_file(path, 'mp4', frames, fps, out_fps)
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from struct import error as struct_error

from ..errors import WaifuError

GIF_MAX_FPS = 50.0           # browsers draw delays under 2/100 s as 10/100 s


def gif_delays(num_frames: int, fps: float) -> list[int]:
    """Delays in 1/100 s whose running sums follow the clip's clock: round(100 * k / fps)."""
    edges = [round(100 * k / fps) for k in range(num_frames + 1)]
    return [b - a for a, b in zip(edges, edges[1:])]


def set_gif_delays(path: str, fps: float) -> list[int]:
    """Rewrite every frame delay of the GIF at `path` to `gif_delays(frames, fps)`; returns them.

    ffmpeg rounds each frame's time to 1/100 s on its own (12.5 -> 13, 13, ...: a clip at 8 fps ends
    up 1 % long); writing the delays from one clock makes them add up to the clip's duration."""
    import struct

    data = bytearray(Path(path).read_bytes())
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    gces: list[int] = []            # offsets of the delay field of each frame's graphic control extension
    frames = 0

    def skip(p: int) -> int:
        while data[p]:
            p += data[p] + 1
        return p + 1

    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:
            if data[pos + 1] == 0xF9:
                gces.append(pos + 4)
            pos = skip(pos + 2)
        elif data[pos] == 0x2C:
            frames += 1
            packed = data[pos + 9]
            pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
            pos = skip(pos + 1)
        else:
            raise WaifuError(f"ffmpeg wrote an unreadable GIF '{os.path.basename(path)}' (block 0x{data[pos]:02x})")
    if len(gces) != frames:
        raise WaifuError(f"ffmpeg wrote a GIF with {frames} frames but {len(gces)} delays; try --gif-quality normal")
    delays = gif_delays(frames, fps)
    for at, delay in zip(gces, delays):
        data[at:at + 2] = struct.pack("<H", delay)
    Path(path).write_bytes(bytes(data))
    return delays


def gif_fps(fps: float) -> tuple[float, str | None]:
    """(fps the GIF is drawn at, note for the user when that is not exactly what was asked)."""
    if fps > GIF_MAX_FPS:
        return GIF_MAX_FPS, (f"GIF players show at most {GIF_MAX_FPS:g} fps (delays of 2/100 s); "
                             f"frames dropped from {fps:g} to {GIF_MAX_FPS:g} fps")
    step = 100 / fps
    if abs(step - round(step)) > 1e-9:
        lo, hi = math.floor(step), math.ceil(step)
        return fps, (f"GIF delays are whole 1/100 s, so {fps:g} fps is shown as delays of {lo} and {hi}/100 s "
                     f"(average {fps:g} fps); {100 / hi:g} or {100 / lo:g} fps would be exact")
    return fps, None


def frames_kept(frames: int, fps: float, out_fps: float) -> int:
    """About the frames left after ffmpeg resamples a clip of `frames` at `fps` to `out_fps` (it keeps
    the frames at 0, 1/out_fps, ... up to the last input frame's time)."""
    if out_fps == fps:
        return frames
    return max(1, math.floor((frames - 1) * out_fps / fps + 1e-9) + 1)


def frames_in_file(path: str, kind: str, frames: int, fps: float, out_fps: float) -> int:
    """The frames ffmpeg wrote into an MP4 (its sample count) or an animated WebP (its ANMF chunks);
    the estimate of frames_kept if the file cannot be read that way."""
    if out_fps == fps:
        return frames
    try:
        data = Path(path).read_bytes()
        count = _webp_frames(data) if kind == "webp" else _mp4_samples(data)
    except (OSError, ValueError, IndexError, struct_error):
        count = None
    return count or frames_kept(frames, fps, out_fps)


def _webp_frames(data: bytes) -> int | None:
    import struct

    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    pos, count = 12, 0
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        count += data[pos:pos + 4] == b"ANMF"
        pos += 8 + size + (size & 1)
    return count


def _mp4_samples(data: bytes) -> int | None:
    """sample_count of the first track's stsz box (moov/trak/mdia/minf/stbl/stsz)."""
    import struct

    def child(start: int, end: int, name: bytes) -> tuple[int, int] | None:
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", data[pos:pos + 8])
            head = 8
            if size == 1:
                size, head = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
            elif size == 0:
                size = end - pos
            if size < head:
                return None
            if kind == name:
                return pos + head, pos + size
            pos += size
        return None

    span: tuple[int, int] | None = (0, len(data))
    for name in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz"):
        span = child(*span, name) if span else None
    if span is None:
        return None
    return struct.unpack(">I", data[span[0] + 8:span[0] + 12])[0]


# --- output kinds -----------------------------------------------------------------------------------
FILE_KINDS = {".mp4": "mp4", ".gif": "gif", ".webp": "webp"}


def output_kind(output: str) -> str:
    """'mp4' | 'gif' | 'webp' | 'frames' from the output's name."""
    text = str(output)
    if "%" in os.path.basename(text):
        if not re.search(r"%0?\d*d", os.path.basename(text)) or not text.lower().endswith(".png"):
            raise WaifuError(f"a frame pattern must look like frames/%05d.png, got '{text}'")
        return "frames"
    p = Path(text)
    if text.endswith(("/", os.sep)) or p.is_dir() or p.suffix == "":
        return "frames"
    kind = FILE_KINDS.get(p.suffix.lower())
    if kind is None:
        raise WaifuError(f"cannot write '{p.name}': the output must end in .mp4, .gif or .webp, "
                         f"or be a folder or a %05d.png pattern for PNG frames")
    return kind
