"""`waifu-morph render` end to end on a tiny checkpoint: the frames are the generator's, the files are
safe (temp + rename, interruption, -y), errors are one line with exit 2, and renders can be repeated
from their sidecar or saved latents bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_render_encode import ffmpeg_info, gif_blocks, mp4_boxes, read_video  # noqa: E402

from interpolate.errors import WaifuError  # noqa: E402
from interpolate.options import RenderOptions  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"), channel_base=256, channel_max=8)


@pytest.fixture(scope="module")
def G(tiny_checkpoint):
    from interpolate.loading import load_generator

    return load_generator(tiny_checkpoint, device="cpu")


def cli(*args) -> int:
    """Run the console script's entry point; its exit code."""
    from interpolate.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code
    return 0


def opts_for(ckpt, out, **kw) -> RenderOptions:
    base = dict(checkpoint=ckpt, keys=["1,2"], frames=3, output=str(out), quiet=True, device="cpu", size="native")
    return RenderOptions(**{**base, **kw})


@torch.no_grad()
def expected_frames(G, opts: RenderOptions) -> np.ndarray:
    """uint8 [N, H, W, 3] the generator gives for each frame's ws, one synthesis call per frame."""
    from interpolate.paths import plan_path

    path = plan_path(G, opts)
    out = []
    for k in range(path.num_frames):
        f = path.chunk(k, k + 1)
        img = G.synthesis(f.ws, noise_mode=f.noise_mode, noise=f.noise)
        out.append((img * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy())
    return np.stack(out)


def read_pngs(folder, glob="*.png") -> np.ndarray:
    from PIL import Image

    files = sorted(Path(folder).glob(glob))
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files])


