"""Encoders: uint8 RGB frames in, a finished MP4, GIF, WebP or PNG frames out.

Every encoder has the same surface, called from the renderer's writer thread:

    enc = make_encoder(kind, tmp_path, width, height, settings)   # settings: EncodeSettings
    enc.write(frame)            # HxWx3 uint8, in order
    result = enc.finish()       # EncodeResult: what was written (and what had to change)
    enc.abort()                 # on error / Ctrl-C: stop ffmpeg now (the caller removes the files)

MP4 streams raw RGB into one ffmpeg process. GIF and WebP (and MP4 with a size budget) stream into a
lossless FFV1 intermediate beside the output, then encode from it, as often as the size budget needs:
GIF palettes need the whole clip, and a budget needs a second try without rendering again.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from struct import error as struct_error

import numpy as np

from ..errors import WaifuError

CODECS = {"h264": "libx264", "h265": "libx265"}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
GIF_QUALITIES = ("normal", "hq")
GIF_MAX_FPS = 50.0           # browsers draw delays under 2/100 s as 10/100 s
MIN_BUDGET_WIDTH = 64        # --max-size never shrinks a clip narrower than this
MIN_BUDGET_FPS = 8.0         # ... nor below this frame rate
WEBP_QUALITY = 80
MIN_BITRATE = 20_000         # MP4 under --max-size: never ask x264 for less (bit/s)
AUDIO_BITRATE = 192_000      # a muxed song's AAC rate (audio/music.AAC_BITRATE); under --max-size a quarter of the budget


# --- ffmpeg -----------------------------------------------------------------------------------------
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg ships (or IMAGEIO_FFMPEG_EXE)."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = None
    if not exe or not os.path.exists(exe):
        raise WaifuError("ffmpeg was not found; reinstall it with 'pip install imageio-ffmpeg' "
                         "or point IMAGEIO_FFMPEG_EXE at an ffmpeg binary")
    return exe


def shown_name(path: str) -> str:
    """The output a temporary file or folder stands for: 'out/.a.gif.x1y2z3.part' -> 'out/a.gif'."""
    folder, name = os.path.split(os.fspath(path).rstrip("/" + os.sep))
    m = re.fullmatch(r"\.(.+)\.[^.]+\.part", name)
    return os.path.join(folder, m.group(1)) if m else os.fspath(path)


def ffmpeg_failure(stderr: str, target: str) -> WaifuError:
    """One line from ffmpeg's complaint: disk full, permission denied, or its last error line."""
    low = stderr.lower()
    name = os.path.basename(shown_name(target))
    if "no space left on device" in low:
        return WaifuError(f"the disk is full while writing '{name}'; free some space or write elsewhere with -o")
    if "permission denied" in low:
        return WaifuError(f"permission denied while writing '{name}'; choose a folder you can write with -o")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if "error" in ln.lower() or "invalid" in ln.lower()),
                lines[-1] if lines else "no message")
    return WaifuError(f"ffmpeg failed while writing '{name}': {last[:200]}")


def fps_fraction(fps: float) -> Fraction:
    """29.97 -> 30000/1001, 30 -> 30 (ffmpeg takes exact rationals)."""
    f = Fraction(float(fps)).limit_denominator(1001)
    return f if abs(float(f) - fps) < 1e-6 else Fraction(float(fps)).limit_denominator(100000)


def run_ffmpeg(args: list[str], target: str) -> None:
    """Run ffmpeg to completion; a failure becomes a one-line WaifuError."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, process_group=0)
    if proc.returncode != 0:
        raise ffmpeg_failure(proc.stderr.decode("utf-8", "replace"), target)


@contextmanager
def ctrl_c_deferred():
    """Hold a Ctrl-C until the block is done: a child process started inside is registered before the
    KeyboardInterrupt is raised, so it cannot be orphaned (and write a file after we cleaned up).

    The handler is swapped rather than the signal masked: a mask is per thread, and torch's threads
    would still take the signal and have the main thread raise mid-fork."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and previous is not signal.SIG_IGN:
            if callable(previous):
                previous(signal.SIGINT, None)      # Python's default handler raises KeyboardInterrupt
            else:
                raise KeyboardInterrupt


LIVE_PIPES: set["FFmpegPipe"] = set()     # running ffmpeg processes, until closed or killed


def stop_pipes_under(prefix: str) -> None:
    """Kill every running ffmpeg writing to `prefix` (a render's temp file or folder), e.g. one whose
    encoder object never reached the caller because Ctrl-C came while it was being made."""
    for pipe in [p for p in LIVE_PIPES if p.target.startswith(prefix)]:
        pipe.kill()


