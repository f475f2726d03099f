"""`waifu-morph mix`: the style-mixing figure, checked against ws mixed here from the style groups."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_render_cli import G, cli, hidden, one_error_line, read_only_disk, tiny_checkpoint  # noqa: E402,F401
from test_render_encode import read_video  # noqa: E402

from interpolate.paths import style_groups  # noqa: E402


@torch.no_grad()
def seed_w(G, seed: int, psi: float = 1.0) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float()
    return G.mapping(z, None, truncation_psi=psi)


@torch.no_grad()
def images(G, ws: list[torch.Tensor]) -> np.ndarray:
    """One synthesis call for all: [N, H, W, 3] int."""
    img = G.synthesis(torch.cat(ws), noise_mode="const")
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy().astype(int)


def read_png(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_mix_png_cells_are_rows_with_the_columns_styles(tmp_path, tiny_checkpoint, G, capfd):
    rows, cols, psi = [1, 2], [7, 8, 9], 0.7
    out = tmp_path / "mix.png"
    assert cli("mix", tiny_checkpoint, "--rows", "1,2", "--cols", "7,8,9", "--style", "middle", "--psi", psi, "--cell", "64",
               "--device", "cpu", "-o", out) == 0
    assert "wrote" in capfd.readouterr().err
    fig = read_png(out)
    assert fig.shape == (3 * 64, 4 * 64, 3)
    tile = lambda r, c: fig[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64]  # noqa: E731
    assert (tile(0, 0) == 255).all()                                     # blank corner
    middle = style_groups(G)["middle"]
    assert middle and len(middle) < G.num_ws
    w_rows = [seed_w(G, s, psi) for s in rows]
    w_cols = [seed_w(G, s, psi) for s in cols]
    mixed = []
    for r in range(2):
        for c in range(3):
            w = w_rows[r].clone()
            w[:, middle] = w_cols[c][:, middle]
            mixed.append(w)
    want = images(G, w_cols + w_rows + mixed)
    for c in range(3):
        assert np.abs(tile(0, c + 1) - want[c]).max() <= 1
    for r in range(2):
        assert np.abs(tile(r + 1, 0) - want[3 + r]).max() <= 1
        for c in range(3):
            assert np.abs(tile(r + 1, c + 1) - want[5 + 3 * r + c]).max() <= 1     # batching: the last bit at most
            assert np.abs(tile(r + 1, c + 1) - want[3 + r]).mean() > 1            # the mix changed the row
    # another style group gives another figure; a finished figure is not replaced without -y
    assert cli("mix", tiny_checkpoint, "--rows", "1,2", "--cols", "7,8,9", "--style", "coarse", "--psi", psi, "--cell", "64",
               "-q", "-o", out) == 2
    assert cli("mix", tiny_checkpoint, "--rows", "1,2", "--cols", "7,8,9", "--layers", "0-1", "--psi", psi, "--cell", "64",
               "-q", "-y", "-o", out) == 0
    capfd.readouterr()
    w = w_rows[0].clone()
    w[:, [0, 1]] = w_cols[0][:, [0, 1]]
    assert np.abs(read_png(out)[64:128, 64:128] - images(G, [w])[0]).max() <= 1
    assert hidden(tmp_path) == []


def test_mix_video_morphs_each_cell_from_its_row_to_the_mix_and_back(tmp_path, tiny_checkpoint, G):
    out = tmp_path / "mix.mp4"
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "7,8", "--style", "coarse", "--video", "--cell", "64",
               "--seconds", "0.2", "--fps", "10", "-q", "-o", out) == 0
    frames = read_video(out).astype(int)
    assert frames.shape == (4, 128, 192, 3)                       # there (2 frames) and back (2 frames)
    coarse = style_groups(G)["coarse"]
    w_row, w_cols = seed_w(G, 1), [seed_w(G, 7), seed_w(G, 8)]
    mixed = []
    for w_col in w_cols:
        w = w_row.clone()
        w[:, coarse] = w_col[:, coarse]
        mixed.append(w)
    row_img, *rest = images(G, [w_row, *w_cols, *mixed])
    col_imgs, mix_imgs = rest[:2], rest[2:]
    for c in range(2):
        cell = lambda k: frames[k, 64:128, (c + 1) * 64:(c + 2) * 64]  # noqa: E731
        assert np.abs(cell(0) - row_img).mean() < 6              # starts at the row's character
        assert np.abs(cell(2) - mix_imgs[c]).mean() < 6          # half way: the full mix
        assert np.abs(cell(2) - row_img).mean() > np.abs(cell(2) - mix_imgs[c]).mean() + 3
        assert np.abs(frames[:, :64, (c + 1) * 64:(c + 2) * 64] - col_imgs[c]).mean() < 6
    assert (frames[:, :64, :64] > 245).all()                      # blank corner
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("args, words", [
    (["-o", "mix.mp4"], "--video"),
    (["--style", "sideways", "-o", "m.png"], "unknown mixing style"),
    (["--cell", "4", "-o", "m.png"], "--cell"),
])
def test_mix_bad_input_is_one_line(tmp_path, tiny_checkpoint, capfd, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", *args) == 2
    assert words in one_error_line(capfd.readouterr().err)


def test_mix_quiet_prints_nothing(tmp_path, tiny_checkpoint, capfd):
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", "-q", "-o", tmp_path / "m.png") == 0
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("video", [False, True])
def test_mix_into_a_read_only_folder_is_one_line(read_only_disk, tiny_checkpoint, capfd, video):
    out = read_only_disk / ("m.gif" if video else "m.png")
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", *(["--video"] if video else []), "-o", out) == 2
    line = one_error_line(capfd.readouterr().err)
    assert "writ" in line and "Traceback" not in line


def test_mix_video_does_not_replace_without_y(tmp_path, tiny_checkpoint, capfd):
    out = tmp_path / "m.gif"
    out.write_bytes(b"mine")
    assert cli("mix", tiny_checkpoint, "--rows", "1", "--cols", "2", "--video", "-o", out) == 2
    assert "--overwrite" in one_error_line(capfd.readouterr().err) and out.read_bytes() == b"mine"


def test_mix_uses_the_checkpoints_own_truncation_by_default(tmp_path):
    """As render and image do: a model that stores truncation_psi is drawn with it unless --psi is given."""
    from interpolate.formats.native import save_native
    from interpolate.networks import build

    kwargs = dict(z_dim=16, w_dim=16, img_resolution=64, img_channels=3, mapping_kwargs={"num_layers": 2},
                  channel_base=256, channel_max=8)
    torch.manual_seed(0)
    truncated = save_native(tmp_path / "psi05.pt", build("stylegan2", **kwargs), init_kwargs=kwargs,
                            meta={"truncation_psi": 0.5})
    for name, args in (("default", []), ("half", ["--psi", "0.5"]), ("off", ["--psi", "1"])):
        assert cli("mix", truncated, "--rows", "1", "--cols", "2", "-q", *args, "-o", tmp_path / f"{name}.png") == 0
    default, half, off = (read_png(tmp_path / f"{n}.png") for n in ("default", "half", "off"))
    assert np.array_equal(default, half) and np.abs(default - off).mean() > 1


SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="checkpoints/chibi-64.pt is not there")
def test_mix_of_the_shipped_model_takes_the_fine_styles_from_the_columns(tmp_path):
    from interpolate.loading import load_generator

    out = tmp_path / "mix.png"
    assert cli("mix", "--rows", "3,17", "--cols", "42", "--style", "fine", "--device", "cpu", "-q", "--cell", "64", "-o", out) == 0
    G = load_generator(str(SHIPPED), device="cpu")
    fine = style_groups(G)["fine"]
    psi = G.default_truncation_psi                   # the model card's 0.7, the default as in render
    assert psi == 0.7
    w_rows, w_col = [seed_w(G, 3, psi), seed_w(G, 17, psi)], seed_w(G, 42, psi)
    mixed = []
    for w_row in w_rows:
        w = w_row.clone()
        w[:, fine] = w_col[:, fine]
        mixed.append(w)
    want = images(G, [w_col, *w_rows, *mixed])
    fig = read_png(out)
    assert fig.shape == (3 * 64, 2 * 64, 3)
    assert np.abs(fig[:64, 64:] - want[0]).max() <= 1
    for r in range(2):
        assert np.abs(fig[(r + 1) * 64:(r + 2) * 64, :64] - want[1 + r]).max() <= 1
        assert np.abs(fig[(r + 1) * 64:(r + 2) * 64, 64:] - want[3 + r]).max() <= 1