def hidden(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def ffmpeg_children() -> list[str]:
    """ffmpeg processes (running or zombie) that this test process started and has not reaped."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if int(rest[1]) == os.getpid() and "ffmpeg" in name:
            found.append(f"{stat.parent.name} {name} {rest[0]}")
    return found


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and "Traceback" not in err
    return lines[0]


# --- the frames are the generator's -----------------------------------------------------------------
def test_mp4_frame_k_is_the_generators_image_for_ws_k(tmp_path, tiny_checkpoint, G, capfd):
    out = tmp_path / "a.mp4"
    assert cli("render", tiny_checkpoint, "--seeds", "1,2,3", "--frames", "3", "--size", "native", "--device", "cpu",
               "-o", out) == 0
    want = expected_frames(G, opts_for(tiny_checkpoint, out, keys=["1,2,3"]))
    got = read_video(out)
    assert got.shape == want.shape == (7, 64, 64, 3)
    err = np.abs(got.astype(int) - want).mean(axis=(1, 2, 3))
    assert err.max() < 6
    for k in range(1, 7):                                   # frame k, not its neighbour
        assert np.abs(got[k].astype(int) - want[k - 1]).mean() > err[k]
    info = ffmpeg_info(out)
    assert "h264" in info and "yuv420p" in info and "30 fps" in info
    boxes = mp4_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    summary = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("wrote ")]
    assert len(summary) == 1
    line = summary[0]
    assert str(out) in line and "7 frames" in line and "0.23 s" in line and "30 fps" in line and "64x64" in line
    assert f"{out.stat().st_size / 1e3:.3g} KB" in line and "frames/s" in line


def test_png_frames_folder_and_pattern_are_exact(tmp_path, tiny_checkpoint, G):
    want = expected_frames(G, opts_for(tiny_checkpoint, "x", keys=["4,5"], style="coarse"))
    # one frame per synthesis call, as the reference: then the PNGs are the generator's images bit for bit
    assert cli("render", tiny_checkpoint, "--seeds", "4,5", "--style", "coarse", "--frames", "3", "-q",
               "--batch-size", "1", "--size", "native", "-o", tmp_path / "folder") == 0
    assert sorted(os.listdir(tmp_path / "folder")) == [f"{k:05d}.png" for k in range(4)]
    assert np.array_equal(read_pngs(tmp_path / "folder"), want)
    assert (tmp_path / "folder.json").is_file()
    (tmp_path / "pat").mkdir()
    (tmp_path / "pat" / "keep.txt").write_text("mine")
    assert cli("render", tiny_checkpoint, "--seeds", "4,5", "--style", "coarse", "--frames", "3", "-q",
               "--batch-size", "1", "--size", "native", "-o", tmp_path / "pat" / "img_%03d.png") == 0
    assert sorted(os.listdir(tmp_path / "pat")) == ["img.json", "img_000.png", "img_001.png", "img_002.png",
                                                  "img_003.png", "keep.txt"]       # no '%03d' in a file name
    assert np.array_equal(read_pngs(tmp_path / "pat", "img_*.png"), want)
    assert hidden(tmp_path) == [] and hidden(tmp_path / "pat") == []


def test_gif_through_the_command(tmp_path, tiny_checkpoint, G):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "4", "--fps", "20", "-q", "--size", "native",
               "-o", tmp_path / "a.gif") == 0
    g = gif_blocks(tmp_path / "a.gif")
    assert g["loop"] == 0 and g["images"] == 5 and g["delays"] == [5] * 5 and g["size"] == (64, 64)
    want = expected_frames(G, opts_for(tiny_checkpoint, "x", keys=["1,2"], frames=4, fps=20))
    assert np.abs(read_video(tmp_path / "a.gif").astype(int) - want).mean() < 12
    side = json.loads((tmp_path / "a.gif.json").read_text())
    assert side["output"]["gif_delays_cs"] == [5] * 5 and side["output"]["duration"] == 0.25
    # a seamless loop: 2 transitions of 4 frames, the first frame is not repeated at the end
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "4", "--fps", "20", "--loop", "-q",
               "--size", "native", "-o", tmp_path / "loop.gif") == 0
    g = gif_blocks(tmp_path / "loop.gif")
    assert g["loop"] == 0 and g["images"] == 8 and sum(g["delays"]) == 40
    loop = read_video(tmp_path / "loop.gif").astype(int)
    assert np.abs(loop[0] - want[0]).mean() < 12 and np.abs(loop[4] - want[4]).mean() < 12
    assert np.abs(loop[-1] - loop[0]).mean() > 1


def test_codec_crf_and_x264_speed_flags_reach_the_encoder(tmp_path, tiny_checkpoint):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--codec", "h265", "--crf", "30",
               "--preset", "ultrafast", "-o", tmp_path / "h.mp4") == 0
    assert "hevc" in ffmpeg_info(tmp_path / "h.mp4") and "hvc1" in ffmpeg_info(tmp_path / "h.mp4")
    options = json.loads((tmp_path / "h.mp4.json").read_text())["options"]
    assert (options["codec"], options["crf"], options["x264_preset"]) == ("h265", 30, "ultrafast")
    sizes = {}
    for crf in (5, 45):
        assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--crf", crf,
                   "-o", tmp_path / f"c{crf}.mp4") == 0
        sizes[crf] = (tmp_path / f"c{crf}.mp4").stat().st_size
    assert sizes[45] < sizes[5] / 2


def test_preset_then_typed_flags_then_from(tmp_path, tiny_checkpoint):
    """Layers: defaults < the sidecar of --from < --preset < flags typed on the command line."""
    from interpolate.render.command import options_from_flags

    def opts(*args):
        from typer.main import get_command

        from interpolate.cli import _given, app

        ctx = get_command(app).commands["render"].make_context("render", [str(a) for a in args])
        values = {k: v for k, v in ctx.params.items() if k not in ("from_file", "preset")}
        return options_from_flags(values, _given(ctx), ctx.params["from_file"], ctx.params["preset"])[0]

    o = opts(tiny_checkpoint, "--seeds", "1,2", "--preset", "color-cycle", "--seconds", "0.5")
    assert (o.style, o.loop, o.seconds, o.keys) == ("fine", True, 0.5, ["1,2"])     # typed --seconds wins
    o = opts("--seeds", "1,2", "--preset", "veryslow")                               # an x264 speed
    assert o.x264_preset == "veryslow" and o.style == "all"
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "--psi", "0.5", "-q",
               "-o", tmp_path / "a.mp4") == 0
    o = opts("--from", tmp_path / "a.mp4.json", "--preset", "color-cycle", "--frames", "3", "-o", "b.mp4")
    assert (o.psi, o.style, o.loop, o.frames, o.output, o.checkpoint) == (0.5, "fine", True, 3, "b.mp4",
                                                                          str(Path(tiny_checkpoint).resolve()))


def test_odd_size_mp4_is_even(tmp_path, tiny_checkpoint):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--size", "33x21",
               "-o", tmp_path / "odd.mp4") == 0
    assert read_video(tmp_path / "odd.mp4").shape == (3, 22, 34, 3)
    assert json.loads((tmp_path / "odd.mp4.json").read_text())["output"]["width"] == 34


# --- geometry: --size, --fit, --grid, --label -------------------------------------------------------
def render_frames(G, opts: RenderOptions) -> np.ndarray:
    from interpolate.paths import plan_path
    from interpolate.render import render_path

    render_path(G, plan_path(G, opts), opts)
    return read_pngs(opts.output)


def test_size_and_fit_pad_or_crop(tmp_path, tiny_checkpoint, G):
    """--size resizes with Lanczos; pad centres the picture between black bars, crop fills and cuts."""
    from PIL import Image

    base = opts_for(tiny_checkpoint, tmp_path / "full", frames=2)
    full = render_frames(G, base)
    resized = lambda side: np.stack([np.asarray(Image.fromarray(f).resize((side, side), Image.LANCZOS))  # noqa: E731
                                     for f in full])
    wide = render_frames(G, dataclasses.replace(base, output=str(tmp_path / "wide"), size="96x64", fit="pad"))
    assert wide.shape == (3, 64, 96, 3)
    assert wide[:, :, :16].max() == 0 and wide[:, :, 80:].max() == 0 and np.array_equal(wide[:, :, 16:80], full)
    story = render_frames(G, dataclasses.replace(base, output=str(tmp_path / "story"), size="48x96", fit="pad"))
    assert story.shape == (3, 96, 48, 3) and story[:, :24].max() == 0 and story[:, 72:].max() == 0
    assert np.array_equal(story[:, 24:72], resized(48))
    bilinear = np.stack([np.asarray(Image.fromarray(f).resize((48, 48), Image.BILINEAR)) for f in full])
    assert not np.array_equal(story[:, 24:72], bilinear)
    square = render_frames(G, dataclasses.replace(base, output=str(tmp_path / "sq"), size="48x96", fit="crop"))
    assert np.array_equal(square, resized(96)[:, :, 24:72])
    with pytest.raises(WaifuError):
        render_frames(G, dataclasses.replace(base, output=str(tmp_path / "bad"), size="48x96", fit="stretch"))


def test_grid_cells_are_the_single_path_renders_of_their_keys(tmp_path, tiny_checkpoint, G):
    opts = opts_for(tiny_checkpoint, tmp_path / "grid", keys=["0-11"], frames=2, grid="3x2")
    assert cli("render", tiny_checkpoint, "--seeds", "0-11", "--frames", "2", "--grid", "3x2", "-q", "--size", "native",
               "-o", tmp_path / "grid") == 0
    grid = read_pngs(tmp_path / "grid").astype(int)
    assert grid.shape == (3, 128, 192, 3)
    cells = [grid[:, r * 64:(r + 1) * 64, c * 64:(c + 1) * 64] for r in range(2) for c in range(3)]
    for i, cell in enumerate(cells):
        single = expected_frames(G, dataclasses.replace(opts, keys=[f"{2 * i},{2 * i + 1}"], grid=None))
        assert np.abs(cell - single).max() <= 1          # batching changes float sums in the last bit
        assert np.mean(cell != single) < 0.01
    for i in range(6):
        for j in range(i + 1, 6):
            assert np.abs(cells[i] - cells[j]).mean() > 3
    assert cli("render", tiny_checkpoint, "--seeds", "0-10", "--grid", "3x2", "-q", "-o", tmp_path / "g2") == 2


def test_label_writes_the_seeds_in_the_bottom_left_of_each_cell(tmp_path, tiny_checkpoint, G):
    base = opts_for(tiny_checkpoint, tmp_path / "plain", keys=["0-3"], frames=2, grid="2x1")
    from interpolate.paths import plan_path
    from interpolate.render import render_paths
    from interpolate.render.video import grid_options

    for name, label in (("plain", False), ("label", True)):
        o = dataclasses.replace(base, output=str(tmp_path / name), label=label)
        render_paths(G, [plan_path(G, c) for c in grid_options(o, 2, 1)], o, cols=2, rows=1)
    plain, labelled = read_pngs(tmp_path / "plain").astype(int), read_pngs(tmp_path / "label").astype(int)
    changed = np.abs(plain - labelled).max(axis=(0, 3)) > 0            # [H, W]
    assert changed.any()
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 32                                              # bottom half only
    for c in range(2):                                                 # in each cell, at its left
        in_cell = (xs >= c * 64) & (xs < (c + 1) * 64)
        assert in_cell.any() and xs[in_cell].min() < c * 64 + 12
    assert not np.array_equal(changed[:, :64], changed[:, 64:])        # each cell its own seeds
    # the caption follows the path: 'seed 0' on the key frame, 'seed 0 → 1' in the transition
    from interpolate.render.frames import Geometry, Labeler

    paths = [plan_path(G, c) for c in grid_options(base, 2, 1)]
    lab = Labeler(paths, Geometry(128, 64, 128, 64), 2, 1, 64, 64)
    assert lab.text(paths[0], 0) == "seed 0" and lab.text(paths[1], 0) == "seed 2"
    assert lab.text(paths[1], 1) == "seed 2 -> 3" and lab.text(paths[1], 2) == "seed 3"


def test_label_captions_use_only_glyphs_the_font_has(G):
    import numpy as np

    from interpolate.paths import plan_path
    from interpolate.render.frames import Geometry, Labeler

    path = plan_path(G, RenderOptions(keys=["2,3"], frames=2))
    lab = Labeler([path], Geometry(64, 64, 64, 64), 1, 1, 64, 64)
    text = lab.text(path, 1)
    missing = np.asarray(lab.font.getmask("\U000F0000")).tobytes()          # a private-use code point: no glyph
    assert [c for c in text if c != " " and np.asarray(lab.font.getmask(c)).tobytes() == missing] == []


# --- safety -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "pat/%05d.png"])
def test_the_output_appears_only_when_complete(tmp_path, tiny_checkpoint, G, name):
    from interpolate.paths import plan_path
    from interpolate.render import render_path

    out = tmp_path / name
    final = out.parent if "%" in name else out
    final.parent.mkdir(exist_ok=True)
    seen = []

    def look(index, frame):
        if index == 2:
            folder = final if "%" in name else final.parent
            visible = [n for n in os.listdir(final) if not n.startswith(".")] if "%" in name else final.exists()
            seen.append((hidden(folder), visible))
        return frame

    opts = opts_for(tiny_checkpoint, out, batch_size=1)
    render_path(G, plan_path(G, opts), opts, frame_hook=look)
    (temps, present), = seen
    assert len(temps) >= 1 and all(t.endswith(".part") for t in temps)      # a temp beside the output ...
    assert present in (False, [])                                          # ... and no output yet
    folder = final if "%" in name else final.parent
    assert hidden(folder) == []                                            # renamed, nothing left
    assert final.exists()
    if final.is_file():                                 # the temp's private 0600 is not left on the output
        umask = os.umask(0)
        os.umask(umask)
        assert final.stat().st_mode & 0o777 == 0o666 & ~umask


class Boom(Exception):
    pass


@pytest.mark.parametrize("name, exc", [("a.mp4", Boom), ("a.gif", Boom), ("a.webp", KeyboardInterrupt),
                                       ("frames_dir", KeyboardInterrupt), ("pat/%05d.png", Boom)])
def test_an_error_mid_render_leaves_the_older_output_untouched(tmp_path, tiny_checkpoint, G, name, exc):
    from interpolate.paths import plan_path
    from interpolate.render import render_path

    out = tmp_path / name
    opts = opts_for(tiny_checkpoint, out, batch_size=1, overwrite=True)
    final = out.parent if "%" in name else out
    if "%" in name or "." not in name:                                     # the older output: frames ...
        final.mkdir()
        for k in range(5):
            (final / f"{k:05d}.png").write_bytes(b"old frame %d" % k)
        (final / "notes.txt").write_text("mine")
    else:                                                                  # ... or a file
        final.write_bytes(b"older " + name.encode())

    def snapshot():
        files = sorted(p for p in final.rglob("*")) if final.is_dir() else [final]
        return {str(p): p.read_bytes() for p in files}, sorted(os.listdir(tmp_path))

    before = snapshot()

    def fail(index, frame):
        if index == 2:
            raise exc()
        return frame

    opts2 = dataclasses.replace(opts, keys=["7,8"])
    with pytest.raises(exc):
        render_path(G, plan_path(G, opts2), opts2, frame_hook=fail)
    assert snapshot() == before
    assert hidden(tmp_path) == [] and (not final.is_dir() or hidden(final) == [])
    assert ffmpeg_children() == []                                         # ffmpeg was stopped and reaped


def test_ctrl_c_during_generation_removes_the_temp(tmp_path, tiny_checkpoint, G, monkeypatch):
    """Ctrl-C lands in the main thread, which is synthesizing; the writer thread is stopped too."""
    from interpolate.paths import plan_path
    from interpolate.render import render_path

    out = tmp_path / "a.mp4"
    out.write_bytes(b"older video")
    calls = {"n": 0}
    real = G.synthesis.forward

    def synth(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    opts = opts_for(tiny_checkpoint, out, batch_size=1, overwrite=True)
    path = plan_path(G, opts)
    monkeypatch.setattr(G.synthesis, "forward", synth)
    with pytest.raises(KeyboardInterrupt):
        render_path(G, path, opts)
    assert out.read_bytes() == b"older video" and hidden(tmp_path) == [] and ffmpeg_children() == []
    import threading

    assert not [t for t in threading.enumerate() if t.name == "waifu-morph-writer" and t.is_alive()]


def test_a_real_ctrl_c_in_a_terminal_leaves_nothing(tmp_path, tiny_checkpoint):
    """SIGINT to the whole foreground process group, as a terminal sends it (ffmpeg included)."""
    import signal
    import subprocess
    import time

    out = tmp_path / "a.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "interpolate", "render", tiny_checkpoint, "--seeds", "1,2",
                             "--frames", "100000", "--device", "cpu", "-o", str(out)],
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any(n.endswith(".part") for n in os.listdir(tmp_path)) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        err = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted: nothing partial was left behind"
    assert os.listdir(tmp_path) == []


def test_existing_output_is_refused_without_overwrite(tmp_path, tiny_checkpoint, capfd):
    out = tmp_path / "a.mp4"
    out.write_bytes(b"mine")
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", out) == 2
    line = one_error_line(capfd.readouterr().err)
    assert "exists" in line and "--overwrite" in line
    assert out.read_bytes() == b"mine" and hidden(tmp_path) == []
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "00000.png").write_bytes(b"x")
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "frames" / "%05d.png") == 2
    assert (tmp_path / "frames" / "00000.png").read_bytes() == b"x"
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "-y", "-o", out) == 0
    assert out.read_bytes() != b"mine" and len(read_video(out)) == 3


@pytest.mark.parametrize("args, words", [
    (["-o", "a.avi"], ".mp4"),
    (["-o", "f/%05d.jpg"], "%05d.png"),
    (["--crf", "99"], "--crf"),
    (["--codec", "vp9"], "h265"),
    (["--x264-preset", "warp"], "preset"),
    (["--gif-quality", "ultra", "-o", "a.gif"], "hq"),
    (["--max-size", "lots", "-o", "a.gif"], "--max-size"),
    (["--max-size", "5MB", "-o", "frames/"], "--max-size"),
    (["--size", "640"], "--size"),
    (["--size", "9000x10"], "--size"),
    (["--fit", "stretch", "--size", "32x32"], "pad"),
    (["--grid", "0x2"], "--grid"),
    (["--precision", "fp8"], "precision"),
    (["--batch-size", "0"], "--batch-size"),
    (["--precision", "fp16", "--device", "cpu"], "fp16"),
])
def test_bad_output_options_are_one_line_errors_before_anything_is_written(tmp_path, tiny_checkpoint, capfd,
                                                                           monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", *args) == 2
    assert words in one_error_line(capfd.readouterr().err)
    assert os.listdir(tmp_path) in ([], ["frames"])


def test_a_pattern_replaced_with_y_drops_the_older_longer_render(tmp_path, tiny_checkpoint, G):
    from interpolate.paths import plan_path
    from interpolate.render import render_path

    pat = tmp_path / "pat"
    pat.mkdir()
    (pat / "keep.txt").write_text("mine")
    long = opts_for(tiny_checkpoint, pat / "%03d.png", frames=4)
    render_path(G, plan_path(G, long), long)
    assert len(list(pat.glob("*.png"))) == 5
    short = dataclasses.replace(long, frames=2, overwrite=True)
    render_path(G, plan_path(G, short), short)
    assert sorted(os.listdir(pat)) == ["000.png", "001.png", "002.png", "frames.json", "keep.txt"]


def test_ctrl_c_through_the_command_exits_130_and_leaves_nothing(tmp_path, tiny_checkpoint, monkeypatch, capfd):
    import interpolate.render.pipeline as pipeline

    def interrupted(self, start, stop):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.FrameSource, "synthesize", interrupted)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "a.gif") == 130
    assert "interrupted" in capfd.readouterr().err
    assert os.listdir(tmp_path) == []


def test_a_full_disk_while_writing_frames_is_one_line(tmp_path, tiny_checkpoint, monkeypatch, capfd):
    from PIL import Image

    def full(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "frames") == 2
    assert "disk is full" in one_error_line(capfd.readouterr().err)
    assert os.listdir(tmp_path) == []


def mounted_tmpfs(where: Path, options: str):
    """Mount a tmpfs at `where` (root only; skips the test where mounting is not allowed); yields, unmounts."""
    import shutil
    import subprocess

    where.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 KiB file system: full after a few frames."""
    yield from mounted_tmpfs(tmp_path / "disk", "size=16k")


@pytest.fixture
def read_only_disk(tmp_path):
    """A read-only file system: unwritable even for root."""
    yield from mounted_tmpfs(tmp_path / "ro", "ro,size=16k")


@pytest.mark.parametrize("name", ["a.mp4", "frames/", "sub/a.gif"])
def test_a_read_only_folder_is_one_line_and_exit_2(read_only_disk, tiny_checkpoint, capfd, name):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", read_only_disk / name) == 2
    line = one_error_line(capfd.readouterr().err)
    assert "writable" in line or "cannot create the output folder" in line


@pytest.mark.parametrize("name", ["a.mp4", "a.gif", "frames"])
def test_a_full_disk_is_one_line_and_leaves_nothing(tiny_disk, tiny_checkpoint, capfd, name):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "30", "--size", "200x200", "--noise", "random",
               "-o", tiny_disk / name) == 2
    line = one_error_line(capfd.readouterr().err)
    assert "disk is full" in line and f"{name}'" in line and ".part" not in line
    assert os.listdir(tiny_disk) == []


