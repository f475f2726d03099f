"""`render --audio`: keys on the beats, the song muxed in sync, reactions on the frame of the hit,
replays from the sidecar and latents, and one-line errors with nothing partial left behind."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from songs import RATE, beat_times, click_track, convert, write_wav  # noqa: E402
from test_render_cli import cli, ffmpeg_children  # noqa: E402

from interpolate.render.ffmpeg import ffmpeg_exe  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FPS = 20.0


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from fakes import tiny_stylegan2_file

    return tiny_stylegan2_file(tmp_path_factory.mktemp("ckpt"), channel_base=256, channel_max=8)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """6 s of clicks at 120 BPM (jittered), first click at 0.5 s; as mp3 (what users bring)."""
    folder = tmp_path_factory.mktemp("song")
    truth = beat_times([(120, 5.5)], start=0.5, jitter=0.008, seed=3)
    wav = write_wav(folder / "clicks.wav", click_track(truth, 6.5))
    return convert(wav, ".mp3"), truth


def render(ckpt, out, *args) -> int:
    return cli("render", ckpt, "--seeds", "1,2,3", "--fps", FPS, "--device", "cpu", "-o", out, *args)


def decoded_audio(path) -> np.ndarray:
    """The file's audio as mono float32 at RATE, as a player hears it (edit lists applied)."""
    proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar",
                           str(RATE), "-f", "f32le", "-"], capture_output=True, check=True)
    return np.frombuffer(proc.stdout, "<f4")


def tracks(path) -> list[dict]:
    """Per trak of an MP4: handler, duration (mdhd, seconds) and edit list [(seconds, media_time)]."""
    data = Path(path).read_bytes()

    def boxes(lo, hi):
        while lo + 8 <= hi:
            size, kind = struct.unpack(">I4s", data[lo:lo + 8])
            yield kind.decode(), lo + 8, lo + size
            lo += size

    moov = next((b, e) for k, b, e in boxes(0, len(data)) if k == "moov")
    movie_scale = None
    out = []
    for kind, b, e in boxes(*moov):
        if kind == "mvhd":
            movie_scale = struct.unpack(">I", data[b + 12:b + 16])[0]
        if kind != "trak":
            continue
        info = {"edits": []}
        for k2, b2, e2 in boxes(b, e):
            if k2 == "edts":
                elst = next((bb, ee) for k3, bb, ee in boxes(b2, e2) if k3 == "elst")
                count = struct.unpack(">I", data[elst[0] + 4:elst[0] + 8])[0]
                for i in range(count):
                    seg, media = struct.unpack(">Ii", data[elst[0] + 8 + 12 * i: elst[0] + 16 + 12 * i])
                    info["edits"].append((seg / movie_scale, media))
            if k2 == "mdia":
                for k3, b3, e3 in boxes(b2, e2):
                    if k3 == "mdhd":
                        scale, dur = struct.unpack(">II", data[b3 + 12:b3 + 20])
                        info["duration"] = dur / scale
                    if k3 == "hdlr":
                        info["handler"] = data[b3 + 8:b3 + 12].decode()
        out.append(info)
    return out


def first_click(samples: np.ndarray, level: float = 0.2) -> float:
    return int(np.argmax(np.abs(samples) > level)) / RATE


def test_mp4_carries_the_song_in_sync(ckpt, song, tmp_path, capsys):
    path, truth = song
    out = tmp_path / "clip.mp4"
    assert render(ckpt, out, "--audio", path, "--audio-start", "0.25", "--audio-seconds", "4", "--beats-per-key", "2") == 0
    info = tracks(out)
    audio = [t for t in info if t["handler"] == "soun"]
    video = next(t for t in info if t["handler"] == "vide")
    assert len(audio) == 1, info
    frames = 80
    assert abs(video["duration"] - frames / FPS) < 1e-6
    heard = decoded_audio(out)
    assert abs(len(heard) / RATE - frames / FPS) <= 1 / FPS              # durations equal within a frame
    # starts at 0: no empty edit (media_time -1) delays the audio
    assert all(media >= 0 for _, media in audio[0]["edits"])
    # in sync: the first click sits where it sits in the song, minus --audio-start
    want = truth[truth >= 0.25][0] - 0.25
    assert abs(first_click(heard) - want) <= 1 / FPS
    side = json.loads(Path(str(out) + ".json").read_text())
    # keys on the beats: every 2nd beat from the first downbeat, each on its nearest frame
    beats = truth[(truth >= 0.25) & (truth < 4.25)] - 0.25
    keys = np.asarray(side["path"]["key_frames"])
    assert np.abs(keys - np.rint(beats[::2] * FPS)).max() <= 1, (keys, beats)
    rec = side["path"]["audio"]
    from interpolate.files import sha256_file

    assert rec["sha256"] == sha256_file(path) and abs(rec["tempo"] - 120) < 3 and rec["start"] == 0.25


