"""Every file waifu-morph reads, fed random and mutated versions of a valid one through the CLI:
preset TOML (--preset), reel TOML, batch TOML and CSV, sidecar JSON (--from), latents NPZ
(--from-latents), W .npy/.npz keys (--keys). Each run ends in a clean success or a one-line error
with a non-zero exit, never an uncaught exception (the CLI's guard would report one as a bug, exit 3).

Fast on a busy machine: a tiny checkpoint, two-frame PNG outputs, 25 examples per file kind.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from interpolate.cli import app  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# the same examples every run (same command, same result); WAIFU_FUZZ_EXAMPLES=200 WAIFU_FUZZ_RANDOM=1 explores further
FUZZ = settings(max_examples=int(os.environ.get("WAIFU_FUZZ_EXAMPLES", "25")), deadline=None,
                derandomize=not os.environ.get("WAIFU_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
NUM_WS, W_DIM = 10, 16              # the tiny StyleGAN2 of tests/fakes.py


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny checkpoint, and a sidecar and a latents file rendered from it (the valid seeds)."""
    from fakes import tiny_stylegan2_file

    folder = tmp_path_factory.mktemp("fuzz")
    ckpt = tiny_stylegan2_file(folder, channel_base=256, channel_max=8)
    res = run("render", ckpt, "--seeds", "1,2", "--frames", "2", "--size", "native", "-q", "--device", "cpu",
              "-o", folder / "seed.gif", "--save-latents", folder / "seed.npz")
    assert res.exit_code == 0, res.output
    return Seeds(ckpt, (folder / "seed.gif.json").read_text(), (folder / "seed.npz").read_bytes())


class Seeds(dict):
    """The valid files (a short repr, for hypothesis' failure reports)."""

    def __init__(self, ckpt: str, sidecar: str, latents: bytes):
        super().__init__(ckpt=ckpt, sidecar=sidecar, latents=latents)

    def __repr__(self) -> str:
        return "<valid seed files>"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})


def assert_clean(res, batch: bool = False) -> None:
    """Success, or a non-zero exit with one 'error:' line; never a bug report or a traceback."""
    err = res.stderr
    report = re.search(r"traceback is in (\S+?\.txt)", err)
    if report:                      # the bug's traceback, for the failure message
        err += "\n" + "\n".join(Path(report.group(1)).read_text().splitlines()[-12:])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in err and "bug:" not in err, err
    assert res.exit_code != 3, err
    if res.exit_code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), err
    elif batch:                     # a failed job's reason must be a WaifuError's line, not an exception
        assert res.exit_code in (0, 1), err
        assert not re.search(r"\w+(Error|Exception): .*\(\w+\.py:\d+\)", res.stdout), res.stdout
    else:
        assert res.exit_code == 0, err


# --- mutations of a text file -----------------------------------------------------------------------
VALUES = ["0", "-1", "2", "3", "0.5", "-0.25", "nan", "inf", "-inf", "1e308", "true", "false", '""', '"x"',
          '"fine"', '"coarse+middle"', '"0-3"', '"1,2"', '"-5"', '"99"', '"1-"', '"3x2"', '"native"', '"64x64"',
          '"%05d.png"', '"../up.gif"', '"frames/"', '[1, 2]', "[]", '["a", 3]', "{a = 1}", '"\\u00e9"',
          '"a.npy"', "9223372036854775808", "-9223372036854775809", '"1e3"']
KEYS = ["keys", "seeds", "style", "layers", "base", "stagger", "interp", "space", "easing", "seconds", "frames",
        "durations", "hold", "loop", "pace", "psi", "psi_end", "cutoff", "noise", "noise_seed", "noise_drift",
        "fps", "crf", "x264_preset", "codec", "gif_quality", "max_size", "size", "fit", "grid", "label",
        "shuffle_seed", "class_idx", "preset", "description", "output", "checkpoint", "title", "duration",
        "title_seconds", "name", "batch_size", "precision", "device", "sidecar", "save_latents", "from_latents",
        "stlye", "reel", "segment", "job", "defaults"]
CHARS = list('"[]=,\n#.-{}\'\\ 0123456789ae\x00\t') + ["é", "\ufeff"]


