"""The README's strip: frames of a beat-synced render above the song's onset strength, with the
beats (grey) and the beats keys land on (red) marked.

    python bench/figure_beats.py [-o checkpoints/chibi-64-beats.png]

The song is the synthetic drum track of tests/songs.py (128 BPM), so the figure is made from nothing
downloaded; the model is the shipped one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from songs import convert, drum_song, write_wav  # noqa: E402

SECONDS, FPS, THUMBS, SCALE = 4.0, 30.0, 16, 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="checkpoints/chibi-64-beats.png")
    args = ap.parse_args()
    from interpolate.audio import analyze
    from interpolate.audio.react import frame_envelopes
    from interpolate.files import atomic_path
    from interpolate.options import RenderOptions
    from interpolate.render.video import render

    with tempfile.TemporaryDirectory() as folder:
        samples, _ = drum_song(0.25)
        song = convert(write_wav(os.path.join(folder, "drums.wav"), samples), ".mp3")
        frames_dir = os.path.join(folder, "frames")
        opts = RenderOptions(keys=["3,17,42,8,5"], audio=song, audio_seconds=SECONDS, beats_per_key=2, fps=FPS,
                             react_pulse=0.5, output=frames_dir + "/", quiet=True, sidecar=False, device="cpu")
        render(opts)
        names = sorted(os.listdir(frames_dir))
        a = analyze(song, seconds=SECONDS)
        pulse = frame_envelopes(a.features, FPS, len(names), 0.0, 0.25)["pulse"]
        from interpolate.audio.plan import plan_keys

        keys = plan_keys(a, FPS, beats_per_key=2).key_frames
        picks = np.linspace(0, len(names) - 1, THUMBS).round().astype(int)
        thumbs = [Image.open(os.path.join(frames_dir, names[i])).convert("RGB") for i in picks]
    size = thumbs[0].width * SCALE
    width, band = size * THUMBS, 70
    img = Image.new("RGB", (width, size + band + 16), (255, 255, 255))
    for j, t in enumerate(thumbs):
        img.paste(t.resize((size, size), Image.NEAREST), (j * size, 0))
    draw = ImageDraw.Draw(img)
    n = len(pulse)

    def x_of(frame: float) -> float:
        return (frame + 0.5) / n * width

    top, bottom = size + 6, size + band
    for b in a.beats:
        draw.line([(x_of(b * FPS), top), (x_of(b * FPS), bottom)], fill=(190, 190, 190))
    for k in keys:
        draw.line([(x_of(k), top), (x_of(k), bottom)], fill=(220, 40, 40), width=2)
    pts = [(x_of(i), bottom - v * (band - 12)) for i, v in enumerate(pulse)]
    draw.line(pts, fill=(30, 30, 30), width=1)
    for j, i in enumerate(picks):                       # where each thumbnail sits in time
        draw.line([(x_of(i), size), (x_of(i), size + 5)], fill=(60, 60, 200), width=2)
    draw.text((4, bottom + 2), f"{SECONDS:g} s at 128 BPM: pulse (black), beats (grey), keys every 2 beats (red)",
              fill=(0, 0, 0))
    with atomic_path(args.output) as tmp:
        img.save(tmp, format="PNG")
    print(f"wrote {args.output} ({img.width}x{img.height})")


if __name__ == "__main__":
    main()