def test_missing_ffmpeg_is_one_line_and_exit_2(tmp_path, tiny_checkpoint, monkeypatch, capfd):
    import imageio_ffmpeg

    def gone():
        raise RuntimeError("No ffmpeg exe could be found. Install ffmpeg on your system.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", gone)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "a.mp4") == 2
    assert "ffmpeg" in one_error_line(capfd.readouterr().err)
    assert os.listdir(tmp_path) == []


def test_unwritable_output_folder_is_one_line_and_exit_2(tmp_path, tiny_checkpoint, capfd):
    (tmp_path / "file").write_text("not a folder")
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "file" / "a.mp4") == 2
    assert "folder" in one_error_line(capfd.readouterr().err)
    if os.geteuid() != 0:                            # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", ro / "a.mp4") == 2
            assert "not writable" in one_error_line(capfd.readouterr().err)
        finally:
            ro.chmod(0o700)


def test_unwritable_folder_found_when_writing_is_one_line(tmp_path, tiny_checkpoint, G, monkeypatch, capfd):
    """A folder that passes the check but refuses the temp file (a read-only mount, a race)."""
    import tempfile as tf

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tf, "mkstemp", denied)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-o", tmp_path / "a.mp4") == 2
    assert "permission denied" in one_error_line(capfd.readouterr().err)


