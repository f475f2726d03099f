"""The ffmpeg process: finding it, running it, piping raw frames into it, and stopping it on signals
(SIGINT, SIGTERM, SIGHUP: interpolate/interrupts.py).

    pipe = FFmpegPipe(width, height, fps, out_args, target)   # raw RGB on stdin
    pipe.write(frame); pipe.close()      # or pipe.kill() on error / Ctrl-C
    run_ffmpeg(args, target)              # one-shot runs (palette, GIF, WebP from the intermediate)
    stop_pipes_under(tmp)                 # kill every pipe still writing under a temp path

Failures become one-line WaifuErrors naming the output as the user typed it (`shown_name`).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from fractions import Fraction

import numpy as np

from ..errors import WaifuError
from ..interrupts import signals_deferred


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
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(rate),
               "-i", "pipe:0", *(extra_inputs or ["-an"]), *out_args]      # extra: e.g. a song to mux
        self.cmd = cmd                     # the ffmpeg command line, as run
        try:
            # its own process group: a terminal's Ctrl-C reaches only us, and we stop ffmpeg (abort) rather
            # than it finishing a file on its own and the pipe breaking under the writer thread
            with signals_deferred():
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
