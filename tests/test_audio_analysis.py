"""Beat tracking on songs made here: click tracks at 90/120/174 BPM (with jitter, and with a tempo
change), a sine sweep, silence; every format the bundled ffmpeg writes; and `waifu-morph beats`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from songs import RATE, beat_times, click_track, convert, match, sweep, write_wav  # noqa: E402

from interpolate.audio import analyze  # noqa: E402
from interpolate.audio.plan import plan_keys  # noqa: E402
from interpolate.cli import app  # noqa: E402

FPS = 30.0
TOL = 1.0 / FPS               # "within one video frame"

CASES = {
    "90": ([(90, 10)], 0.0),
    "120-jitter": ([(120, 10)], 0.008),
    "174-jitter": ([(174, 10)], 0.006),
    "120-then-90": ([(120, 8), (90, 8)], 0.008),
}


def song(tmp_path, name, parts, jitter, suffix=".wav"):
    truth = beat_times(parts, start=0.5, jitter=jitter, seed=len(name))
    seconds = sum(s for _, s in parts) + 1.0
    wav = write_wav(tmp_path / f"{name}.wav", click_track(truth, seconds))
    return (convert(wav, suffix) if suffix != ".wav" else wav), truth


@pytest.mark.parametrize("name", list(CASES))
def test_beats_within_one_frame(tmp_path, name):
    parts, jitter = CASES[name]
    path, truth = song(tmp_path, name, parts, jitter)
    a = analyze(path)
    precision, recall = match(a.beats, truth, TOL)
    print(f"{name}: tempo {a.tempo:.1f} BPM, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.97 and recall >= 0.97, (precision, recall)
    assert not a.fixed and not a.notes
    if len(parts) == 1:
        assert abs(a.tempo - parts[0][0]) < 2.0
    # downbeats: the accented clicks (every 4th beat from the first)
    p, r = match(a.downbeats, truth[::4], TOL)
    assert p >= 0.9 and r >= 0.9


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".flac", ".m4a"])
def test_formats_decode_to_the_same_beats(tmp_path, suffix):
    path, truth = song(tmp_path, "fmt", [(120, 6)], 0.0, suffix)
    a = analyze(path)
    precision, recall = match(a.beats, truth, TOL)
    assert precision >= 0.95 and recall >= 0.95, (suffix, precision, recall)


def test_keys_land_on_the_beat_frames(tmp_path):
    path, truth = song(tmp_path, "keys", [(120, 10)], 0.008)
    a = analyze(path, start=0.0, seconds=9.0)
    plan = plan_keys(a, FPS, beats_per_key=2)
    want = np.rint(truth[truth < 9.0][::2] * FPS)
    assert len(plan.key_frames) == len(want)
    assert np.abs(plan.key_frames - want).max() <= 1
    assert plan.num_frames == 270 and plan.timing.lead_frames == plan.key_frames[0]
    assert sum(plan.timing.seg_frames) == plan.key_frames[-1] - plan.key_frames[0]
    # bars: keys on downbeats, a loop ends on one
    loop = plan_keys(a, FPS, bars=1, loop=True)
    assert loop.num_frames == loop.key_frames[-1] and np.all(np.diff(loop.key_frames) == 60)


def test_span_is_measured_from_its_start(tmp_path):
    path, truth = song(tmp_path, "span", [(120, 10)], 0.0)
    a = analyze(path, start=3.25, seconds=5.0)
    inside = truth[(truth >= 3.25) & (truth < 8.25)] - 3.25
    precision, recall = match(a.beats, inside, TOL)
    assert precision >= 0.9 and recall >= 0.9


@pytest.mark.parametrize("kind", ["silence", "sweep"])
def test_no_beat_falls_back_to_a_grid_with_a_note(tmp_path, kind):
    samples = np.zeros(RATE * 4, np.float32) if kind == "silence" else sweep(4.0)
    path = write_wav(tmp_path / f"{kind}.wav", samples)
    a = analyze(path)
    assert a.fixed and len(a.notes) == 1 and "BPM grid" in a.notes[0]
    assert np.allclose(np.diff(a.beats), 0.5) and a.beats[0] == 0.0
    b = analyze(path, bpm=100)
    assert np.allclose(np.diff(b.beats), 0.6)


def test_beats_command_prints_tempo_beats_and_plan(tmp_path):
    path, truth = song(tmp_path, "cmd", [(120, 6)], 0.0)
    res = CliRunner().invoke(app, ["beats", path, "--beats-per-key", "4", "--fps", "24"])
    assert res.exit_code == 0, res.output
    assert "tempo 120" in res.output and "render plan at 24 fps, a key every 4 beats" in res.output
    assert "48 frames to the next key" in res.output          # 4 beats at 120 BPM = 2 s = 48 frames
    res = CliRunner().invoke(app, ["beats", path, "--json", "--bars", "1"])
    data = json.loads(res.stdout)
    assert data["analysis"]["sha256"] and len(data["plan"]["key_frames"]) == len(truth[::4])


@pytest.mark.parametrize("args, words", [
    (["missing.mp3"], "does not exist"),
    (["{bad}"], "cannot decode"),
    (["{song}", "--audio-start", "60"], "past the end"),
    (["{song}", "--audio-start", "2", "--audio-seconds", "30"], "runs past the end"),
    (["{song}", "--beats-per-key", "40"], "lower --beats-per-key"),
    (["{song}", "--bpm", "-3"], "not a musical tempo"),
])
def test_bad_input_is_one_line(tmp_path, args, words):
    from interpolate.cli import main

    path, _ = song(tmp_path, "bad", [(120, 4)], 0.0)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not a song at all" * 10)
    args = [a.format(song=path, bad=bad) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["beats", *args])
    assert exc.value.code == 2


def test_bad_input_message(tmp_path, capsys):
    from interpolate.cli import main

    with pytest.raises(SystemExit):
        main(["beats", str(tmp_path / "nope.wav")])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


@pytest.mark.parametrize("bpm", [90, 128, 174])
def test_drum_pattern_keeps_the_quarter_note_and_finds_bar_ones(bpm):
    """Kick on 1 and 3, snare on 2 and 4, hats on every eighth, chords changing each bar: the hats
    must not double the tempo, the snare must not steal the downbeat."""
    from songs import drum_song

    from interpolate.audio.decode import Song

    samples, truth = drum_song(20 / 60, bpm=bpm)
    a = analyze(Song(path=__file__, samples=samples, rate=RATE))
    precision, recall = match(a.beats, truth, TOL)
    assert precision >= 0.95 and recall >= 0.95 and abs(a.tempo - bpm) < 3, (a.tempo, precision, recall)
    p, r = match(a.downbeats, truth[::4], TOL)
    assert p >= 0.9 and r >= 0.9


@pytest.mark.parametrize("start", [0.0, 7.3, 30.0])
def test_downbeats_hold_for_any_span_of_a_song(start):
    """The bar phase comes from the music, not from where the span happens to start."""
    from songs import drum_song

    from interpolate.audio.decode import Song

    samples, truth = drum_song(0.75, bpm=128)
    song = Song(path=__file__, samples=samples, rate=RATE)
    bars = truth[::4] - start
    for seconds in (6.0, 8.0, 12.0):
        a = analyze(song, start=start, seconds=seconds)
        inside = bars[(bars >= 0) & (bars < seconds)]
        p, r = match(a.downbeats, inside, TOL)
        assert p >= 0.9 and r >= 0.9, (start, seconds, a.downbeats, inside)