def test_max_size_that_cannot_be_met_through_the_command(tmp_path, tiny_checkpoint, capfd):
    out = tmp_path / "a.gif"
    out.write_bytes(b"older gif")
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-y", "--max-size", "300B", "-o", out) == 2
    assert "--max-size" in one_error_line(capfd.readouterr().err)
    assert out.read_bytes() == b"older gif" and hidden(tmp_path) == []


def test_max_size_reports_what_changed(tmp_path, tiny_checkpoint, capfd):
    out = tmp_path / "a.gif"
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "3", "--size", "256x256", "--noise", "random",
               "--max-size", "40KB", "-o", out) == 0
    err = capfd.readouterr().err
    assert out.stat().st_size <= 40_000
    note = [ln for ln in err.splitlines() if "max-size" in ln]
    assert note and "width 256 ->" in note[0]
    g = gif_blocks(out)
    assert g["size"][0] < 256
    side = json.loads((tmp_path / "a.gif.json").read_text())
    assert side["output"]["width"] == g["size"][0] and side["output"]["notes"]


def test_progress_bar_on_a_terminal_and_the_callers_progress(tmp_path, tiny_checkpoint, G):
    import io

    from rich.console import Console

    from interpolate.paths import plan_path
    from interpolate.render import render, render_path

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=160)
    result = render(opts_for(tiny_checkpoint, tmp_path / "a", quiet=False, batch_size=2), console=term)
    shown = buf.getvalue()
    assert "frames/s" in shown and "ETA" in shown and "4/4" in shown and "a" in shown
    assert result.summary() in shown.replace("\n", "")
    quiet_buf = io.StringIO()
    render(opts_for(tiny_checkpoint, tmp_path / "b", quiet=True), console=Console(file=quiet_buf, force_terminal=True))
    assert quiet_buf.getvalue() == ""
    calls = []
    opts = opts_for(tiny_checkpoint, tmp_path / "c", batch_size=3)
    render_path(G, plan_path(G, opts), opts, on_frames=lambda *a: calls.append(a))
    assert calls[0] == (0, 4) and sum(n for (n,) in calls[1:]) == 4 and len(calls) == 3