def test_reaction_lands_on_the_frame_of_the_click(ckpt, song, tmp_path):
    path, truth = song
    plain, hit = tmp_path / "plain.npz", tmp_path / "hit.npz"
    common = ("--audio", path, "--audio-seconds", "3", "--beats-per-key", "4", "--no-sidecar")
    assert render(ckpt, tmp_path / "a.mp4", *common, "--save-latents", plain, "-q") == 0
    assert render(ckpt, tmp_path / "b.mp4", *common, "--save-latents", hit, "--react-pulse", "1", "-q") == 0
    with np.load(plain) as a, np.load(hit) as b:
        diff = np.abs(a["ws"] - b["ws"]).reshape(len(a["ws"]), -1).max(axis=1)
        meta = json.loads(str(b["meta"]))
    reacting = int(np.argmax(diff > 0.5 * diff.max()))
    assert abs(reacting - truth[0] * FPS) <= 1, (reacting, truth[0] * FPS)
    assert meta["params"]["reactions"]["pulse"]["styles"] == "fine"
    assert meta["params"]["audio"]["sha256"]                            # the latents record the song


def test_loop_closes_on_a_beat(ckpt, song, tmp_path):
    path, truth = song
    out = tmp_path / "loop.mp4"
    assert render(ckpt, out, "--audio", path, "--audio-seconds", "5", "--bars", "1", "--loop", "-q") == 0
    side = json.loads(Path(str(out) + ".json").read_text())
    downbeats = truth[::4]
    frames = side["output"]["frames"]
    last = downbeats[downbeats < 5.0][-1]
    assert abs(frames - last * FPS) <= 1                                # the clip ends on the closing downbeat
    assert abs(len(decoded_audio(out)) / RATE - frames / FPS) <= 1 / FPS


def test_gif_says_it_carries_no_sound(ckpt, song, tmp_path, capsys):
    path, _ = song
    out = tmp_path / "clip.gif"
    assert render(ckpt, out, "--audio", path, "--audio-seconds", "2") == 0
    err = capsys.readouterr().err
    assert sum("carries no sound" in line for line in err.splitlines()) == 1
    assert out.exists()


def test_from_replays_the_beats_and_names_a_changed_song(ckpt, song, tmp_path, capsys):
    path, truth = song
    mine = tmp_path / "mine.mp3"
    mine.write_bytes(Path(path).read_bytes())
    out = tmp_path / "first.mp4"
    assert render(ckpt, out, "--audio", mine, "--audio-seconds", "3") == 0
    again = tmp_path / "again.mp4"
    assert cli("render", "--from", str(out) + ".json", "-o", again) == 0
    assert "changed" not in capsys.readouterr().err
    assert Path(again).read_bytes() == Path(out).read_bytes()          # same command, same bytes
    # the song changes (a louder copy): replayed with the recorded beats, and said so
    wav = write_wav(tmp_path / "other.wav", click_track(truth, 6.5) * 0.5)
    os.replace(convert(wav, ".mp3"), mine)
    third = tmp_path / "third.mp4"
    assert cli("render", "--from", str(out) + ".json", "-o", third) == 0
    err = capsys.readouterr().err
    assert "changed since it was recorded" in err
    a = json.loads(Path(str(out) + ".json").read_text())["path"]["key_frames"]
    b = json.loads(Path(str(third) + ".json").read_text())["path"]["key_frames"]
    assert a == b


