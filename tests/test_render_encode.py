"""Encoders (interpolate/render/encode.py) on synthetic frames: what the files really contain.

MP4: H.264/H.265 yuv420p, faststart (moov before mdat), even sizes, CRF. GIF: infinite loop, delays in
1/100 s that add up to the clip, notes when the fps cannot be met, hq palettes. --max-size: width, then
fps, until it fits. WebP: animated, looping. Files are decoded back with imageio / Pillow / a GIF walker.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess

import numpy as np
import pytest

from interpolate.errors import WaifuError
from interpolate.render.budget import parse_bytes
from interpolate.render.containers import gif_delays, gif_fps, output_kind
from interpolate.render.encode import EncodeSettings, make_encoder
from interpolate.render.ffmpeg import ffmpeg_exe, ffmpeg_failure


# --- readers ----------------------------------------------------------------------------------------
def mp4_boxes(path) -> list[str]:
    """Top-level MP4 box types in file order."""
    data = open(path, "rb").read()
    pos, names = 0, []
    while pos + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        names.append(name.decode("latin-1"))
        pos += size
    return names


def ffmpeg_info(path) -> str:
    """ffmpeg's description of the file's video stream (imageio-ffmpeg ships no ffprobe)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return next(line for line in proc.stderr.splitlines() if "Video:" in line)


def read_video(path) -> np.ndarray:
    import imageio.v2 as iio

    with iio.get_reader(str(path)) as reader:
        return np.stack([np.asarray(f)[..., :3] for f in reader])


def webp_frames(path) -> list[tuple[int, int, int]]:
    """(width, height, duration ms) of each ANMF chunk of an animated WebP, and the ANIM loop count."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    pos, frames, loop = 12, [], None
    u24 = lambda b: b[0] | b[1] << 8 | b[2] << 16  # noqa: E731
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if tag == b"ANIM":
            loop = struct.unpack("<H", body[4:6])[0]
        elif tag == b"ANMF":
            frames.append((u24(body[6:9]) + 1, u24(body[9:12]) + 1, u24(body[12:15])))
        pos += 8 + size + (size & 1)
    return frames, loop


def gif_blocks(path) -> dict:
    """Walk a GIF's blocks: frame delays (1/100 s), NETSCAPE loop count, local palette count, size."""
    data = open(path, "rb").read()
    assert data[:6] in (b"GIF87a", b"GIF89a")
    width, height, packed = struct.unpack("<HHB", data[6:11])
    pos = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
    out = {"size": (width, height), "delays": [], "loop": None, "local_palettes": 0, "images": 0}

    def skip_sub_blocks(p):
        while data[p]:
            p += data[p] + 1
        return p + 1

    while data[pos] != 0x3B:
        if data[pos] == 0x21:                       # extension
            label = data[pos + 1]
            if label == 0xF9:
                out["delays"].append(struct.unpack("<H", data[pos + 4:pos + 6])[0])
            elif label == 0xFF and data[pos + 3:pos + 14] == b"NETSCAPE2.0":
                out["loop"] = struct.unpack("<H", data[pos + 16:pos + 18])[0]
            pos = skip_sub_blocks(pos + 2)
        elif data[pos] == 0x2C:                     # image
            out["images"] += 1
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:
                out["local_palettes"] += 1
                pos += 3 * 2 ** ((flags & 7) + 1)
            pos = skip_sub_blocks(pos + 1)
        else:
            raise AssertionError(f"bad GIF block 0x{data[pos]:02x} at {pos}")
    return out