def test_quiet_prints_nothing(tmp_path, tiny_checkpoint, capfd):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "--fps", "30", "-q",
               "-o", tmp_path / "a.gif") == 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --- reproducible -----------------------------------------------------------------------------------
def test_sidecar_records_checkpoint_options_and_version(tmp_path, tiny_checkpoint):
    from interpolate import __version__

    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "--psi", "0.7", "-q",
               "-o", tmp_path / "a.mp4") == 0
    side = json.loads((tmp_path / "a.mp4.json").read_text())
    sha = hashlib.sha256(Path(tiny_checkpoint).read_bytes()).hexdigest()
    assert side["checkpoint_sha256"] == sha == side["checkpoint"]["sha256"]
    assert set(side["options"]) == set(RenderOptions.field_names())
    assert side["options"]["psi"] == 0.7 and side["options"]["frames"] == 2
    assert side["version"] == __version__ and __version__ in side["tool"]
    assert side["output"]["frames"] == 3
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--no-sidecar", "-y",
               "-o", tmp_path / "a.mp4") == 0
    assert not (tmp_path / "a.mp4.json").exists()        # the old sidecar would describe another render


def test_render_from_sidecar_is_bit_identical(tmp_path, tiny_checkpoint, capfd):
    assert cli("render", tiny_checkpoint, "--seeds", "5,6,7", "--style", "middle", "--frames", "2", "--psi", "0.6",
               "--noise", "random", "--noise-seed", "3", "--easing", "smoothstep", "-q", "-y", "-o", tmp_path / "first") == 0
    assert cli("render", "--from", tmp_path / "first.json", "-q", "-o", tmp_path / "again") == 0
    first, again = read_pngs(tmp_path / "first"), read_pngs(tmp_path / "again")
    assert first.shape == (5, 256, 256, 3) and np.array_equal(first, again)      # the default size, replayed
    side = json.loads((tmp_path / "again.json").read_text())
    assert side["options"]["style"] == "middle" and side["options"]["noise_seed"] == 3
    # flags typed with --from win
    assert cli("render", "--from", tmp_path / "first.json", "--psi", "1", "-q", "-o", tmp_path / "other") == 0
    assert not np.array_equal(read_pngs(tmp_path / "other"), first)
    # replaying does not silently replace the file it came from (the -y recorded in the sidecar does not count)
    capfd.readouterr()
    assert cli("render", "--from", tmp_path / "first.json") == 2
    assert "exists" in one_error_line(capfd.readouterr().err)
    assert cli("render", "--from", tmp_path / "first.json", "-y", "-q") == 0
    assert np.array_equal(read_pngs(tmp_path / "first"), first)