def test_presets_music_video_and_reel_music(ckpt, song, tmp_path):
    path, _ = song
    out = tmp_path / "mv.mp4"
    assert render(ckpt, out, "--preset", "music-video", "--audio", path, "--audio-seconds", "4", "-q") == 0
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["options"]["beats_per_key"] == 4 and side["path"]["reactions"]["pulse"]["strength"] == 0.3
    from interpolate.presets import resolve

    reel = resolve("reel-music")
    assert reel["size"] == "1080x1920" and reel["bars"] == 1 and reel["output"].endswith(".mp4")


@pytest.mark.parametrize("args, words", [
    (["--audio", "{missing}"], "does not exist"),
    (["--audio", "{bad}"], "cannot decode"),
    (["--audio", "{song}", "--audio-start", "30"], "past the end"),
    (["--audio", "{song}", "--audio-seconds", "60"], "runs past the end"),
    (["--beats-per-key", "2"], "needs a song"),
    (["--audio", "{song}", "--beats-per-key", "2", "--bars", "1"], "give one of them"),
    (["--audio", "{song}", "--react-pulse", "-1"], "must be a number >= 0"),
    (["--audio", "{song}", "--frames", "10"], "drop --frames"),
])
def test_bad_audio_input_is_one_line_and_leaves_nothing(ckpt, song, tmp_path, capsys, args, words):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00garbage" * 100)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [a.format(missing=tmp_path / "nope.mp3", bad=bad, song=song[0]) for a in args]
    assert render(ckpt, out_dir / "x.mp4", *args) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and words in err[0], err
    assert os.listdir(out_dir) == []


def test_silence_falls_back_with_a_note(ckpt, tmp_path, capsys):
    quiet = write_wav(tmp_path / "silence.wav", np.zeros(RATE * 3, np.float32))
    out = tmp_path / "s.mp4"
    assert render(ckpt, out, "--audio", quiet, "--beats-per-key", "2") == 0
    assert "is silent" in capsys.readouterr().err
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["path"]["key_frames"] == [0, 20, 40]                    # 120 BPM grid, a key per second


def test_batch_jobs_take_the_same_keys(ckpt, song, tmp_path, monkeypatch):
    path, truth = song
    monkeypatch.chdir(tmp_path)
    os.symlink(path, tmp_path / "song.mp3")
    Path("jobs.csv").write_text(f"checkpoint,keys,output,audio,audio_seconds,beats_per_key,fps,device\n"
                                f"{ckpt},\"1,2\",job.mp4,song.mp3,3,2,{FPS},cpu\n")
    assert cli("batch", "jobs.csv", "-q") == 0
    side = json.loads(Path("job.mp4.json").read_text())
    assert side["options"]["audio"] == str(tmp_path / "song.mp3")       # relative to the jobs file
    assert side["path"]["audio"]["plan"]["every"] == "2 beats"
    assert len([t for t in tracks("job.mp4") if t["handler"] == "soun"]) == 1
    Path("bad.csv").write_text(f"checkpoint,keys,output,audio,audio_seconds\n{ckpt},\"1,2\",b.mp4,song.mp3,60\n"
                               f"{ckpt},\"1,2\",c.mp4,nope.mp3,\n")
    assert cli("batch", "bad.csv", "--dry-run") == 1                  # both fail before anything renders
    assert not Path("b.mp4").exists() and not Path("c.mp4").exists()
    before = Path("job.mp4").stat().st_mtime_ns
    assert cli("batch", "jobs.csv", "-q") == 0                          # complete: skipped, not re-rendered
    assert Path("job.mp4").stat().st_mtime_ns == before