@st.composite
def mutated(draw, valid: str, sep: str = " = ") -> str:
    lines = valid.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "drop", "add", "chars", "dup", "random"]))
        if kind == "value" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            if sep.strip() in lines[i]:
                key = lines[i].split(sep.strip(), 1)[0].rstrip()
                lines[i] = f"{key}{sep}{draw(st.sampled_from(VALUES))}"
        elif kind == "drop" and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif kind == "add":
            lines.insert(draw(st.integers(0, len(lines))),
                         f"{draw(st.sampled_from(KEYS))}{sep}{draw(st.sampled_from(VALUES))}")
        elif kind == "dup" and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        elif kind == "chars":
            text = "\n".join(lines)
            for _ in range(draw(st.integers(1, 4))):
                at = draw(st.integers(0, len(text)))
                cut = draw(st.integers(0, 2))
                text = text[:at] + draw(st.sampled_from(CHARS)) + text[at + cut:]
            lines = text.splitlines()
        elif kind == "random":
            return draw(st.text(alphabet=st.sampled_from(CHARS + list("abcdefgkorsty_")), max_size=80))
    return "\n".join(lines) + "\n"


def in_temp(files: dict[str, str | bytes]):
    """A temporary folder holding `files` (name -> text or bytes)."""
    tmp = tempfile.TemporaryDirectory(prefix="waifu-fuzz-")
    for name, data in files.items():
        p = Path(tmp.name) / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return tmp


# --- the files --------------------------------------------------------------------------------------
PRESET = """description = "a small test preset"
style = "fine"
loop = false
interp = "cubic"
easing = "sine"
frames = 2
psi = 0.7
size = "native"
"""


@FUZZ
@given(data=st.data())
def test_preset_toml(tiny, data):
    text = data.draw(mutated(PRESET))
    with in_temp({"p.toml": text}) as tmp:
        assert_clean(run("render", tiny["ckpt"], "--seeds", "1,2", "--preset", Path(tmp) / "p.toml", "-q", "--device",
                         "cpu", "-o", Path(tmp) / "out/"))


def reel_text(ckpt: str) -> str:
    return f"""[reel]
checkpoint = "{ckpt}"
output = "r/"
size = "native"
fps = 10

[[segment]]
keys = "1,2"
frames = 2
title = "One"

[[segment]]
keys = "2,3"
style = "coarse"
frames = 1
"""


@FUZZ
@given(data=st.data())
def test_reel_toml(tiny, data):
    text = data.draw(mutated(reel_text(tiny["ckpt"])))
    with in_temp({"r.toml": text}) as tmp:
        assert_clean(run("reel", Path(tmp) / "r.toml", "-q", "--device", "cpu"))


def jobs_text(ckpt: str) -> str:
    return f"""[defaults]
checkpoint = "{ckpt}"
frames = 2
size = "native"

[[job]]
keys = "1,2"
output = "a/"

[[job]]
keys = "3,4"
style = "fine"
output = "b/"
"""


@FUZZ
@given(data=st.data(), dry=st.booleans())
def test_batch_toml(tiny, data, dry):
    text = data.draw(mutated(jobs_text(tiny["ckpt"])))
    with in_temp({"j.toml": text}) as tmp:
        assert_clean(run("batch", Path(tmp) / "j.toml", "-q", "--device", "cpu", *(["--dry-run"] if dry else [])),
                     batch=True)


@FUZZ
@given(data=st.data(), dry=st.booleans())
def test_batch_csv(tiny, data, dry):
    valid = (f'keys,output,checkpoint,frames,size,style\n"1,2",a/,{tiny["ckpt"]},2,native,fine\n'
             f'"3,4",b/,{tiny["ckpt"]},2,native,coarse\n')
    text = data.draw(mutated(valid, sep=","))
    with in_temp({"j.csv": text}) as tmp:
        assert_clean(run("batch", Path(tmp) / "j.csv", "-q", "--device", "cpu", *(["--dry-run"] if dry else [])),
                     batch=True)


# --- JSON sidecars ----------------------------------------------------------------------------------
JSON_VALUES = [None, True, 0, -1, 2, 0.5, 1e308, float("nan"), "", "x", "fine", "1,2", [], [1, "a"], {}, {"a": 1},
               "64x64", "native", 10 ** 30]


