"""Music: analysis time of a synthetic 3-minute song, and render-with-audio vs render + a mux step.

    python bench/bench_audio.py [--minutes 3] [--render-seconds 10] [--repeat 2]

Table 1: decode (mp3 -> 22.05 kHz mono), spectral features, tempo, beats, the whole analyze(), and
the beats' precision / recall against the song's true beats (within one frame at 30 fps).
Table 2: the shipped 64 px model rendering --render-seconds of the song to MP4 with its keys on the
beats; then the same frames (replayed from its latents) (a) with --audio (the AAC is encoded by the
MP4's own ffmpeg process) and (b) without sound, followed by the mux users would otherwise run
(video stream copy + AAC).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from songs import convert, drum_song, match, write_wav  # noqa: E402

from interpolate.audio import analyze, read_song  # noqa: E402
from interpolate.audio.beats import track_beats  # noqa: E402
from interpolate.audio.spectrum import spectral_features  # noqa: E402
from interpolate.audio.tempo import tempo_curve  # noqa: E402


def timed(fn, repeat: int):
    best, out = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, out


def analysis_table(folder: str, minutes: float, repeat: int) -> str:
    samples, truth = drum_song(minutes)
    mp3 = convert(write_wav(os.path.join(folder, "song.wav"), samples), ".mp3")
    t_dec, song = timed(lambda: read_song(mp3), repeat)
    clip = song.samples
    t_feat, feats = timed(lambda: spectral_features(clip, song.rate), repeat)
    t_tempo, period = timed(lambda: tempo_curve(feats.onset, feats.frame_rate), repeat)
    t_beats, _ = timed(lambda: track_beats(feats.onset, period), repeat)
    t_all, a = timed(lambda: analyze(mp3), repeat)
    p, r = match(a.beats, truth, 1 / 30)
    rows = [("decode mp3 (ffmpeg)", t_dec), ("spectral features", t_feat), ("tempo curve", t_tempo),
            ("beat tracking (DP)", t_beats), ("analyze() total (incl. decode, SHA-256)", t_all)]
    lines = [f"song: {minutes:g} min synthetic drums + pad at 128 BPM ({len(truth)} beats), mp3",
             f"{'step':<42} {'seconds':>8}"]
    lines += [f"{name:<42} {sec:8.3f}" for name, sec in rows]
    lines.append(f"tempo {a.tempo:.1f} BPM, beats found {len(a.beats)}, precision {p:.3f}, recall {r:.3f} (within 1/30 s)")
    return "\n".join(lines), mp3


def render_table(folder: str, mp3: str, seconds: float, repeat: int) -> str:
    from interpolate.options import RenderOptions
    from interpolate.render.ffmpeg import ffmpeg_exe
    from interpolate.render.video import render

    latents = os.path.join(folder, "lat.npz")
    base = dict(keys=["0-15"], fps=30.0, quiet=True, overwrite=True, device="cpu", sidecar=False)
    planned = RenderOptions(**base, audio=mp3, audio_seconds=seconds, beats_per_key=4,
                            output=os.path.join(folder, "a.mp4"))
    t_plan, res = timed(lambda: render(planned), repeat)
    render(dataclasses.replace(planned, save_latents=latents, output=os.path.join(folder, "c.mp4")))
    # the same frames (replayed from the latents) with the song muxed in, and without sound + a mux step
    with_audio = RenderOptions(**base, from_latents=latents, audio=mp3, output=os.path.join(folder, "d.mp4"))
    silent = RenderOptions(**base, from_latents=latents, output=os.path.join(folder, "b.mp4"))
    muxed = os.path.join(folder, "b-muxed.mp4")

    def mux():
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", silent.output, "-t", f"{res.frames / 30:.6f}", "-i", mp3,
                        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
                        "-movflags", "+faststart", muxed], check=True)

    t_a, _ = timed(lambda: render(with_audio), repeat)
    t_b, _ = timed(lambda: render(silent), repeat)
    t_m, _ = timed(mux, repeat)
    lines = [f"render: shipped chibi-64, {res.frames} frames ({seconds:g} s at 30 fps) to MP4, CPU, best of {repeat}",
             f"{'way':<48} {'seconds':>8}",
             f"{'render --audio, keys on beats (analysis included)':<48} {t_plan:8.2f}",
             f"{'(a) same frames --from-latents --audio (AAC inside)':<48} {t_a:8.2f}",
             f"{'(b1) same frames --from-latents, no sound':<48} {t_b:8.2f}",
             f"{'(b2) + mux step (copy video, AAC)':<48} {t_m:8.2f}",
             f"{'(b) = (b1) + (b2)':<48} {t_b + t_m:8.2f}",
             f"(a) / (b) = {t_a / (t_b + t_m):.2f}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--render-seconds", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        text, mp3 = analysis_table(folder, args.minutes, args.repeat)
        print(text)
        print()
        print(render_table(folder, mp3, args.render_seconds, args.repeat))


if __name__ == "__main__":
    main()