def test_from_latents_muxes_the_song_and_names_another(ckpt, song, tmp_path, capsys):
    path, truth = song
    lat = tmp_path / "lat.npz"
    assert render(ckpt, tmp_path / "a.mp4", "--audio", path, "--audio-seconds", "3", "--save-latents", lat, "-q") == 0
    out = tmp_path / "again.mp4"
    assert cli("render", ckpt, "--from-latents", lat, "--audio", path, "--device", "cpu", "-o", out) == 0
    assert "not the one" not in capsys.readouterr().err
    assert abs(len(decoded_audio(out)) / RATE - 3.0) <= 1 / FPS
    other = write_wav(tmp_path / "other.wav", click_track(truth, 6.5) * 0.3)
    assert cli("render", ckpt, "--from-latents", lat, "--audio", other, "--device", "cpu", "-o", tmp_path / "b.mp4") == 0
    assert "is not the one the latents file was saved with" in capsys.readouterr().err


def test_size_budget_keeps_the_song_and_fits(ckpt, song, tmp_path):
    path, _ = song
    out = tmp_path / "small.mp4"
    assert render(ckpt, out, "--audio", path, "--audio-seconds", "4", "--max-size", "120KB", "-q") == 0
    assert out.stat().st_size <= 120_000
    assert len([t for t in tracks(out) if t["handler"] == "soun"]) == 1
    assert abs(len(decoded_audio(out)) / RATE - 4.0) <= 1 / FPS


def test_ctrl_c_with_a_song_leaves_nothing_and_no_ffmpeg(ckpt, song, tmp_path, monkeypatch, capfd):
    import interpolate.render.pipeline as pipeline

    calls = {"n": 0}
    real = pipeline.FrameSource.synthesize

    def interrupted(self, start, stop):
        calls["n"] += 1
        if calls["n"] == 2:                  # the muxing ffmpeg is running by now
            raise KeyboardInterrupt
        return real(self, start, stop)

    monkeypatch.setattr(pipeline.FrameSource, "synthesize", interrupted)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert render(ckpt, out_dir / "a.mp4", "--audio", song[0], "--batch-size", "1") == 130
    assert "interrupted" in capfd.readouterr().err
    assert os.listdir(out_dir) == []
    assert ffmpeg_children() == []


def test_reel_without_beat_keys_muxes_its_song(ckpt, song, tmp_path):
    path, _ = song
    os.symlink(path, tmp_path / "song.mp3")
    reel = tmp_path / "r.toml"
    reel.write_text(f'[reel]\ncheckpoint = "{ckpt}"\noutput = "reel.mp4"\ndevice = "cpu"\nfps = {FPS}\n'
                    f'audio = "song.mp3"\naudio_start = 0.5\n[[segment]]\nkeys = "3,17"\nduration = 1.5\n')
    assert cli("reel", reel, "-q") == 0
    out = tmp_path / "reel.mp4"
    assert len([t for t in tracks(out) if t["handler"] == "soun"]) == 1
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["output"]["frames"] == 31                              # the segment keeps its 1.5 s
    assert abs(len(decoded_audio(out)) / RATE - 31 / FPS) <= 1 / FPS
    assert "audio" not in side["path"]                                 # nothing analysed: muxed only
    # reactions follow the song without beat keys too: the analysis is recorded, the timing kept
    reel.write_text(reel.read_text().replace("audio_start = 0.5\n", "audio_start = 0.5\nreact_pulse = 0.5\n"))
    assert cli("reel", reel, "-q", "-y") == 0
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["output"]["frames"] == 31 and side["path"]["audio"]["beat_keys"] is False
    assert side["path"]["groups"][0]["reactions"]["pulse"]["strength"] == 0.5


BEAT_REEL = """[reel]
checkpoint = "{ckpt}"
output = "{out}"
device = "cpu"
size = "native"
fps = {fps}
audio = "song.mp3"
audio_start = 0.25
audio_seconds = 4
beats_per_key = 2
{extra}
[[segment]]
keys = "3,17"
title = "One"
title_seconds = 0.5

[[segment]]
keys = "42"
title = "Two"

[[segment]]
keys = "8"
style = "coarse"
"""


def beat_reel(ckpt, song_file, tmp_path, out, extra="") -> Path:
    """A reel of 3 segments (2 paths) on every 2nd beat of 4 s of the song, from 0.25 s."""
    if not (tmp_path / "song.mp3").exists():
        os.symlink(song_file, tmp_path / "song.mp3")
    f = tmp_path / "beats.toml"
    f.write_text(BEAT_REEL.format(ckpt=ckpt, out=out, fps=FPS, extra=extra))
    return f