class FFmpegPipe:
    """An ffmpeg process reading raw rgb24 frames of one size from its stdin."""

    def __init__(self, width: int, height: int, fps: float, out_args: list[str], target: str,
                 extra_inputs: list[str] | tuple = ()):
        self.width, self.height, self.target = width, height, target
        self._err = tempfile.TemporaryFile()
        rate = fps_fraction(fps)
        # extra_inputs (e.g. a song span to mux, with its own -map in out_args) follow the frames
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(rate),
               "-i", "pipe:0", *(extra_inputs or ["-an"]), *out_args]
        try:
            # its own process group: a terminal's Ctrl-C reaches only us, and we stop ffmpeg (abort) rather
            # than it finishing a file on its own and the pipe breaking under the writer thread
            with ctrl_c_deferred():
                self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err,
                                             process_group=0)
                LIVE_PIPES.add(self)
        except OSError as exc:
            raise WaifuError(f"cannot start ffmpeg ({exc.strerror or exc}); reinstall imageio-ffmpeg") from None

    def write(self, frame: np.ndarray) -> None:
        assert frame.shape == (self.height, self.width, 3) and frame.dtype == np.uint8, frame.shape
        try:
            self.proc.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except (BrokenPipeError, ValueError, OSError):
            self.proc.wait()
            raise self._failure() from None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        returncode = self.proc.wait()
        LIVE_PIPES.discard(self)
        if returncode != 0:
            raise self._failure()
        self._err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        LIVE_PIPES.discard(self)
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._err.close()

    def _failure(self) -> WaifuError:
        self._err.seek(0)
        return ffmpeg_failure(self._err.read().decode("utf-8", "replace"), self.target)


# --- settings and results ---------------------------------------------------------------------------
@dataclass
class EncodeSettings:
    fps: float = 30.0
    crf: int = 18
    preset: str = "veryfast"
    codec: str = "h264"
    gif_quality: str = "normal"
    max_bytes: int | None = None
    audio_in: tuple[str, ...] = ()       # MP4: ffmpeg input arguments of a song span (audio/music.mux_args)
    audio_out: tuple[str, ...] = ()      # ... and the output arguments that map and encode it


@dataclass
class EncodeResult:
    path: str                       # the temporary file / folder that holds the result
    frames: int                     # frames in the file
    width: int
    height: int
    fps: float                      # frame rate actually used
    notes: list[str] = field(default_factory=list)    # what had to change (GIF fps, size budget)
    delays_cs: list[int] | None = None                  # GIF frame delays in 1/100 s

    @property
    def duration(self) -> float:
        return sum(self.delays_cs) / 100 if self.delays_cs else self.frames / self.fps


