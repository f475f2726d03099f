"""Encoders: uint8 RGB frames in, a finished MP4, GIF, WebP or PNG frames out.

Every encoder has the same surface, called from the renderer's writer thread:

    enc = make_encoder(kind, tmp_path, width, height, settings)   # settings: EncodeSettings
    enc.write(frame)            # HxWx3 uint8, in order
    result = enc.finish()       # EncodeResult: what was written (and what had to change)
    enc.abort()                 # on error / Ctrl-C: stop ffmpeg now (the caller removes the files)

MP4 streams raw RGB into one ffmpeg process, whose video encoder is x264/x265 or NVENC
(EncodeSettings.encoder, chosen by render/codecs.choose_encoder, arguments render/codecs.video_args).
GIF and WebP (and MP4 with a size budget) stream into a lossless FFV1 intermediate beside the output,
then encode from it, as often as the size budget needs:
GIF palettes need the whole clip (the GIF palette: GifEncoder.encode_final, palettegen/paletteuse),
and a budget needs a second try without rendering again. The ffmpeg process is render/ffmpeg.py,
container bytes render/containers.py, the --max-size search render/budget.py.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from ..errors import WaifuError
from .budget import SizeBudget
from .codecs import check_encoder, ffmpeg_encoder, video_args
from .containers import frames_in_file, gif_fps, set_gif_delays
from .ffmpeg import FFmpegPipe, fps_fraction, run_ffmpeg, shown_name

CODECS = {"h264": "libx264", "h265": "libx265"}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
GIF_QUALITIES = ("normal", "hq")
WEBP_QUALITY = 80
MIN_BITRATE = 20_000         # MP4 under --max-size: never ask x264 for less (bit/s)
AUDIO_BITRATE = 192_000      # a muxed song's AAC rate (audio/music.AAC_BITRATE); under --max-size a quarter of the budget


# --- settings and results ---------------------------------------------------------------------------
@dataclass
class EncodeSettings:
    fps: float = 30.0
    crf: int = 18
    x264_preset: str = "veryfast"
    codec: str = "h264"
    encoder: str = "x264"                # MP4: x264 (libx264/libx265) | nvenc (h264_nvenc/hevc_nvenc); render/codecs.py
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
    encoder: str | None = None                          # MP4: ffmpeg's video encoder ('libx264', 'h264_nvenc')

    @property
    def duration(self) -> float:
        return sum(self.delays_cs) / 100 if self.delays_cs else self.frames / self.fps




def check_settings(s: EncodeSettings) -> None:
    if s.codec not in CODECS:
        raise WaifuError(f"unknown codec '{s.codec}'; use h264 or h265")
    if s.encoder == "auto":
        raise WaifuError("EncodeSettings.encoder is the encoder a render uses, x264 or nvenc; resolve 'auto' with "
                         "render.codecs.choose_encoder")
    check_encoder(s.encoder)
    if s.x264_preset not in X264_PRESETS:
        raise WaifuError(f"unknown x264 preset '{s.x264_preset}'; use one of {', '.join(X264_PRESETS)}")
    if not (isinstance(s.crf, int) or float(s.crf).is_integer()) or not 0 <= int(s.crf) <= 51:
        raise WaifuError(f"--crf must be a whole number from 0 (lossless) to 51 (worst), got {s.crf}")
    if s.gif_quality not in GIF_QUALITIES:
        raise WaifuError(f"unknown GIF quality '{s.gif_quality}'; use normal or hq")
    if not (math.isfinite(float(s.fps)) and float(s.fps) > 0):
        raise WaifuError(f"--fps must be a number > 0, got {s.fps}")


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
    """Output arguments of an MP4 that plays everywhere: even size, yuv420p BT.709, faststart; the video
    encoder is settings.encoder's (x264/x265 or NVENC)."""
    scale = f"scale={width}:-2:flags=lanczos," if width else ""
    vf = (f"{scale}pad=ceil(iw/2)*2:ceil(ih/2)*2,"
          "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p")
    args = ["-vf", vf, *video_args(settings, bitrate)]      # x264/x265 or NVENC (render/codecs.py)
    if settings.codec == "h265":
        args += ["-tag:v", "hvc1", *(["-x265-params", "log-level=error"] if settings.encoder == "x264" else [])]
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
        return EncodeResult(self.path, self.frames, even(self.width), even(self.height), self.settings.fps,
                            encoder=ffmpeg_encoder(self.settings.encoder, self.settings.codec))

    def abort(self):
        self.pipe.kill()


def even(n: int) -> int:
    return n + (n % 2)


class IntermediateEncoder(SizeBudget, Encoder):
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

    def encode_final(self) -> EncodeResult:
        """Make the real file from the intermediate (within the size budget: SizeBudget)."""
        raise NotImplementedError


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
                            out_fps, notes, encoder=ffmpeg_encoder(s.encoder, s.codec))


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