def test_reel_keys_every_segment_on_the_beats_with_the_song(ckpt, song, tmp_path, capsys):
    path, truth = song
    f = beat_reel(ckpt, path, tmp_path, "reel.mp4")
    assert cli("reel", f, "-q") == 0
    out = tmp_path / "reel.mp4"
    side = json.loads(Path(str(out) + ".json").read_text())
    desc = side["path"]
    # every key of every segment (3, 17 | 42 | 8) on every 2nd beat of the span, in reel time
    beats = truth[(truth >= 0.25) & (truth < 4.25)] - 0.25
    want = np.rint(beats[::2] * FPS)
    keys = np.asarray(desc["key_frames"])
    assert desc["key_labels"] == ["3", "17", "42", "8"] and len(keys) == len(want) == 4
    assert np.abs(keys - want).max() <= 1, (keys, want)
    assert [g["segments"] for g in desc["groups"]] == [[0, 1], [2]]   # the style change starts a new path
    assert desc["groups"][1]["first_frame"] == keys[2]                # segment 3 starts on the beat of key 42
    assert [t[0] for t in desc["titles"]] == [keys[0], keys[1]]       # titles on their segments' first beats
    # the reel lasts the span: one AAC stream as long as the video, within a frame
    frames = side["output"]["frames"]
    assert frames == 80
    audio = [t for t in tracks(out) if t["handler"] == "soun"]
    video = next(t for t in tracks(out) if t["handler"] == "vide")
    assert len(audio) == 1 and abs(video["duration"] - frames / FPS) < 1e-6
    assert abs(len(decoded_audio(out)) / RATE - frames / FPS) <= 1 / FPS
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert sum("Audio: aac" in ln for ln in probe.splitlines()) == 1
    # the sidecar records the analysis as render does
    from interpolate.files import sha256_file

    rec = desc["audio"]
    assert rec["sha256"] == sha256_file(path) and abs(rec["tempo"] - 120) < 3 and rec["start"] == 0.25
    assert rec["plan"]["every"] == "2 beats" and rec["beat_keys"] is True


def test_reel_reactions_land_on_the_frame_of_the_click(ckpt, song, tmp_path):
    path, truth = song
    from test_reel import read_frames

    assert cli("reel", beat_reel(ckpt, path, tmp_path, "plain"), "-q") == 0
    assert cli("reel", beat_reel(ckpt, path, tmp_path, "hit", "react_pulse = 1.0"), "-q") == 0
    plain, hit = read_frames(tmp_path / "plain"), read_frames(tmp_path / "hit")   # lossless PNG frames
    assert plain.shape == hit.shape and plain.shape[0] == 80
    diff = np.abs(plain - hit).reshape(80, -1).mean(axis=1)
    # each click of the span, in every segment, peaks the reaction on its own frame of the reel
    clicks = (truth[(truth >= 0.25) & (truth < 4.2)] - 0.25) * FPS
    assert diff.max() > 1 and len(clicks) == 8
    for c in clicks:
        lo = int(round(c)) - 2
        peak = lo + int(np.argmax(diff[lo:lo + 5]))
        assert abs(peak - c) <= 1, (peak, c, diff[lo:lo + 5])
    side = json.loads(Path(str(tmp_path / "hit") + ".json").read_text())
    assert all(g["reactions"]["pulse"]["styles"] == "fine" for g in side["path"]["groups"])


@pytest.mark.parametrize("extra, words", [
    ("beats_per_key = 4", "need more key beats than the span"),
    ("bars = 1\nbeats_per_key = 2", "give one of them"),
    ("beats_per_key = 2\nhold = [0, 1]", "for every key, not one per key"),
])
def test_bad_beat_reel_is_one_line_and_leaves_nothing(ckpt, song, tmp_path, capsys, extra, words):
    f = tmp_path / "bad.toml"
    f.write_text(beat_reel(ckpt, song[0], tmp_path, "out/reel.mp4").read_text().replace("beats_per_key = 2\n", extra + "\n"))
    (tmp_path / "out").mkdir()
    capsys.readouterr()
    assert cli("reel", f) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and words in err[0], err
    assert os.listdir(tmp_path / "out") == []