@st.composite
def mutated_json(draw, valid: dict):
    data = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(1, 3))):
        node, parents = data, []
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            parents.append((node, key))
            node = node[key]
        if not parents:
            if draw(st.booleans()):
                return draw(st.sampled_from(JSON_VALUES))
            continue
        parent, key = parents[-1]
        if draw(st.booleans()):
            parent[key] = draw(st.sampled_from(JSON_VALUES))
        else:
            del parent[key]
    return data


@FUZZ
@given(data=st.data())
def test_sidecar_json_for_from(tiny, data):
    valid = json.loads(tiny["sidecar"])
    if data.draw(st.booleans()):
        text = json.dumps(data.draw(mutated_json(valid)))
    else:
        text = data.draw(mutated(tiny["sidecar"], sep=": "))
    with in_temp({"s.json": text}) as tmp:
        assert_clean(run("render", "--from", Path(tmp) / "s.json", "--frames", "2", "-q", "--device", "cpu",
                         "-o", Path(tmp) / "out/"))


# --- latents NPZ and W files ------------------------------------------------------------------------
ARRAYS = st.sampled_from([
    np.zeros((2, NUM_WS, W_DIM), np.float32), np.zeros((3, NUM_WS, W_DIM), np.float32), np.zeros((W_DIM,), np.float32),
    np.zeros((NUM_WS, W_DIM)), np.zeros((1, NUM_WS, W_DIM), np.float16), np.full((NUM_WS, W_DIM), np.nan, np.float32),
    np.zeros((0, NUM_WS, W_DIM), np.float32), np.zeros((1, NUM_WS + 1, W_DIM), np.float32), np.zeros((3, 3)),
    np.arange(4), np.array([0, 2, 4]), np.array(["a", "b"]), np.array("text"), np.array('{"format": 1}'),
    np.array(json.dumps({"format": "x"})), np.zeros((NUM_WS, W_DIM), np.complex64), np.array(True),
    np.zeros((2, 2, 2, 2), np.float32), np.array(1e308), np.zeros((1, NUM_WS, W_DIM), ">f4"),
])


def npz_bytes(arrays: dict[str, np.ndarray], stored: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asarray(arr), allow_pickle=False)
            zf.writestr(name + ".npy", b.getvalue())
    return buf.getvalue()


@st.composite
def damaged_bytes(draw, valid: bytes) -> bytes:
    data = bytearray(valid)
    kind = draw(st.sampled_from(["truncate", "flip", "zero"]))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255)) if kind == "flip" else 0
    return bytes(data)


@st.composite
def mutated_latents(draw, valid: bytes) -> bytes:
    if draw(st.booleans()):
        return draw(damaged_bytes(valid))
    with np.load(io.BytesIO(valid), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(arrays) + ["extra"]))
        choice = draw(st.sampled_from(["replace", "drop", "meta"]))
        if choice == "drop" and key in arrays:
            del arrays[key]
        elif choice == "meta" and "meta" in arrays:
            arrays["meta"] = np.array(json.dumps(draw(mutated_json(json.loads(str(arrays["meta"]))))))
        else:
            arrays[key] = draw(ARRAYS)
    return npz_bytes(arrays, stored=draw(st.booleans()))


@FUZZ
@given(data=st.data())
def test_latents_npz_for_from_latents(tiny, data):
    blob = data.draw(mutated_latents(tiny["latents"]))
    with in_temp({"l.npz": blob}) as tmp:
        assert_clean(run("render", tiny["ckpt"], "--from-latents", Path(tmp) / "l.npz", "--size", "native", "-q",
                         "--device", "cpu", "-o", Path(tmp) / "out/"))


@st.composite
def w_file(draw) -> tuple[str, bytes]:
    arr = draw(ARRAYS)
    kind = draw(st.sampled_from(["npy", "npz-w", "npz-other", "npz-two", "damaged", "pickle"]))
    if kind == "npy":
        b = io.BytesIO()
        np.save(b, arr)
        return "w.npy", b.getvalue()
    if kind == "pickle":
        b = io.BytesIO()
        np.save(b, np.array([{"w": 1}], dtype=object), allow_pickle=True)
        return "w.npy", b.getvalue()
    if kind == "damaged":
        b = io.BytesIO()
        np.save(b, np.zeros((NUM_WS, W_DIM), np.float32))
        return draw(st.sampled_from(["w.npy", "w.npz"])), draw(damaged_bytes(b.getvalue()))
    names = {"npz-w": {"w": arr}, "npz-other": {"x": arr}, "npz-two": {"a": arr, "b": arr}}[kind]
    return "w.npz", npz_bytes(names, stored=draw(st.booleans()))


