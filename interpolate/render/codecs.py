"""Which encoder writes an MP4's video stream: x264/x265 on the CPU or NVENC on an NVIDIA GPU.

    encoder, note = choose_encoder("auto", "cuda", "h264")   # -> ("nvenc", None) or ("x264", "... no NVENC ...")
    video_args(settings)                                     # ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18']

`--encoder auto` (the default) takes NVENC only when the render runs on CUDA and a probe succeeds:
ffmpeg encodes two tiny frames with h264_nvenc / hevc_nvenc to the null muxer, once per process and
codec (cached). The choice never depends on timings, so the same command on the same machine picks
the same encoder. `--encoder nvenc` without a working NVENC is a one-line error before anything is
written; `--encoder x264` is the CPU path (libx264, or libx265 with --codec h265).

NVENC's quality comes from --crf: constant-quality VBR, `-rc vbr -cq CRF -b:v 0`. Where that comes
from: `ffmpeg -h encoder=h264_nvenc` (the bundled ffmpeg) documents `-cq` as the target quality of
VBR's constant-quality mode on the same 0-51 quantizer scale as x264's CRF (0 there means "let the
driver choose"), and ffmpeg's nvenc encoders default to a 2 Mbit/s bitrate that would cap it, which
`-b:v 0` lifts. It is the same scale, not a measured size/quality match to x264. CRF 0 (x264's
lossless) becomes cq 1. The speed is ffmpeg's default `-preset p4 -tune hq` (--x264-preset is x264's
alone), with a keyframe at most every 250 frames as x264 does (`-g 250`). Both encoders get the same
yuv420p BT.709 input, tags and faststart (render/encode.mp4_args), and both start every file with an
IDR frame and close their GOPs (NVENC's keyframes are IDR frames), so the parts of a --shard render
still join by stream copy (render/shards.py refuses parts of different encoders).
"""

from __future__ import annotations

import functools
import re
import subprocess

from ..errors import WaifuError
from .ffmpeg import ffmpeg_exe

ENCODERS = ("auto", "x264", "nvenc")
FFMPEG_ENCODER = {("x264", "h264"): "libx264", ("x264", "h265"): "libx265",
                  ("nvenc", "h264"): "h264_nvenc", ("nvenc", "h265"): "hevc_nvenc"}
NVENC_PRESET, NVENC_TUNE = "p4", "hq"
NVENC_GOP = 250                    # frames per GOP, x264's default keyint (ffmpeg leaves NVENC's to the driver)
PROBE_W, PROBE_H, PROBE_FRAMES = 256, 128, 2       # above NVENC's smallest frame for both codecs
PROBE_TIMEOUT_S = 60


def check_encoder(name: str) -> None:
    if name not in ENCODERS:
        raise WaifuError(f"unknown encoder '{name}'; use auto (NVENC on a CUDA render when it works, else x264), "
                         f"x264 or nvenc")


def ffmpeg_encoder(encoder: str, codec: str) -> str:
    """'x264', 'h265' -> 'libx265'; 'nvenc', 'h264' -> 'h264_nvenc'."""
    return FFMPEG_ENCODER[(encoder, codec)]


def video_args(settings, bitrate: int | None = None) -> list[str]:
    """ffmpeg's video encoder arguments for settings.encoder / codec / crf (or a --max-size bitrate)."""
    args = ["-c:v", ffmpeg_encoder(settings.encoder, settings.codec)]
    if settings.encoder == "nvenc":
        args += ["-preset", NVENC_PRESET, "-tune", NVENC_TUNE, "-g", str(NVENC_GOP), "-rc", "vbr"]
        if bitrate:
            return args + ["-b:v", str(bitrate), "-maxrate", str(int(bitrate * 1.2)), "-bufsize", str(bitrate)]
        return args + ["-cq", str(max(1, int(settings.crf))), "-b:v", "0"]
    args += ["-preset", settings.x264_preset]
    if bitrate:
        return args + ["-b:v", str(bitrate), "-maxrate", str(int(bitrate * 1.2)), "-bufsize", str(bitrate)]
    return args + ["-crf", str(int(settings.crf))]


# --- the probe --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def nvenc_problem(codec: str = "h264") -> str | None:
    """None when ffmpeg's NVENC encoder of `codec` works here, else why not (its first complaint)."""
    name = ffmpeg_encoder("nvenc", codec)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{PROBE_W}x{PROBE_H}", "-framerate", "30", "-i", "pipe:0", "-frames:v", str(PROBE_FRAMES),
           "-pix_fmt", "yuv420p", "-c:v", name, "-rc", "vbr", "-cq", "23", "-b:v", "0", "-f", "null", "-"]
    try:
        proc = subprocess.run(cmd, input=bytes(PROBE_W * PROBE_H * 3 * PROBE_FRAMES), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{name} did not finish two test frames in {PROBE_TIMEOUT_S} s"
    except OSError as exc:
        return f"cannot start ffmpeg ({exc.strerror or exc})"
    if proc.returncode == 0:
        return None
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", ln).strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines()]
    lines = [ln for ln in lines if ln]
    return f"{name}: {lines[0][:160] if lines else f'ffmpeg exited {proc.returncode}'}"


def nvenc_missing_error(codec: str, problem: str) -> WaifuError:
    return WaifuError(f"--encoder nvenc: NVENC does not work here ({problem}); use --encoder x264, or --encoder auto "
                      f"(NVENC where it works, else x264)")


def choose_encoder(requested: str, device_type: str, codec: str) -> tuple[str, str | None]:
    """(the encoder an MP4 render uses, a note when auto fell back on a CUDA render). Deterministic:
    the device and whether NVENC works decide, never a timing."""
    check_encoder(requested)
    if requested == "x264":
        return "x264", None
    if requested == "nvenc":
        problem = nvenc_problem(codec)
        if problem:
            raise nvenc_missing_error(codec, problem)
        return "nvenc", None
    if device_type != "cuda":
        return "x264", None
    problem = nvenc_problem(codec)
    if problem:
        return "x264", f"--encoder auto: no NVENC here ({problem}); encoding with x264"
    return "nvenc", None


__all__ = ["ENCODERS", "check_encoder", "ffmpeg_encoder", "video_args", "nvenc_problem", "choose_encoder"]
