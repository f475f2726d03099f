"""Can x264 keep up? One encoder against N encoders on contiguous chunks joined by stream copy, and
NVENC where the GPU has one; prints a table.

    python bench/bench_encoders.py                       # 512 and 1024 px, 1 vs 2 encoders, 120 frames
    python bench/bench_encoders.py --sizes 1024 --encoders 1,2,4,nvenc --frames 240

The frames cost nothing to make: a fixed pattern (a gradient that moves, so x264 has real motion to
code) with each frame's index stamped into its top-left corner as 16 black/white blocks. Per setting:
encoding frames/s (wall clock, from the first frame written to the finished file), and a check of the
joined file: its frame count must equal the input's and the stamped indices, decoded back, must read
0, 1, 2, ... in order (no frame lost, doubled or reordered at a seam). x264 is run as the renderer
runs it (render/encode.mp4_args: the veryfast preset, CRF 18, yuv420p BT.709, faststart); each chunk
is a closed-GOP MP4, joined with ffmpeg's concat demuxer (-c copy), so the result plays as one stream.
`nvenc` in --encoders is one h264_nvenc process with the renderer's NVENC arguments (`--encoder nvenc`:
-rc vbr -cq 18 -b:v 0, render/codecs.py); where NVENC does not work (no NVIDIA GPU, or one without an
encoder such as the A100/H100) its row says so and names ffmpeg's reason, and the rest still runs.

On a shared machine every setting is the best of --repeat interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from interpolate.render.codecs import nvenc_problem
from interpolate.render.encode import EncodeSettings, mp4_args
from interpolate.render.ffmpeg import ffmpeg_exe

BLOCKS = 16          # bits of the stamped frame index
CELL = 8             # px per block side


def frame(index: int, size: int) -> np.ndarray:
    """A moving gradient with the index stamped as 16 blocks of 8x8 px (top-left, white = 1)."""
    x = np.arange(size, dtype=np.uint16)
    row = ((x + index * 3) % 256).astype(np.uint8)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = row[None, :, None]
    img[:, :, 1] = ((x[:, None] + index) % 256).astype(np.uint8)
    for bit in range(BLOCKS):
        img[:CELL, bit * CELL:(bit + 1) * CELL] = 255 if (index >> bit) & 1 else 0
    return img


def read_index(img: np.ndarray) -> int:
    return sum(1 << bit for bit in range(BLOCKS) if img[2:CELL - 2, bit * CELL + 2:(bit + 1) * CELL - 2].mean() > 128)


def start_encoder(out: Path, size: int, fps: int, threads: int | None, encoder: str = "x264") -> subprocess.Popen:
    """One ffmpeg with the renderer's MP4 arguments for `encoder` (x264 | nvenc), raw RGB on stdin."""
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}", "-r", str(fps),
           "-i", "-", *mp4_args(EncodeSettings(fps=fps, crf=18, encoder=encoder))]
    if threads:
        cmd += ["-threads", str(threads)]
    return subprocess.Popen(cmd + [str(out)], stdin=subprocess.PIPE)


def encode(folder: Path, frames: int, size: int, encoders: int, fps: int = 30, encoder: str = "x264") -> tuple[float, Path]:
    """Encode `frames` frames with `encoders` processes on contiguous chunks; (frames/s, joined file)."""
    bounds = [frames * k // encoders for k in range(encoders + 1)]
    parts = [folder / f"part{k}.mp4" for k in range(encoders)]
    t0 = time.perf_counter()
    procs = [start_encoder(p, size, fps, None if encoders == 1 else max(1, (os.cpu_count() or 1) // encoders), encoder)
             for p in parts]

    def feed(k: int) -> None:
        for i in range(bounds[k], bounds[k + 1]):
            procs[k].stdin.write(frame(i, size).tobytes())
        procs[k].stdin.close()

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(encoders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait() == 0
    out = folder / f"joined{encoders}.mp4"
    if encoders == 1:
        parts[0].rename(out)
    else:
        listing = folder / "parts.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in parts))
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                        "-movflags", "+faststart", str(out)], check=True)
    return frames / (time.perf_counter() - t0), out


def check(path: Path, frames: int, size: int) -> str:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, size, size, 3)
    indices = [read_index(f) for f in decoded]
    if len(decoded) != frames:
        return f"FAIL: {len(decoded)} frames"
    return "ok" if indices == list(range(frames)) else "FAIL: indices out of order"


def parse_encoders(text: str) -> list[int | str]:
    """'1,2,4,nvenc' -> [1, 2, 4, 'nvenc']: x264 process counts, and nvenc for one NVENC process."""
    out: list[int | str] = []
    for token in text.split(","):
        token = token.strip().lower()
        out.append(token if token == "nvenc" else int(token))
    return out


def label(n: int | str) -> str:
    return "NVENC (h264_nvenc)" if n == "nvenc" else f"{n} x264"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--encoders", default="1,2", help="x264 process counts and/or nvenc, e.g. 1,2,4,nvenc")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = parse_encoders(args.encoders)
    skipped = nvenc_problem("h264") if "nvenc" in counts else None
    best: dict = {}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeat):
            for size in sizes:
                for n in counts:
                    if n == "nvenc" and skipped:
                        continue
                    folder = Path(d) / f"{size}_{n}"
                    folder.mkdir(exist_ok=True)
                    rate, out = encode(folder, args.frames, size, 1 if n == "nvenc" else n,
                                       encoder="nvenc" if n == "nvenc" else "x264")
                    verdict = check(out, args.frames, size)
                    if rate > best.get((size, n), (0, ""))[0]:
                        best[(size, n)] = (rate, verdict)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, {args.frames} frames, x264 veryfast CRF 18"
          + (", NVENC p4 cq 18" if "nvenc" in counts else ""))
    if skipped:
        print(f"NVENC skipped: {skipped}")
    base = next((n for n in counts if n != "nvenc" or not skipped), None)
    print(f"| size | encoders | frames/s | vs {label(base) if base is not None else '-'} | joined file |")
    print("|---|---|---|---|---|")
    for size in sizes:
        for n in counts:
            if (size, n) not in best:
                print(f"| {size}x{size} | {label(n)} | - | - | skipped: no NVENC here ({skipped}) |")
                continue
            rate, verdict = best[(size, n)]
            print(f"| {size}x{size} | {label(n)} | {rate:.1f} | {rate / best[(size, base)][0]:.2f}x | {verdict} |")


if __name__ == "__main__":
    main()