def test_render_from_sidecar_refuses_another_checkpoint(tmp_path, tiny_checkpoint, capfd):
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "-o", tmp_path / "a") == 0
    side = json.loads((tmp_path / "a.json").read_text())
    side["checkpoint_sha256"] = side["checkpoint"]["sha256"] = "0" * 64
    (tmp_path / "b.json").write_text(json.dumps(side))
    assert cli("render", "--from", tmp_path / "b.json", "-o", tmp_path / "b") == 2
    assert "SHA-256" in one_error_line(capfd.readouterr().err)
    assert cli("render", "--from", tmp_path / "missing.json", "-o", tmp_path / "c") == 2
    assert "does not exist" in one_error_line(capfd.readouterr().err)
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    assert cli("render", "--from", tmp_path / "foreign.json", "-o", tmp_path / "c") == 2
    assert "not a waifu-morph sidecar" in one_error_line(capfd.readouterr().err)
    assert cli("render", "--from", tmp_path / "a", "-q", "-o", tmp_path / "d") == 0     # finds a.json itself
    assert np.array_equal(read_pngs(tmp_path / "a"), read_pngs(tmp_path / "d"))


def test_save_latents_then_from_latents_is_bit_identical(tmp_path, tiny_checkpoint):
    lat = tmp_path / "lat.npz"
    assert cli("render", tiny_checkpoint, "--seeds", "8,9,10", "--style", "cascade", "--frames", "3",
               "--save-latents", lat, "-q", "-o", tmp_path / "a") == 0
    assert lat.is_file()
    assert cli("render", tiny_checkpoint, "--from-latents", lat, "--seeds", "1,2", "-q", "-o", tmp_path / "b") == 0
    a, b = read_pngs(tmp_path / "a"), read_pngs(tmp_path / "b")
    assert a.shape == (7, 256, 256, 3) and np.array_equal(a, b)


