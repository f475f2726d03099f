"""load_generator / read_checkpoint on every kind of bad input, native files, and the info/image commands."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from interpolate import load_generator, networks
from interpolate.cli import app, main
from interpolate.errors import CheckpointError
from interpolate.formats import read_checkpoint
from interpolate.formats.native import save_native
from interpolate.loading import describe
from interpolate.seeds import z_from_seed
from writers import nvidia_pickle_bytes, perturb

KW = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
          channel_base=512, channel_max=32, num_fp16_res=1, conv_clamp=256)


@pytest.fixture(scope="module")
def native_file(tmp_path_factory):
    G = perturb(networks.build("stylegan2", **KW), seed=5).eval()
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_native(path, G, init_kwargs=KW, meta={"truncation_cutoff": 4, "note": "test"})
    return path, G


def test_native_round_trip_is_exact_and_weights_only(native_file):
    path, G = native_file
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "waifu-morph" and raw["version"] == 1 and raw["arch"] == "stylegan2"
    G2 = load_generator(path, device="cpu")
    for name, value in G.state_dict().items():
        assert torch.equal(G2.state_dict()[name], value), name
    assert G2.default_truncation_cutoff == 4 and G2.checkpoint_info.meta["note"] == "test"
    assert not list(path.parent.glob("*.tmp"))


def test_save_native_accepts_the_trainers_call(tmp_path, native_file):
    _, G = native_file
    path = save_native(tmp_path / "m.pt", arch="stylegan2", init_kwargs=KW, state_dict=G.state_dict(), meta={})
    assert read_checkpoint(path).state_dict.keys() == G.state_dict().keys()


@pytest.mark.parametrize("content,match", [
    (None, "not found"),
    (b"", "empty"),
    (b"hello, I am a README\n", "text file"),
    (b"\x00\x01\x02\x03binary junk", "not a checkpoint"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, match):
    path = tmp_path / "x.pkl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as err:
        read_checkpoint(path)
    assert "\n" not in str(err.value)


def test_truncated_files_give_one_line_errors(tmp_path, native_file):
    G = native_file[1]
    full = nvidia_pickle_bytes(G, KW)
    for cut in (len(full) // 3, len(full) - 10):
        path = tmp_path / "cut.pkl"
        path.write_bytes(full[:cut])
        with pytest.raises(CheckpointError) as err:
            read_checkpoint(path)
        assert "\n" not in str(err.value)
    data = native_file[0].read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(path)


def test_unknown_pickle_and_unknown_torch_file(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(3)}))
    with pytest.raises(CheckpointError, match="not a known StyleGAN checkpoint"):
        read_checkpoint(path)
    path = tmp_path / "other.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match="not a known generator checkpoint.*model"):
        read_checkpoint(path)


def test_native_with_unknown_arch_is_refused(tmp_path, native_file):
    path = tmp_path / "weird.pt"
    save_native(path, arch="stylegan9", init_kwargs={}, state_dict={"w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unknown architecture 'stylegan9'"):
        load_generator(path, "cpu")


def test_describe_rows(native_file):
    rows = dict(describe(native_file[0], console=None))
    assert rows["architecture"] == "stylegan2 (skip)"
    assert rows["resolution"].startswith("16x16")
    assert rows["num_ws"] == "6"
    assert "coarse" in rows["style groups"] and "layers 0-3" in rows["style groups"]
    assert rows["parameters"] == f"{sum(p.numel() for p in native_file[1].parameters()):,}"
    assert "num_fp16_res=1" in rows["fp16 layers"]


def test_cli_image_writes_official_uint8(tmp_path, native_file):
    path, G = native_file
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["image", str(path), "--seeds", "3,5-6", "--psi", "0.7", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["seed0003.png", "seed0005.png", "seed0006.png"]
    z = torch.from_numpy(z_from_seed(5, 16)).float()
    with torch.no_grad():
        img = G.synthesis(G.mapping(z, truncation_psi=0.7, truncation_cutoff=4), noise_mode="const")
    want = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    got = np.asarray(Image.open(out / "seed0005.png"))
    assert got.shape == (16, 16, 3) and np.array_equal(got, want)


@pytest.mark.parametrize("command", ["info", "image"])
def test_cli_bad_input_exits_nonzero_with_one_line(tmp_path, native_file, command, capsys):
    G = native_file[1]
    cases = {"missing.pkl": None, "readme.pkl": b"just text\n", "d_only.pkl": nvidia_pickle_bytes(G, KW, keys=("D",))}
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        args = [command, str(path)] + (["-o", str(tmp_path / "o"), "-q"] if command == "image" else [])
        with pytest.raises(SystemExit) as exc:
            main(args)
        captured = capsys.readouterr()
        output = captured.out + captured.err
        assert exc.value.code == 2, (name, output)
        lines = [line for line in output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), output


def test_cli_info_prints_a_table(native_file):
    res = CliRunner().invoke(app, ["info", str(native_file[0])])
    assert res.exit_code == 0, res.output
    assert "stylegan2" in res.output and "num_ws" in res.output and "16x16" in res.output