@FUZZ
@given(wf=w_file(), base=st.booleans())
def test_w_files_as_keys(tiny, wf, base):
    name, blob = wf
    with in_temp({name: blob}) as tmp:
        w = str(Path(tmp) / name)
        more = ["--base", w] if base else []
        assert_clean(run("render", tiny["ckpt"], "--keys", f"1,{w}", *more, "--frames", "2", "--size", "native", "-q",
                         "--device", "cpu", "-o", Path(tmp) / "out/"))


def test_a_sidecar_whose_checkpoint_path_is_not_a_string_is_one_line(tiny, tmp_path):
    """Found by test_sidecar_json_for_from at 150 examples: a checkpoint path of `true` reached the loader."""
    data = json.loads(tiny["sidecar"])
    for bad in (True, 3, ["a"]):
        data["checkpoint"]["path"] = data["options"]["checkpoint"] = bad
        (tmp_path / "s.json").write_text(json.dumps(data))
        assert_clean(run("render", "--from", tmp_path / "s.json", "--frames", "2", "-q", "--device", "cpu",
                         "--size", "native", "-y", "-o", tmp_path / "out/"))


@pytest.mark.parametrize("change", [{"hold_frames": -1}, {"seg_frames": [0]}, {"seg_frames": []}, {"fps": 0},
                                    {"fps": float("nan")}, {"groups": {"all": [99]}}, {"params": None}])
def test_a_latents_file_with_an_impossible_timeline_is_one_line(tiny, tmp_path, change):
    """The replay checks the recorded plan before building from it (Timeline's own asserts are for bugs)."""
    with np.load(io.BytesIO(tiny["latents"]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, **change}))
    (tmp_path / "l.npz").write_bytes(npz_bytes(arrays))
    res = run("render", tiny["ckpt"], "--from-latents", tmp_path / "l.npz", "-q", "--device", "cpu", "-o", tmp_path / "o/")
    assert res.exit_code == 2 and "damaged" in res.stderr, res.stderr
    assert_clean(res)


def test_found_by_the_random_runs(tiny, tmp_path):
    """Crashes WAIFU_FUZZ_RANDOM=1 WAIFU_FUZZ_EXAMPLES=200 found, kept as fixed cases: psi 1e308 in a
    preset (float32 overflow in truncation), a sidecar SHA-256 of `true`, latents labels as a 0-d array,
    a ws.npy header whose dict never closes (numpy raises tokenize.TokenError)."""
    (tmp_path / "p.toml").write_text(PRESET.replace("psi = 0.7", "psi = 1e308"))
    res = run("render", tiny["ckpt"], "--seeds", "1,2", "--preset", tmp_path / "p.toml", "-q", "--device", "cpu",
              "-o", tmp_path / "a/")
    assert res.exit_code == 2 and "--psi must be between" in res.stderr
    assert_clean(res)
    data = json.loads(tiny["sidecar"])
    data["checkpoint_sha256"] = True
    (tmp_path / "s.json").write_text(json.dumps(data))
    res = run("render", "--from", tmp_path / "s.json", "-q", "--device", "cpu", "-o", tmp_path / "b/")
    assert res.exit_code == 2 and "SHA-256" in res.stderr
    assert_clean(res)
    with np.load(io.BytesIO(tiny["latents"]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["key_labels"] = np.array(3)
    (tmp_path / "l.npz").write_bytes(npz_bytes(arrays))
    res = run("render", tiny["ckpt"], "--from-latents", tmp_path / "l.npz", "-q", "--device", "cpu", "-o", tmp_path / "c/")
    assert res.exit_code == 2
    assert_clean(res)
    shape = b"'shape': (3, 10, 16), }"
    assert tiny["latents"].count(shape) == 1                          # the ws.npy header, memory-mapped on replay
    (tmp_path / "h.npz").write_bytes(tiny["latents"].replace(shape, b"'shape': (3, 10, 16 , }"))
    res = run("render", tiny["ckpt"], "--from-latents", tmp_path / "h.npz", "-q", "--device", "cpu", "-o", tmp_path / "d/")
    assert res.exit_code == 2
    assert_clean(res)