# --- the shipped model ------------------------------------------------------------------------------
@pytest.mark.skipif(not SHIPPED.is_file(), reason="checkpoints/chibi-64.pt is not there")
def test_default_checkpoint_renders_the_issue_example(tmp_path, monkeypatch):
    from interpolate.loading import load_generator

    monkeypatch.chdir(tmp_path)
    assert cli("render", "--seeds", "3,17,42", "--style", "fine", "--frames", "2", "--device", "cpu", "-q",
               "-o", "waifu.mp4") == 0
    side = json.loads((tmp_path / "waifu.mp4.json").read_text())
    assert side["checkpoint_sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    G = load_generator(str(SHIPPED), device="cpu")
    from PIL import Image

    want = expected_frames(G, opts_for(None, "x", keys=["3,17,42"], style="fine", frames=2))
    want = np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.LANCZOS)) for f in want])
    got = read_video(tmp_path / "waifu.mp4")
    assert got.shape == want.shape == (5, 256, 256, 3)        # the 64 px model, upscaled by default (Lanczos)
    assert np.abs(got.astype(int) - want).mean() < 6


# --- the default size of a small model --------------------------------------------------------------
def test_a_small_model_is_upscaled_to_256_px_by_default_and_native_is_one_flag_away(tmp_path, tiny_checkpoint, G, capfd):
    """A 64 px model gives 256x256 (Lanczos of the generator's frames), the summary says so, --size wins,
    --size native keeps 64x64, the sidecar replays the same size, and an older sidecar (written when the
    default was the model's size) still replays at 64x64."""
    from PIL import Image

    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "--batch-size", "1", "-o", tmp_path / "big") == 0
    line = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("wrote ")][0]
    assert "256x256 (upscaled from 64x64, Lanczos; --size native keeps 64x64)" in line
    big = read_pngs(tmp_path / "big")
    native = expected_frames(G, opts_for(tiny_checkpoint, "x", frames=2))
    assert big.shape == (3, 256, 256, 3)
    assert np.array_equal(big, np.stack([np.asarray(Image.fromarray(f).resize((256, 256), Image.LANCZOS)) for f in native]))
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--size", "native", "-o", tmp_path / "n") == 0
    assert read_pngs(tmp_path / "n").shape == (3, 64, 64, 3)
    assert cli("render", tiny_checkpoint, "--seeds", "1,2", "--frames", "2", "-q", "--size", "96x96", "-o", tmp_path / "s") == 0
    assert read_pngs(tmp_path / "s").shape == (3, 96, 96, 3)
    assert cli("render", tiny_checkpoint, "--seeds", "0-7", "--frames", "2", "-q", "--grid", "2x2", "-o", tmp_path / "g") == 0
    assert read_pngs(tmp_path / "g").shape == (3, 256, 256, 3)                       # 128x128 grid -> 256 short side
    assert cli("render", "--from", tmp_path / "big.json", "-q", "-o", tmp_path / "again") == 0
    assert np.array_equal(read_pngs(tmp_path / "again"), big)
    old = json.loads((tmp_path / "big.json").read_text())
    del old["size_default"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert cli("render", "--from", tmp_path / "old.json", "-q", "-o", tmp_path / "old") == 0
    assert read_pngs(tmp_path / "old").shape == (3, 64, 64, 3)