# --- frames -----------------------------------------------------------------------------------------
def smooth_frames(n: int, w: int, h: int) -> np.ndarray:
    """A moving colour gradient: each frame different, compressible like real renders."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = [np.stack([128 + 100 * np.sin(x / 7 + k / 3), 128 + 100 * np.cos(y / 5 - k / 4),
                        128 + 60 * np.sin((x + y) / 11 + k)], -1) for k in range(n)]
    return np.clip(frames, 0, 255).astype(np.uint8)


def noise_frames(n: int, w: int, h: int, seed: int = 0) -> np.ndarray:
    """Incompressible frames: file size grows with pixels x frames (for the size budget)."""
    return np.random.RandomState(seed).randint(0, 256, (n, h, w, 3), dtype=np.uint8)


def encode(kind, tmp_path, frames, name=None, **settings):
    n, h, w, _ = frames.shape
    path = str(tmp_path / (name or f"out.{kind}"))
    enc = make_encoder(kind, path, w, h, EncodeSettings(**settings))
    for f in frames:
        enc.write(f)
    return enc.finish(), path


def leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".")]


# --- output kinds -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kind", [("a.mp4", "mp4"), ("A.MP4", "mp4"), ("x/a.gif", "gif"), ("a.webp", "webp"),
                                        ("frames/", "frames"), ("frames", "frames"), ("f/%05d.png", "frames"),
                                        ("f/img_%d.png", "frames")])
def test_the_extension_picks_the_format(name, kind):
    assert output_kind(name) == kind


@pytest.mark.parametrize("name", ["a.avi", "a.mov.txt", "f/%05d.jpg", "f/%s.png"])
def test_unknown_outputs_are_one_line_errors(name):
    with pytest.raises(WaifuError) as err:
        output_kind(name)
    assert "\n" not in str(err.value) and (".mp4" in str(err.value) or "%05d.png" in str(err.value))


def test_parse_bytes():
    assert parse_bytes("15MB") == 15_000_000 and parse_bytes("800KB") == 800_000
    assert parse_bytes("2.5 MiB") == int(2.5 * 2**20) and parse_bytes(None) is None
    for bad in ("15 parsecs", "-1MB", "MB", "0"):
        with pytest.raises(WaifuError):
            parse_bytes(bad)


# --- MP4 --------------------------------------------------------------------------------------------
def test_mp4_is_h264_yuv420p_faststart_at_the_requested_fps(tmp_path):
    frames = smooth_frames(12, 48, 32)
    res, path = encode("mp4", tmp_path, frames, fps=24)
    boxes = mp4_boxes(path)
    assert "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")   # faststart
    info = ffmpeg_info(path)
    assert "h264" in info and "avc1" in info and "yuv420p" in info and "48x32" in info and "24 fps" in info
    decoded = read_video(path)
    assert decoded.shape == frames.shape and (res.frames, res.width, res.height, res.fps) == (12, 48, 32, 24)
    err = np.abs(decoded.astype(int) - frames).mean(axis=(1, 2, 3))
    assert err.max() < 8                             # frame k is frame k (4:2:0 chroma costs most of this) ...
    other = np.abs(decoded[1:].astype(int) - frames[:-1]).mean(axis=(1, 2, 3))
    assert other.min() > 2 * err.max()                               # ... and not its neighbour
    assert leftovers(tmp_path) == []


def test_mp4_ntsc_rate_is_exact(tmp_path):
    frames = smooth_frames(10, 32, 32)
    _, path = encode("mp4", tmp_path, frames, fps=29.97)
    assert "29.97 fps" in ffmpeg_info(path)
    decoded = read_video(path).astype(int)
    assert len(decoded) == 10 and np.abs(decoded[-1] - frames[-1]).mean() < 8      # none dropped or doubled


def test_mp4_crf_changes_quality_and_size(tmp_path):
    frames = smooth_frames(8, 64, 64)
    _, good = encode("mp4", tmp_path, frames, "good.mp4", crf=10)
    _, bad = encode("mp4", tmp_path, frames, "bad.mp4", crf=40)
    assert os.path.getsize(bad) < os.path.getsize(good) / 2
    e_good = np.abs(read_video(good).astype(int) - frames).mean()
    e_bad = np.abs(read_video(bad).astype(int) - frames).mean()
    assert e_good < e_bad


def test_mp4_h265_is_tagged_hvc1(tmp_path):
    frames = smooth_frames(4, 32, 32)
    _, path = encode("mp4", tmp_path, frames, codec="h265")
    info = ffmpeg_info(path)
    assert "hevc" in info and "hvc1" in info and "yuv420p" in info
    assert b"hvc1" in open(path, "rb").read()
    boxes = mp4_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_mp4_odd_sizes_are_made_even(tmp_path):
    frames = smooth_frames(3, 33, 21)
    res, path = encode("mp4", tmp_path, frames)
    decoded = read_video(path)
    assert decoded.shape == (3, 22, 34, 3) and (res.width, res.height) == (34, 22)
    assert np.abs(decoded[:, :21, :33].astype(int) - frames).mean() < 8     # the picture is not rescaled


# --- GIF --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fps, n", [(25, 10), (30, 10), (20, 7)])
def test_gif_loops_forever_and_delays_add_up_to_the_clip(tmp_path, fps, n):
    frames = smooth_frames(n, 40, 24)
    res, path = encode("gif", tmp_path, frames, fps=fps)
    g = gif_blocks(path)
    assert g["loop"] == 0 and g["size"] == (40, 24) and g["images"] == n
    assert sum(g["delays"]) == round(100 * n / fps)            # the clip lasts what was asked, to 1/100 s
    assert g["delays"] == res.delays_cs == gif_delays(n, fps)
    assert abs(res.duration - n / fps) <= 0.005
    assert all(d in (int(100 // fps), int(-(-100 // fps))) for d in g["delays"])
    decoded = read_video(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 12    # 256 colours + dithering
    assert leftovers(tmp_path) == []                            # intermediate and palette removed


def test_gif_fps_notes():
    assert gif_fps(25) == (25, None) and gif_fps(50) == (50, None) and gif_fps(10) == (10, None)
    fps, note = gif_fps(30)
    assert fps == 30 and "30 fps" in note and "3 and 4" in note and "25" in note and "\n" not in note
    fps, note = gif_fps(60)
    assert fps == 50 and "50" in note


def test_gif_above_50_fps_drops_frames_and_says_so(tmp_path):
    frames = smooth_frames(12, 32, 32)                          # 0.2 s at 60 fps
    res, path = encode("gif", tmp_path, frames, fps=60)
    g = gif_blocks(path)
    assert res.fps == 50 and res.frames == g["images"] == 10 and set(g["delays"]) == {2}
    assert sum(g["delays"]) == 20 and any("50" in n for n in res.notes)


def test_gif_hq_uses_a_palette_per_frame(tmp_path):
    frames = smooth_frames(5, 32, 32)
    _, normal = encode("gif", tmp_path, frames, "n.gif", fps=25)
    _, hq = encode("gif", tmp_path, frames, "hq.gif", fps=25, gif_quality="hq")
    assert gif_blocks(normal)["local_palettes"] == 0
    assert gif_blocks(hq)["local_palettes"] >= 4 and gif_blocks(hq)["loop"] == 0    # the first may be global
    assert sum(gif_blocks(hq)["delays"]) == 20
    e_n = np.abs(read_video(normal).astype(int) - frames).mean()
    e_hq = np.abs(read_video(hq).astype(int) - frames).mean()
    assert e_hq <= e_n


# --- size budget ------------------------------------------------------------------------------------
def test_gif_max_size_lowers_width_then_fps_and_reports_it(tmp_path):
    frames = noise_frames(16, 256, 128)                          # ~0.5 MB as a GIF
    budget = 30_000                                              # needs 64 px wide AND half the fps
    res, path = encode("gif", tmp_path, frames, fps=16, max_bytes=budget)
    g = gif_blocks(path)
    assert os.path.getsize(path) <= budget
    assert g["size"] == (64, 32) == (res.width, res.height)
    assert res.fps == 8 and res.frames == g["images"] == 8 and sum(g["delays"]) == 100   # still 1 s long
    note = " ".join(res.notes)
    assert "width 256 -> 64 px" in note and "fps 16 -> 8" in note and "--max-size" in note
    assert "12 and 13/100" in note                                # 8 fps is not whole 1/100 s: said so
    assert leftovers(tmp_path) == []


def test_gif_max_size_only_shrinks_as_much_as_needed(tmp_path):
    frames = noise_frames(8, 256, 128)
    res0, p0 = encode("gif", tmp_path, frames, "full.gif", fps=10)
    res, p = encode("gif", tmp_path, frames, "fit.gif", fps=10, max_bytes=int(os.path.getsize(p0) * 0.6))
    assert os.path.getsize(p) <= os.path.getsize(p0) * 0.6
    assert 64 < res.width < 256 and res.fps == 10 and res.frames == 8      # width alone was enough
    assert res0.notes == [] and len(res.notes) == 1 and "fps" not in res.notes[0]


def test_max_size_that_cannot_be_met_is_a_one_line_error(tmp_path):
    with pytest.raises(WaifuError) as err:
        encode("gif", tmp_path, noise_frames(16, 128, 64), fps=16, max_bytes=500)
    msg = str(err.value)
    assert "\n" not in msg and "500 B" in msg and "--max-size" in msg
    assert leftovers(tmp_path) == []


def test_mp4_max_size_fits(tmp_path):
    """CRF is too big, then x264 overshoots the bitrate the budget allows on so short a clip: scaled down."""
    frames = noise_frames(20, 130, 77)
    res, path = encode("mp4", tmp_path, frames, fps=20, max_bytes=12_000)
    assert os.path.getsize(path) <= 12_000 and "kbit/s" in res.notes[0]
    assert (res.width, res.height) == (130, 78)
    decoded = read_video(path)
    assert decoded.shape[1:3] == (res.height, res.width) and len(decoded) == res.frames
    assert leftovers(tmp_path) == []


def test_webp_max_size_reports_the_frames_really_in_the_file(tmp_path):
    frames = noise_frames(21, 130, 77)                 # 1.05 s at 20 fps -> frames at 0, 0.1, ... 1.0 s at 10 fps
    res, path = encode("webp", tmp_path, frames, fps=20, max_bytes=16_000)
    chunks, _ = webp_frames(path)
    assert os.path.getsize(path) <= 16_000 and res.fps == 10
    assert res.frames == len(chunks) == 11 and (res.width, res.height) == (chunks[0][0], chunks[0][1])


def test_frames_in_an_mp4_are_read_from_its_sample_table(tmp_path):
    from interpolate.render.containers import frames_in_file

    _, path = encode("mp4", tmp_path, smooth_frames(7, 32, 32))
    assert frames_in_file(path, "mp4", 99, 20.0, 10.0) == 7
    assert frames_in_file(str(tmp_path / "missing.mp4"), "mp4", 21, 20.0, 10.0) == 11     # the estimate


# --- WebP -------------------------------------------------------------------------------------------
def test_webp_is_animated_and_loops(tmp_path):
    from PIL import Image

    frames = smooth_frames(6, 40, 24)
    res, path = encode("webp", tmp_path, frames, fps=20)
    with Image.open(path) as im:
        assert im.format == "WEBP" and im.is_animated and im.n_frames == 6 and im.size == (40, 24)
        decoded = []
        for k in range(im.n_frames):
            im.seek(k)
            decoded.append(np.asarray(im.convert("RGB")))
    chunks, loop = webp_frames(path)
    assert loop == 0 and len(chunks) == 6
    assert sum(d for _, _, d in chunks) == pytest.approx(300, abs=6)      # 6 frames at 20 fps
    assert np.abs(np.stack(decoded).astype(int) - frames).mean() < 10
    assert (res.frames, res.width, res.height) == (6, 40, 24)


# --- ffmpeg's complaints ----------------------------------------------------------------------------
def test_ffmpeg_failures_become_one_line_errors():
    full = ffmpeg_failure("[out#0/mp4] Error writing trailer: No space left on device\nConversion failed!", "/x/a.mp4")
    assert "disk is full" in str(full) and "a.mp4" in str(full) and "\n" not in str(full)
    denied = ffmpeg_failure("x.mp4: Permission denied\n", "/x/a.mp4")
    assert "permission denied" in str(denied)
    other = ffmpeg_failure("line one\n[libx264] Error: something\nmore\n", "/x/a.mp4")
    assert "Error: something" in str(other) and "\n" not in str(other)


def test_errors_name_the_output_not_its_temporary_file():
    from interpolate.render.ffmpeg import shown_name

    assert shown_name("out/.a.gif.29oq1a62.part") == "out/a.gif" and shown_name("out/.fr.x_y.part/") == "out/fr"
    assert "'a.mp4'" in str(ffmpeg_failure("No space left on device", "/x/.a.mp4.k3j_9.part"))


def test_missing_ffmpeg_is_a_one_line_error(monkeypatch, tmp_path):
    import imageio_ffmpeg

    def gone():
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", gone)
    with pytest.raises(WaifuError) as err:
        make_encoder("mp4", str(tmp_path / "a.mp4"), 32, 32, EncodeSettings())
    assert "ffmpeg" in str(err.value) and "imageio-ffmpeg" in str(err.value)


def test_bad_settings_are_one_line_errors(tmp_path):
    for bad in (dict(codec="vp9"), dict(x264_preset="warp"), dict(crf=60), dict(gif_quality="ultra"), dict(fps=0)):
        with pytest.raises(WaifuError) as err:
            make_encoder("mp4", str(tmp_path / "a.mp4"), 32, 32, EncodeSettings(**bad))
        assert "\n" not in str(err.value)
    assert not re.search(r"\.part", " ".join(os.listdir(tmp_path)))