def parse_bytes(text: str | int | None) -> int | None:
    """'15MB' -> 15_000_000, '800KB', '2.5 MiB', '1GB' (decimal units as upload limits use); None -> None."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return int(text)
    t = str(text).strip().upper().replace(" ", "")
    units = (("GIB", 2**30), ("MIB", 2**20), ("KIB", 2**10), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3),
             ("G", 10**9), ("M", 10**6), ("K", 10**3), ("B", 1), ("", 1))
    for unit, mult in units:
        if t.endswith(unit):
            try:
                value = float(t[: len(t) - len(unit)])
            except ValueError:
                break
            if value > 0 and math.isfinite(value):
                return int(value * mult)
            break
    raise WaifuError(f"--max-size must look like 15MB, 800KB or 2.5MiB, got '{text}'")


def check_settings(s: EncodeSettings) -> None:
    if s.codec not in CODECS:
        raise WaifuError(f"unknown codec '{s.codec}'; use h264 or h265")
    if s.preset not in PRESETS:
        raise WaifuError(f"unknown preset '{s.preset}'; use one of {', '.join(PRESETS)}")
    if not (isinstance(s.crf, int) or float(s.crf).is_integer()) or not 0 <= int(s.crf) <= 51:
        raise WaifuError(f"--crf must be a whole number from 0 (lossless) to 51 (worst), got {s.crf}")
    if s.gif_quality not in GIF_QUALITIES:
        raise WaifuError(f"unknown GIF quality '{s.gif_quality}'; use normal or hq")
    if not (math.isfinite(float(s.fps)) and float(s.fps) > 0):
        raise WaifuError(f"--fps must be a number > 0, got {s.fps}")


# --- GIF timing -------------------------------------------------------------------------------------
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


# --- encoders ---------------------------------------------------------------------------------------
class Encoder:
    """Base: frames in, result out. Subclasses set self.frames and implement the three calls."""

    def __init__(self, path: str, width: int, height: int, settings: EncodeSettings):
        self.path, self.width, self.height, self.settings = path, width, height, settings
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> EncodeResult:
        raise NotImplementedError

    def abort(self) -> None:
        pass


def mp4_args(settings: EncodeSettings, width: int | None = None, bitrate: int | None = None) -> list[str]:
    """Output arguments of an MP4 that plays everywhere: even size, yuv420p BT.709, faststart."""
    scale = f"scale={width}:-2:flags=lanczos," if width else ""
    vf = (f"{scale}pad=ceil(iw/2)*2:ceil(ih/2)*2,"
          "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p")
    args = ["-vf", vf, "-c:v", CODECS[settings.codec], "-preset", settings.preset]
    if bitrate:
        args += ["-b:v", str(bitrate), "-maxrate", str(int(bitrate * 1.2)), "-bufsize", str(bitrate)]
    else:
        args += ["-crf", str(int(settings.crf))]
    if settings.codec == "h265":
        args += ["-tag:v", "hvc1", "-x265-params", "log-level=error"]
    args += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
             "-movflags", "+faststart", "-f", "mp4"]
    return args


class Mp4Encoder(Encoder):
    """H.264 / H.265 straight from the pipe (no size budget)."""

    def __init__(self, path, width, height, settings):
        super().__init__(path, width, height, settings)
        self.pipe = FFmpegPipe(width, height, settings.fps, [*settings.audio_out, *mp4_args(settings), path], path,
                               extra_inputs=settings.audio_in)

    def write(self, frame):
        self.pipe.write(frame)
        self.frames += 1

    def finish(self):
        self.pipe.close()
        return EncodeResult(self.path, self.frames, even(self.width), even(self.height), self.settings.fps)

    def abort(self):
        self.pipe.kill()


def even(n: int) -> int:
    return n + (n % 2)


class IntermediateEncoder(Encoder):
    """Frames -> lossless FFV1 file beside the output; `encode_final` makes the real file from it."""

    def __init__(self, path, width, height, settings):
        super().__init__(path, width, height, settings)
        folder = os.path.dirname(os.path.abspath(path))
        fd, self.intermediate = tempfile.mkstemp(prefix=".waifu-frames-", suffix=".mkv.part", dir=folder)
        os.close(fd)
        self.palette = self.intermediate + ".palette.png"
        self.pipe = FFmpegPipe(width, height, settings.fps, self.stream_args(), path)

    def stream_args(self) -> list[str]:
        """ffmpeg output arguments while frames stream in: the lossless intermediate (subclasses may add
        outputs that are cheap to make on the way, so less is left for after the last frame)."""
        return self.intermediate_args()

    def intermediate_args(self) -> list[str]:
        return ["-c:v", "ffv1", "-level", "3", "-slices", "4", "-pix_fmt", "bgr0", "-f", "matroska", self.intermediate]

    def write(self, frame):
        self.pipe.write(frame)
        self.frames += 1

    def finish(self):
        try:
            self.pipe.close()
            return self.encode_final()
        finally:
            self._remove_intermediate()

    def abort(self):
        self.pipe.kill()
        self._remove_intermediate()

    def _remove_intermediate(self):
        for p in (self.intermediate, self.palette):
            if os.path.exists(p):
                os.unlink(p)

    # --- encoding from the intermediate, within the size budget --------------------------------
    def encode_final(self) -> EncodeResult:
        raise NotImplementedError

    def within_budget(self, encode, fps: float, kind: str) -> tuple[int, float, list[str]]:
        """Call encode(width, fps) -> bytes, lowering width, then fps, until the file fits max_bytes.

        Returns (width, fps, notes). Width shrinks by the square root of the overshoot (at least 10 %,
        at most half) down to MIN_BUDGET_WIDTH, then fps halves (frames dropped) down to MIN_BUDGET_FPS.
        """
        budget = self.settings.max_bytes
        width, cur_fps = self.width, fps
        size = encode(width, cur_fps)
        if budget is None or size <= budget:
            return width, cur_fps, []
        first = size
        for _ in range(24):
            if width > MIN_BUDGET_WIDTH:
                factor = min(0.9, max(0.5, math.sqrt(budget / size) * 0.95))
                width = max(MIN_BUDGET_WIDTH, int(width * factor) // 2 * 2)
            elif cur_fps / 2 >= MIN_BUDGET_FPS:
                cur_fps = cur_fps / 2
            else:
                raise WaifuError(f"the {kind} stays over {fmt_bytes(budget)} ({fmt_bytes(size)}) even at "
                                 f"{width} px wide and {cur_fps:g} fps; shorten the clip (--seconds) or raise --max-size")
            size = encode(width, cur_fps)
            if size <= budget:
                break
        else:
            raise WaifuError(f"the {kind} does not fit {fmt_bytes(budget)}; shorten the clip or raise --max-size")
        changes = []
        if width != self.width:
            changes.append(f"width {self.width} -> {width} px")
        if cur_fps != fps:
            changes.append(f"fps {fps:g} -> {cur_fps:g}")
        return width, cur_fps, [f"--max-size {fmt_bytes(budget)}: {fmt_bytes(first)} was too big; "
                                f"{', '.join(changes)} gives {fmt_bytes(size)}"]

    def height_for(self, width: int) -> int:
        return max(1, round(self.height * width / self.width))

    def budget_filters(self, width: int, out_fps: float) -> list[str]:
        """ffmpeg filters that make a --max-size retry: drop frames to out_fps, then scale to width."""
        filters = []
        if out_fps != float(self.settings.fps):
            filters.append(f"fps={fps_fraction(out_fps)}")
        if width != self.width:
            filters.append(f"scale={width}:-1:flags=lanczos")
        return filters


class GifEncoder(IntermediateEncoder):
    """Palette from the whole clip (stats_mode=diff) + bayer dithering; hq: a palette per frame.

    The clip's palette is gathered while the frames stream in (one ffmpeg process writes the
    intermediate and the palette), so after the last frame only the mapping to the palette is left;
    a --max-size retry at another width or fps gathers its own.
    """

    def stream_args(self) -> list[str]:
        if self.settings.gif_quality == "hq":
            return self.intermediate_args()
        return ["-filter_complex", "[0:v]split[keep][stats];[stats]palettegen=stats_mode=diff[pal]",
                "-map", "[keep]", *self.intermediate_args(),
                "-map", "[pal]", "-update", "1", "-frames:v", "1", self.palette]

    def encode_final(self):
        s = self.settings
        fps, note = gif_fps(float(s.fps))
        notes = [note] if note else []

        def encode(width: int, out_fps: float) -> int:
            pre = self.budget_filters(width, out_fps)
            pre_chain = ",".join(pre) + "," if pre else ""
            if s.gif_quality == "hq":
                graph = (f"{pre_chain}split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];"
                         f"[b][p]paletteuse=new=1:dither=sierra2_4a")
                run_ffmpeg(["-i", self.intermediate, "-lavfi", graph, "-loop", "0", "-f", "gif", self.path], self.path)
            else:
                palette = self.palette
                if pre or not os.path.exists(palette):      # the streamed palette is of the clip as rendered
                    run_ffmpeg(["-i", self.intermediate, "-vf", f"{pre_chain}palettegen=stats_mode=diff", "-update", "1",
                                "-frames:v", "1", palette], self.path)
                run_ffmpeg(["-i", self.intermediate, "-i", palette, "-lavfi",
                            f"{pre_chain.rstrip(',') or 'null'}[x];[x][1:v]paletteuse=dither=bayer:bayer_scale=3:diff_mode=rectangle",
                            "-loop", "0", "-f", "gif", self.path], self.path)
            return os.path.getsize(self.path)

        width, out_fps, budget_notes = self.within_budget(encode, fps, "GIF")
        delays = set_gif_delays(self.path, out_fps)
        if out_fps != fps:                # the size budget halved the fps: say if that one is not exact either
            budget_notes += [n for n in [gif_fps(out_fps)[1]] if n]
        return EncodeResult(self.path, len(delays), width, self.height_for(width), out_fps, notes + budget_notes,
                            delays_cs=delays)


class WebpEncoder(IntermediateEncoder):
    """Animated WebP (libwebp, lossy quality 80), looping forever."""

    def encode_final(self):
        s = self.settings

        def encode(width: int, out_fps: float) -> int:
            vf = self.budget_filters(width, out_fps)
            run_ffmpeg(["-i", self.intermediate, *(["-vf", ",".join(vf)] if vf else []), "-c:v", "libwebp_anim",
                        "-lossless", "0", "-quality", str(WEBP_QUALITY), "-compression_level", "4", "-loop", "0",
                        "-pix_fmt", "yuv420p", "-f", "webp", self.path], self.path)
            return os.path.getsize(self.path)

        width, out_fps, notes = self.within_budget(encode, float(s.fps), "WebP")
        return EncodeResult(self.path, frames_in_file(self.path, "webp", self.frames, float(s.fps), out_fps), width,
                            self.height_for(width), out_fps, notes)


class BudgetMp4Encoder(IntermediateEncoder):
    """MP4 under --max-size: CRF first; then the bitrate the budget allows; then narrower."""

    def encode_final(self):
        s = self.settings
        duration = self.frames / float(s.fps)
        state = {"bitrate": None}
        # a muxed song gets a quarter of what the budget allows per second (32-192 kbit/s)
        audio_bits = 0
        if s.audio_in:
            audio_bits = int(min(AUDIO_BITRATE, max(32_000, s.max_bytes * 8 * 0.85 / max(duration, 1e-3) / 4)))
        audio_out = [*s.audio_out, "-b:a", str(audio_bits)] if s.audio_in else []

        def encode(width: int, out_fps: float) -> int:
            vf_fps = ["-r", str(fps_fraction(out_fps))] if out_fps != float(s.fps) else []
            args = mp4_args(s, width if width != self.width else None, state["bitrate"])
            run_ffmpeg(["-i", self.intermediate, *s.audio_in, *vf_fps, *audio_out, *args, self.path], self.path)
            return os.path.getsize(self.path)

        def encode_within_rate(width: int, out_fps: float) -> int:
            """CRF; if too big, the bitrate the budget allows; if x264 overshoots it, that rate scaled down once."""
            size = encode(width, out_fps)
            if size > s.max_bytes and state["bitrate"] is None:
                state["bitrate"] = max(MIN_BITRATE, int(s.max_bytes * 8 * 0.85 / max(duration, 1e-3)) - audio_bits)
                size = encode(width, out_fps)
            if size > s.max_bytes and state["bitrate"] > MIN_BITRATE:
                state["bitrate"] = max(MIN_BITRATE, int(state["bitrate"] * s.max_bytes / size * 0.9))
                size = encode(width, out_fps)
            return size

        width, out_fps, notes = self.within_budget(encode_within_rate, float(s.fps), "MP4")
        if state["bitrate"]:
            notes.insert(0, f"--max-size: CRF {s.crf} was too big; encoded at {state['bitrate'] / 1000:.0f} kbit/s")
        h = self.height_for(width)
        return EncodeResult(self.path, frames_in_file(self.path, "mp4", self.frames, float(s.fps), out_fps), even(width), even(h),
                            out_fps, notes)


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


class PngFramesEncoder(Encoder):
    """One PNG per frame into a folder: `path` is the temporary folder, `pattern` the file names."""

    def __init__(self, path, width, height, settings, pattern: str = "%05d.png"):
        super().__init__(path, width, height, settings)
        self.pattern = pattern

    def write(self, frame):
        from PIL import Image

        name = os.path.join(self.path, self.pattern % self.frames)
        try:
            Image.fromarray(frame).save(name, format="PNG", compress_level=3)
        except OSError as exc:
            if exc.errno == 28:
                raise WaifuError(f"the disk is full while writing frames to '{shown_name(self.path)}'; free some space "
                                 f"or write elsewhere with -o") from None
            raise WaifuError(f"cannot write frame '{os.path.basename(name)}' of '{shown_name(self.path)}': "
                             f"{exc.strerror or exc}") from None
        self.frames += 1

    def finish(self):
        return EncodeResult(self.path, self.frames, self.width, self.height, self.settings.fps)


def make_encoder(kind: str, path: str, width: int, height: int, settings: EncodeSettings,
                 pattern: str = "%05d.png") -> Encoder:
    """The encoder of an output kind ('mp4' | 'gif' | 'webp' | 'frames')."""
    check_settings(settings)
    if kind == "mp4":
        return BudgetMp4Encoder(path, width, height, settings) if settings.max_bytes else Mp4Encoder(path, width, height, settings)
    if kind == "gif":
        return GifEncoder(path, width, height, settings)
    if kind == "webp":
        return WebpEncoder(path, width, height, settings)
    if kind == "frames":
        return PngFramesEncoder(path, width, height, settings, pattern)
    raise AssertionError(kind)


def fmt_bytes(n: float) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{int(n)} B"


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