def test_a_beat_reel_segment_with_a_hold_per_key_is_one_line(ckpt, song, tmp_path, capsys):
    f = beat_reel(ckpt, song[0], tmp_path, "out/reel.mp4")
    f.write_text(f.read_text().replace('keys = "3,17"\n', 'keys = "3,17"\nhold = [0, 0.5]\n'))
    (tmp_path / "out").mkdir()
    capsys.readouterr()
    assert cli("reel", f) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "'hold' in segment 1" in err[0] and "one hold for every key" in err[0], err
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("field, value, words", [
    ("audio", 5, "must be a string"), ("audio_start", "soon", "must be a number"),
    ("beats_per_key", "x", "must be an integer"), ("bars", 0.5, "must be an integer"), ("bpm", "fast", "must be a number"),
    ("react_decay", -1, "must be a number >= 0"),
])
def test_a_damaged_sidecar_is_one_line(ckpt, song, tmp_path, capsys, field, value, words):
    path, _ = song
    out = tmp_path / "a.mp4"
    assert render(ckpt, out, "--audio", path, "--audio-seconds", "2", "-q") == 0
    side = Path(str(out) + ".json")
    data = json.loads(side.read_text())
    data["options"][field] = value
    side.write_text(json.dumps(data))
    capsys.readouterr()
    assert cli("render", "--from", side, "-o", tmp_path / "b.mp4") == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "b.mp4").exists()


def test_python_api_keys_on_beats_and_the_song_muxed(ckpt, song, tmp_path):
    from interpolate.audio import analyze, plan_keys
    from interpolate.loading import load_generator
    from interpolate.paths import PathSpec, Timing, plan_path
    from interpolate.render import OutputSpec, render_path

    path, truth = song
    G = load_generator(ckpt, device="cpu")
    beats = plan_keys(analyze(path, start=0.5, seconds=3.0), fps=FPS, beats_per_key=2)
    w = np.zeros((G.num_ws, G.w_dim), np.float32) + G.w_avg.numpy()
    lp = plan_path(G, [3, w, 17], PathSpec(timing=Timing(fps=FPS, key_timing=beats.timing)))
    assert lp.num_frames == 60 and np.array_equal(lp.key_frames, beats.key_frames)
    assert np.abs(lp.key_frames - np.rint((truth[truth >= 0.5][::2] - 0.5) * FPS)[:len(lp.key_frames)]).max() <= 1
    out = tmp_path / "api.mp4"
    render_path(G, lp, OutputSpec(output=str(out), audio=path, audio_start=0.5, quiet=True))
    assert abs(first_click(decoded_audio(out)) - (truth[truth >= 0.5][0] - 0.5)) <= 1 / FPS


def test_sigterm_with_the_song_muxing_cleans_up(ckpt, song, tmp_path):
    """SIGTERM while the MP4's ffmpeg reads the song and the frames: the older file stays, nothing else."""
    import signal

    from test_cli_guard import assert_clean_stop, stop_while_rendering

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "a.mp4"
    out.write_bytes(b"older video")
    code, err = stop_while_rendering(["render", ckpt, "--seeds", "1,2,3", "--audio", song[0], "--fps", "2000",
                                      "--device", "cpu", "-y", "-o", out], out_dir, signal.SIGTERM)
    assert_clean_stop(code, err, signal.SIGTERM, out_dir, {"a.mp4": b"older video"})


def test_pace_even_and_easing_keep_the_keys_on_the_beats(ckpt, song, tmp_path):
    path, _ = song
    frames = {}
    for name, extra in (("key", []), ("even", ["--pace", "even", "--easing", "smoothstep", "--style", "cascade"])):
        out = tmp_path / f"{name}.mp4"
        assert render(ckpt, out, "--audio", path, "--audio-seconds", "4", "--beats-per-key", "2", "-q", *extra) == 0
        frames[name] = json.loads(Path(str(out) + ".json").read_text())["path"]["key_frames"]
    assert frames["even"] == frames["key"] and len(frames["key"]) >= 3
