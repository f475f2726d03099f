"""`--encoder auto|x264|nvenc` for MP4 (interpolate/render/codecs.py): which encoder a render uses, the
ffmpeg command line each gets, the one-line error without NVENC, and the choice through sidecars,
presets, batch jobs, reels and shards. This machine has no GPU: NVENC tests that need one skip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from interpolate.errors import WaifuError
from interpolate.render.codecs import choose_encoder, nvenc_problem
from interpolate.render.encode import EncodeSettings, make_encoder, mp4_args
from interpolate.render.ffmpeg import ffmpeg_exe
from test_render_cli import cli  # noqa: E402  (the console script's entry point; its exit code)

CLIP = ["--seeds", "1,2", "--frames", "4", "--size", "native", "-q"]
NO_NVENC = nvenc_problem("h264") is not None
needs_no_nvenc = pytest.mark.skipif(not NO_NVENC, reason="NVENC works on this machine")

# the MP4 output arguments the renderer used before --encoder existed (x264, the defaults)
TODAYS_X264 = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-colorspace", "bt709", "-color_primaries",
               "bt709", "-color_trc", "bt709", "-color_range", "tv", "-movflags", "+faststart", "-f", "mp4"]


def sidecar(path) -> dict:
    return json.loads(Path(str(path) + ".json").read_text())


def one_line_error(capsys, *args) -> str:
    capsys.readouterr()
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def argv_of(settings: EncodeSettings, tmp_path, width: int = 64, height: int = 48) -> list[str]:
    """The ffmpeg command line an MP4 encoder runs (the encoder is started, then stopped)."""
    enc = make_encoder("mp4", str(tmp_path / "x.mp4.part"), width, height, settings)
    try:
        return enc.pipe.cmd
    finally:
        enc.abort()


def after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


# --- auto on a CPU: x264, the bytes of before ---------------------------------------------------------
def test_auto_on_cpu_picks_x264_and_writes_todays_bytes(tmp_path):
    assert cli("render", *CLIP, "-o", tmp_path / "auto.mp4") == 0
    assert cli("render", *CLIP, "--encoder", "x264", "-o", tmp_path / "x264.mp4") == 0
    assert cli("render", *CLIP, "-o", tmp_path / "frames/") == 0
    frames = np.stack([np.asarray(Image.open(p))[..., :3] for p in sorted((tmp_path / "frames").glob("*.png"))])
    n, h, w, _ = frames.shape
    today = tmp_path / "today.mp4"                   # the same frames through the command line of before
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                    "rgb24", "-s", f"{w}x{h}", "-framerate", "30", "-i", "pipe:0", "-an", *TODAYS_X264, str(today)],
                   input=frames.tobytes(), check=True)
    auto = (tmp_path / "auto.mp4").read_bytes()
    assert auto == today.read_bytes() == (tmp_path / "x264.mp4").read_bytes()
    side = sidecar(tmp_path / "auto.mp4")
    assert side["options"]["encoder"] == "x264" and side["output"]["encoder"] == "libx264"


def test_the_summary_line_names_the_encoder(tmp_path, capfd):
    assert cli("render", "--seeds", "1,2", "--frames", "2", "--size", "native", "-o", tmp_path / "a.mp4") == 0
    line = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("wrote ")][0]
    assert "libx264" in line


def test_auto_decides_by_device_and_probe_only():
    misses = nvenc_problem.cache_info().misses
    assert choose_encoder("auto", "cpu", "h264") == ("x264", None)       # no probe without CUDA
    assert choose_encoder("auto", "mps", "h265") == ("x264", None)
    assert nvenc_problem.cache_info().misses == misses
    first = choose_encoder("auto", "cuda", "h264")
    assert choose_encoder("auto", "cuda", "h264") == first                # cached: one probe per codec
    assert nvenc_problem.cache_info().misses <= misses + 1
    if NO_NVENC:
        assert first[0] == "x264" and "no NVENC here" in first[1] and "h264_nvenc" in first[1]
    else:
        assert first == ("nvenc", None)
    with pytest.raises(WaifuError, match="unknown encoder 'gpu'; use auto"):
        choose_encoder("gpu", "cpu", "h264")


# --- the command lines ----------------------------------------------------------------------------------
def test_x264_command_line_is_unchanged(tmp_path):
    argv = argv_of(EncodeSettings(encoder="x264"), tmp_path)
    i = argv.index("-vf")
    assert argv[i:i + len(TODAYS_X264)] == TODAYS_X264
    h265 = argv_of(EncodeSettings(encoder="x264", codec="h265", crf=24), tmp_path)
    assert after(h265, "-c:v") == "libx265" and after(h265, "-crf") == "24" and after(h265, "-tag:v") == "hvc1"
    assert after(h265, "-x265-params") == "log-level=error"


def test_nvenc_command_line_maps_crf_to_constant_quality(tmp_path):
    argv = argv_of(EncodeSettings(encoder="nvenc", crf=23), tmp_path)
    assert after(argv, "-c:v") == "h264_nvenc"
    assert (after(argv, "-rc"), after(argv, "-cq"), after(argv, "-b:v")) == ("vbr", "23", "0")
    assert (after(argv, "-preset"), after(argv, "-tune"), after(argv, "-g")) == ("p4", "hq", "250")
    assert "-crf" not in argv and "veryfast" not in argv
    assert after(argv, "-vf").endswith("format=yuv420p") and after(argv, "-movflags") == "+faststart"
    assert after(argv, "-colorspace") == "bt709" and argv[-3:-1] == ["-f", "mp4"]
    hevc = argv_of(EncodeSettings(encoder="nvenc", codec="h265", crf=0), tmp_path)
    assert after(hevc, "-c:v") == "hevc_nvenc" and after(hevc, "-cq") == "1"      # CRF 0: NVENC's best cq
    assert after(hevc, "-tag:v") == "hvc1" and "-x265-params" not in hevc
    budget = mp4_args(EncodeSettings(encoder="nvenc", max_bytes=10**6), bitrate=400_000)    # --max-size retries
    assert after(budget, "-c:v") == "h264_nvenc" and after(budget, "-b:v") == "400000" and "-cq" not in budget
    assert after(budget, "-maxrate") == "480000"


def test_nvenc_arguments_are_ones_this_ffmpeg_accepts(tmp_path):
    """ffmpeg checks option names and values before it opens the encoder: without a GPU the only
    complaint may be the missing CUDA driver; with NVENC the file is written."""
    w, h = 256, 128
    head = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
            "-framerate", "30", "-i", "pipe:0"]
    commands = [argv_of(EncodeSettings(encoder="nvenc", crf=18), tmp_path, w, h),
                argv_of(EncodeSettings(encoder="nvenc", codec="h265", crf=0), tmp_path, w, h),
                [*head, *mp4_args(EncodeSettings(encoder="nvenc", max_bytes=10**6), bitrate=400_000), str(tmp_path / "b.mp4")]]
    for argv in commands:
        argv = [a for a in argv if a not in ("-loglevel", "error")]
        proc = subprocess.run(argv, input=bytes(w * h * 3 * 2), capture_output=True)
        err = proc.stderr.decode("utf-8", "replace")
        if NO_NVENC:
            assert proc.returncode != 0 and "libcuda" in err, err[-500:]
            for complaint in ("Unrecognized option", "Unable to parse", "Option not found", "not used"):
                assert complaint not in err, err[-500:]
        else:
            assert proc.returncode == 0, err[-500:]


def test_encode_settings_take_a_chosen_encoder_not_auto(tmp_path):
    with pytest.raises(WaifuError, match="x264 or nvenc; resolve .auto. with render.codecs.choose_encoder"):
        make_encoder("mp4", str(tmp_path / "x.mp4"), 64, 64, EncodeSettings(encoder="auto"))


# --- nvenc without NVENC ------------------------------------------------------------------------------
@needs_no_nvenc
def test_nvenc_without_nvenc_is_one_line_and_writes_nothing(tmp_path, capsys):
    err = one_line_error(capsys, "render", *CLIP, "--encoder", "nvenc", "-o", tmp_path / "new" / "a.mp4")
    assert "--encoder nvenc: NVENC does not work here" in err and "--encoder x264" in err
    assert not (tmp_path / "new").exists()
    old = tmp_path / "old.mp4"
    assert cli("render", *CLIP, "-o", old) == 0
    before = old.read_bytes(), old.with_name("old.mp4.json").read_bytes()
    one_line_error(capsys, "render", *CLIP, "--encoder", "nvenc", "-y", "-o", old)
    assert (old.read_bytes(), old.with_name("old.mp4.json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.mp4", "old.mp4.json"]     # no temp files
    err = one_line_error(capsys, "render", *CLIP, "--encoder", "nvenc", "--codec", "h265", "-o", tmp_path / "b.mp4")
    assert "hevc_nvenc" in err
    assert not (tmp_path / "b.mp4").exists()


@needs_no_nvenc
def test_nvenc_without_nvenc_fails_in_the_python_api_before_any_file(tmp_path):
    from interpolate.loading import load_generator
    from interpolate.paths import plan_path
    from interpolate.paths.spec import PathSpec, Timing
    from interpolate.render import OutputSpec, render_path

    G = load_generator(str(Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"), device="cpu")
    path = plan_path(G, [1, 2], PathSpec(timing=Timing(frames=2)))
    with pytest.raises(WaifuError, match="NVENC does not work here"):
        render_path(G, path, OutputSpec(output=str(tmp_path / "a.mp4"), encoder="nvenc", quiet=True))
    assert list(tmp_path.iterdir()) == []


def test_gif_frames_and_webp_ignore_the_encoder(tmp_path):
    assert cli("render", *CLIP, "--encoder", "nvenc", "-o", tmp_path / "a.gif") == 0
    assert sidecar(tmp_path / "a.gif")["options"]["encoder"] == "nvenc"     # as given: it did not apply
    assert "encoder" not in sidecar(tmp_path / "a.gif")["output"]


def test_unknown_encoder_is_one_line(tmp_path, capsys):
    err = one_line_error(capsys, "render", *CLIP, "--encoder", "quicksync", "-o", tmp_path / "a.mp4")
    assert "unknown encoder 'quicksync'" in err
    assert list(tmp_path.iterdir()) == []


# --- round trips: --from, presets, batch, reels, shards ---------------------------------------------------
def test_from_replays_the_encoder_that_was_used(tmp_path, capsys):
    a = tmp_path / "a.mp4"
    assert cli("render", *CLIP, "-o", a) == 0
    assert cli("render", "--from", str(a) + ".json", "-q", "-o", tmp_path / "again.mp4") == 0
    assert (tmp_path / "again.mp4").read_bytes() == a.read_bytes()
    assert sidecar(tmp_path / "again.mp4")["options"]["encoder"] == "x264"
    if NO_NVENC:                     # a sidecar of an NVENC render, replayed here: its encoder, so one line
        data = sidecar(a)
        data["options"]["encoder"] = "nvenc"
        Path(str(a) + ".json").write_text(json.dumps(data))
        err = one_line_error(capsys, "render", "--from", str(a) + ".json", "-q", "-o", tmp_path / "b.mp4")
        assert "--encoder nvenc" in err and not (tmp_path / "b.mp4").exists()
        assert cli("render", "--from", str(a) + ".json", "--encoder", "x264", "-q", "-o", tmp_path / "b.mp4") == 0
        assert (tmp_path / "b.mp4").read_bytes() == a.read_bytes()


def test_a_preset_sets_the_encoder(tmp_path, capsys):
    preset = tmp_path / "mine.toml"
    preset.write_text('description = "x264 always"\nencoder = "x264"\n')
    assert cli("render", *CLIP, "--preset", preset, "-o", tmp_path / "a.mp4") == 0
    assert sidecar(tmp_path / "a.mp4")["options"]["encoder"] == "x264"
    preset.write_text('description = "bad"\nencoder = 3\n')
    assert "'encoder' in" in one_line_error(capsys, "render", *CLIP, "--preset", preset, "-o", tmp_path / "b.mp4")


def test_batch_jobs_take_the_encoder_key_and_resume(tmp_path, capfd):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text("[defaults]\nframes = 2\nsize = 'native'\n"
                    "[[job]]\nkeys = '1,2'\noutput = 'auto.mp4'\n"
                    "[[job]]\nkeys = '1,2'\noutput = 'x.mp4'\nencoder = 'x264'\n"
                    + ("[[job]]\nkeys = '1,2'\noutput = 'nv.mp4'\nencoder = 'nvenc'\n" if NO_NVENC else ""))
    capfd.readouterr()
    assert cli("batch", jobs, "-q") == (1 if NO_NVENC else 0)
    captured = capfd.readouterr()
    err = captured.err + captured.out
    assert sidecar(tmp_path / "auto.mp4")["options"]["encoder"] == "x264"
    assert (tmp_path / "auto.mp4").read_bytes() == (tmp_path / "x.mp4").read_bytes()
    if NO_NVENC:
        assert "failed job 3 (nv.mp4): --encoder nvenc: NVENC does not work here" in err
        assert not (tmp_path / "nv.mp4").exists()
        jobs.write_text(jobs.read_text().rsplit("[[job]]", 1)[0])
    assert cli("batch", jobs, "-q") == 0                   # 'auto' matches the x264 it chose: both skipped
    assert capfd.readouterr().out.count("skipped") >= 2


@needs_no_nvenc
def test_a_reel_takes_the_encoder_key(tmp_path, capsys):
    reel = tmp_path / "r.toml"
    reel.write_text("[reel]\noutput = 'reel.mp4'\nfps = 10\nsize = 'native'\nencoder = 'nvenc'\n"
                    "[[segment]]\nkeys = '1,2'\nseconds = 0.2\n")
    assert "--encoder nvenc" in one_line_error(capsys, "reel", reel)
    assert not (tmp_path / "reel.mp4").exists()
    reel.write_text(reel.read_text().replace("'nvenc'", "'x264'"))
    assert cli("reel", reel, "-q") == 0
    assert sidecar(tmp_path / "reel.mp4")["options"]["encoder"] == "x264"


def test_shard_parts_of_different_encoders_are_not_joined(tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    for i in range(2):
        assert cli("render", *CLIP, "--shard", f"{i}/2", "-o", out) == 0
    assert out.exists() and sidecar(out)["output"]["encoder"] == "libx264"
    part = tmp_path / "clip.part-1-of-2.mp4.json"
    data = json.loads(part.read_text())
    data["output"]["encoder"] = "h264_nvenc"                 # as if auto had found NVENC on that worker
    part.write_text(json.dumps(data))
    err = one_line_error(capsys, "join", tmp_path / "clip.part-0-of-2.mp4", tmp_path / "clip.part-1-of-2.mp4",
                         "-o", tmp_path / "joined.mp4")
    assert "different encoders (part 0: libx264, part 1: h264_nvenc)" in err
    assert not (tmp_path / "joined.mp4").exists()


# --- with NVENC (a GPU box: `pytest -k cuda`, as bench/gpu_check.py runs them) --------------------------
needs_nvenc = pytest.mark.skipif(NO_NVENC, reason="no working NVENC here (h264_nvenc probe failed)")
NV_CLIP = ["--seeds", "1,2,3", "--frames", "5", "-q"]         # 256x256 (NVENC's smallest frame is larger than 64 px)


def frame_count(path) -> int:
    from test_render_encode import read_video

    return len(read_video(path))


@needs_nvenc
def test_cuda_nvenc_render_writes_a_playable_mp4(tmp_path):
    from test_render_encode import ffmpeg_info, mp4_boxes

    out = tmp_path / "nv.mp4"
    assert cli("render", *NV_CLIP, "--encoder", "nvenc", "-o", out) == 0
    info = ffmpeg_info(out)
    assert "h264" in info and "yuv420p" in info and "256x256" in info, info
    assert mp4_boxes(out).index("moov") < mp4_boxes(out).index("mdat")          # faststart
    assert frame_count(out) == 11
    side = sidecar(out)
    assert side["options"]["encoder"] == "nvenc" and side["output"]["encoder"] == "h264_nvenc"
    assert cli("render", *NV_CLIP, "--encoder", "nvenc", "-o", tmp_path / "again.mp4") == 0
    assert (tmp_path / "again.mp4").read_bytes() == out.read_bytes()             # same command, same bytes


@needs_nvenc
def test_cuda_nvenc_shards_join_by_stream_copy(tmp_path):
    out = tmp_path / "clip.mp4"
    for i in range(2):
        assert cli("render", *NV_CLIP, "--encoder", "nvenc", "--shard", f"{i}/2", "-o", out) == 0
    assert frame_count(out) == 11 and sidecar(out)["output"]["encoder"] == "h264_nvenc"
