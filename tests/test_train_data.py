"""Training on the user's images (folders, dataset_tool zips), fine-tuning with --init, ADA, and the
Frechet check: through the CLI where users run it, at tiny sizes."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from interpolate.cli import main
from interpolate.train.snapshots import load_snapshot
from interpolate.train.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_ARGS = ["--resolution", "16", "--batch", "4", "--channel-base", "128", "--channel-max", "16", "--z-dim", "16",
             "--w-dim", "16", "--map-layers", "2", "--snapshot-minutes", "1e9"]
TINY = dict(resolution=16, batch=4, z_dim=16, w_dim=16, map_layers=2, channel_base=128, channel_max=16,
            snapshot_minutes=1e9, log_every=1)


def run_cli(args, capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blob(rng, h, w) -> np.ndarray:
    """A soft coloured disc on a plain background (an image D has to look at, not noise)."""
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, rng.uniform(0.2, 0.4) * min(h, w)
    inside = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r)[..., None]
    bg, fg = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
    return np.where(inside, fg, bg).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """6 png (non-square, in two folders), 3 jpg, 1 corrupt png, 1 text file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pics"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(blob(rng, 20 + i, 28)).save(root / ("sub" if i % 2 else ".") / f"p{i}.png")
    for i in range(3):
        Image.fromarray(blob(rng, 24, 24)).save(root / "sub" / "deeper" / f"j{i}.jpg", quality=90)
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "notes.txt").write_text("not an image")
    return root


def dataset_tool_zip(path: Path, n: int = 8, classes: int = 3) -> Path:
    """The layout NVIDIA's dataset_tool.py writes: 00000/img00000000.png ... + dataset.json labels."""
    rng = np.random.default_rng(1)
    labels = []
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            name = f"{i // 1000:05d}/img{i:08d}.png"
            buf = io.BytesIO()
            Image.fromarray(blob(rng, 16, 16)).save(buf, format="png")
            z.writestr(name, buf.getvalue())
            labels.append([name, i % classes])
        z.writestr("dataset.json", json.dumps({"labels": labels}))
    return path


def test_folder_of_png_and_jpg_trains_skips_the_corrupt_file_and_renders(image_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["train", "run", "-q", "--data", str(image_folder), "-o", str(out), "--kimg", "0.012",
                               "--xflip", *TINY_ARGS], capsys)
    assert code == 0
    assert "9 images at 16 px" in stdout and "skipped 1 unreadable file(s): broken.png" in stdout
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats][-1] == 3
    assert all(math.isfinite(s["g_loss"]) and "aug_p" in s and s["images_per_s"] > 0 for s in stats)
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["meta"]["dataset"]["images"] == 9 and model["meta"]["dataset"]["skipped"] == 1
    assert model["meta"]["training"]["augment"] == "ada"
    code, _, _ = run_cli(["image", str(out / "model.pt"), "--seeds", "0-1", "-o", str(tmp_path / "png"), "-q"], capsys)
    assert code == 0 and len(list((tmp_path / "png").glob("*.png"))) == 2


def test_empty_folder_and_missing_data_are_one_line_refusals(tmp_path, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("no pictures")
    code, _, err = run_cli(["train", "run", "-q", "--data", str(tmp_path / "empty"), "-o", str(tmp_path / "r"),
                            *TINY_ARGS], capsys)
    assert code == 2 and "no .png, .jpg or .webp images" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "r" / "snapshot.pt").exists()
    code, _, err = run_cli(["train", "run", "-q", "--data", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r")], capsys)
    assert code == 2 and "no such folder" in err


def test_squaring_crops_or_pads_to_the_resolution():
    from interpolate.train.folder import to_square

    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255                                   # a white centre third on black
    crop = to_square(Image.fromarray(wide), 10, "crop")
    assert crop.shape == (10, 10, 3) and crop.min() == 255   # only the centre square is kept
    pad = to_square(Image.fromarray(wide), 30, "pad")
    assert pad.shape == (30, 30, 3)
    assert pad[15, 15].min() == 255 and pad[15, 0].max() == 0 and pad[0, 15].max() < 128   # padded rows: border colour


def test_dataset_tool_zip_with_labels_trains_a_conditional_model(tmp_path, capsys):
    data = dataset_tool_zip(tmp_path / "set.zip", n=8, classes=3)
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "run", "-q", "--data", str(data), "--cond", "-o", str(out), "--kimg", "0.008",
                                 *TINY_ARGS], capsys)
    assert code == 0, err
    assert "8 images at 16 px" in stdout and "3 label dimensions" in stdout
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["init_kwargs"]["c_dim"] == 3 and "mapping.embed.weight" in model["state_dict"]
    snap = load_snapshot(out / "snapshot.pt")
    assert "mapping.embed.weight" in snap["D"] and snap["D"]["b4.out.weight"].shape[0] == 16   # projection D
    code, _, _ = run_cli(["image", str(out / "model.pt"), "--seeds", "0", "--class-idx", "2", "-o", str(tmp_path / "png"),
                          "-q"], capsys)
    assert code == 0 and len(list((tmp_path / "png").glob("*.png"))) == 1
    code, _, err = run_cli(["train", "run", "-q", "--data", str(tmp_path / "pics-none"), "--cond", "-o",
                            str(tmp_path / "r2"), *TINY_ARGS], capsys)
    assert code == 2


def test_cond_without_labels_is_refused(image_folder, tmp_path, capsys):
    code, _, err = run_cli(["train", "run", "-q", "--data", str(image_folder), "--cond", "-o", str(tmp_path / "r"),
                            *TINY_ARGS], capsys)
    assert code == 2 and "has no labels" in err


def _nvidia_snapshot(tmp_path) -> tuple[Path, dict, dict, dict]:
    """An NVIDIA-layout training snapshot (tests/writers.py) with G, G_ema and a real resnet D."""
    from writers import nvidia_pickle_bytes, perturb

    from interpolate.networks import build
    from interpolate.train.discriminator import Discriminator
    from interpolate.train.finetune import D_ARGS

    g_kw = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                channel_base=128, channel_max=16, num_fp16_res=0, conv_clamp=256, architecture="skip")
    torch.manual_seed(5)
    G = perturb(build("stylegan2", **g_kw), seed=3)
    D = Discriminator(img_resolution=16, channel_base=128, channel_max=16, conv_clamp=256)
    with torch.no_grad():
        for p in D.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    D.b16.register_buffer("resample_filter", torch.ones(4, 4) / 16)   # the official block-level filter buffer
    d_kw = dict(c_dim=0, img_resolution=16, img_channels=3, architecture="resnet", channel_base=128, channel_max=16,
                num_fp16_res=0, conv_clamp=256, cmap_dim=None, block_kwargs={}, mapping_kwargs={},
                epilogue_kwargs={"mbstd_group_size": 4})
    assert D_ARGS[0] == "c_dim"
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(nvidia_pickle_bytes(G, g_kw, repo="stylegan3", D=D, d_init_kwargs=d_kw))
    params = dict(G.named_parameters())                     # the writer's non-EMA G: parameters * 1.1
    g_train = {k: v * 1.1 if k in params else v for k, v in G.state_dict().items()}
    return path, G.state_dict(), g_train, {k: v.clone() for k, v in D.state_dict().items() if k != "b16.resample_filter"}


def test_finetune_from_an_nvidia_pickle_loads_and_trains_G_and_D(image_folder, tmp_path, capsys):
    from interpolate.train.finetune import read_init

    path, g_ema, g_train, d_file = _nvidia_snapshot(tmp_path)
    init = read_init(path)
    assert init.d_state is not None and not init.notes
    for name, value in g_ema.items():                      # the file's G_ema and G, tensor for tensor
        assert torch.equal(init.g_ema_state[name], value), name
    assert all(torch.allclose(init.g_state[k], v) for k, v in g_train.items())
    out = tmp_path / "ft"
    code, stdout, err = run_cli(["train", "run", "-q", "--data", str(image_folder), "--init", str(path), "-o", str(out),
                                 "--kimg", "0.016", "--batch", "4", "--snapshot-minutes", "1e9"], capsys)
    assert code == 0, err
    assert "16 px skip StyleGAN2" in stdout and "D from the file" in stdout
    snap = load_snapshot(out / "snapshot.pt")
    assert snap["step"] == 4
    assert set(snap["D"]) == set(d_file)
    moved = [k for k in d_file if not torch.equal(snap["D"][k], d_file[k])]
    assert "b16.conv0.weight" in moved and "b4.out.weight" in moved       # D trained from the file's weights
    for k in ("b16.conv0.weight", "b4.fc.weight"):                        # ... and only a few steps away from them
        assert (snap["D"][k] - d_file[k]).abs().max() < 0.2 * d_file[k].abs().max()
    torch.manual_seed(5)
    fresh = Trainer(TrainConfig(**{**TINY, "g_architecture": "skip"}))
    for k in ("synthesis.b16.conv1.weight", "mapping.fc0.weight"):        # G started from the file, not fresh
        near_file = (snap["G"][k] - g_train[k]).abs().mean()
        near_fresh = (snap["G"][k] - fresh.G.state_dict()[k]).abs().mean()
        assert near_file < 0.25 * near_fresh, k
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["init_kwargs"]["architecture"] == "skip" and model["meta"]["training"]["init"] == str(path)


def test_finetune_from_a_native_file_gets_a_fresh_D_and_refuses_a_resolution_change(image_folder, tmp_path, capsys):
    from fakes import tiny_stylegan2_file

    model = tiny_stylegan2_file(tmp_path)                  # 64 px, no discriminator in the file
    code, stdout, err = run_cli(["train", "run", "-q", "--data", str(image_folder), "--init", model, "-o",
                                 str(tmp_path / "ft"), "--kimg", "0.004", "--batch", "4"], capsys)
    assert code == 0, err
    assert "D fresh" in stdout and "holds no discriminator" in stdout
    code, _, err = run_cli(["train", "run", "-q", "--data", str(image_folder), "--init", model, "--resolution", "32",
                            "-o", str(tmp_path / "ft2")], capsys)
    assert code == 2 and "64 px generator" in err


def test_finetune_refuses_a_stylegan3_generator(image_folder, tmp_path, capsys):
    from writers import nvidia_pickle_bytes

    from interpolate.networks import build

    kw = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
              channel_base=256, channel_max=16, magnitude_ema_beta=0.999)
    G3 = build("stylegan3", **kw)
    (tmp_path / "sg3.pkl").write_bytes(nvidia_pickle_bytes(G3, kw))
    code, _, err = run_cli(["train", "run", "-q", "--data", str(image_folder), "--init", str(tmp_path / "sg3.pkl"),
                            "-o", str(tmp_path / "r")], capsys)
    assert code == 2 and "stylegan3 generator" in err and "StyleGAN2 only" in err and len(err.strip().splitlines()) == 1


def test_resume_is_exact_with_folder_data_and_ada(image_folder, tmp_path):
    cfg = dict(TINY, data=str(image_folder), xflip=True, aug_p=0.3, ada_interval=1, ada_kimg=0.05, ada_target=-1.0)
    straight = Trainer(TrainConfig(**cfg), outdir=tmp_path / "a")
    for _ in range(4):
        straight.step()
    first = Trainer(TrainConfig(**cfg), outdir=tmp_path / "b")
    for _ in range(2):
        first.step()
    first.save_snapshot()
    p_saved = first.ada.p
    resumed = Trainer.resume(tmp_path / "b" / "snapshot.pt")
    assert resumed.ada.p == p_saved != 0.3                 # p moved, and came back with the snapshot
    for _ in range(2):
        resumed.step()
    assert resumed.ada.p == straight.ada.p
    for net in ("G_ema", "D"):
        for name, value in getattr(straight, net).state_dict().items():
            assert torch.allclose(value, getattr(resumed, net).state_dict()[name], atol=1e-6), (net, name)


def test_resume_refuses_changed_images(image_folder, tmp_path):
    from interpolate.errors import WaifuError

    tr = Trainer(TrainConfig(**TINY, data=str(image_folder)), outdir=tmp_path / "a")
    tr.save_snapshot()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image_folder / "new.png")
    with pytest.raises(WaifuError, match="changed since the snapshot"):
        Trainer.resume(tmp_path / "a" / "snapshot.pt")


def _sixteen(tmp_path) -> Path:
    rng = np.random.default_rng(7)
    root = tmp_path / "sixteen"
    root.mkdir()
    for i in range(16):
        Image.fromarray(blob(rng, 16, 16)).save(root / f"{i:02d}.png")
    return root


@pytest.mark.parametrize("augment", ["ada", "fixed"])
def test_augmentation_probability_rises_when_D_overfits_sixteen_images(tmp_path, augment):
    """G frozen and a fast D: nothing stops D from memorising the 16 reals (r_t = E[sign D(real)] goes
    towards 1), and ADA must raise p. A constant-p pipeline ('fixed', what DiffAugment does) keeps p
    where it started: the same assertion fails for it, which the second case shows."""
    cfg = TrainConfig(**TINY, data=str(_sixteen(tmp_path)), augment=augment, ada_kimg=0.5, d_lr=0.01, g_lr=0.0)
    tr = Trainer(cfg)
    r_ts = []
    for _ in range(48):
        r_ts.append(tr.step().r_t)
    p_rose = tr.ada.p >= 0.2
    if augment == "ada":
        assert p_rose, (tr.ada.p, r_ts[3::4])
        assert np.nanmean(r_ts[24:]) > cfg.ada_target     # D did overfit
    else:
        assert not p_rose and tr.ada.p == 0.0


def test_ada_controller_follows_the_sign_statistic():
    from interpolate.train.augment import AdaController

    ada = AdaController(target=0.6, interval=2, speed_kimg=0.1)
    for step in range(4):                                  # all reals scored positive: r_t = 1 > 0.6
        ada.observe(torch.ones(4, 1))
        ada.maybe_adjust(step, batch=4)
    assert ada.r_t == 1.0 and ada.p == pytest.approx(2 * 4 * 2 / 100)
    for step in range(4, 20):                              # D unsure (r_t = 0): p falls back, never below 0
        ada.observe(torch.tensor([[1.0], [-1.0]]))
        ada.maybe_adjust(step, batch=4)
    assert ada.r_t == 0.0 and ada.p == 0.0


def test_augment_is_identity_at_zero_and_differentiable():
    from interpolate.train.augment import augment

    x = torch.rand(8, 3, 16, 16) * 2 - 1
    state = torch.get_rng_state()
    assert augment(x, 0.0) is x and torch.equal(torch.get_rng_state(), state)   # p = 0 draws nothing
    x.requires_grad_(True)
    torch.manual_seed(0)
    y = augment(x, 1.0)
    assert y.shape == x.shape and torch.isfinite(y).all() and not torch.allclose(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.manual_seed(0)
    assert torch.equal(augment(x.detach(), 1.0), y.detach())                   # seeded: the same images


def test_frechet_distance_properties():
    from interpolate.train.frechet import features, frechet_distance

    rng = np.random.default_rng(0)
    imgs = np.stack([blob(rng, 32, 32) for _ in range(40)])
    f = features(imgs)
    assert f.shape == (40, 480) and np.array_equal(f, features(imgs))
    assert abs(frechet_distance(f, f)) < 1e-3 * np.trace(np.cov(f, rowvar=False))   # 0 up to rounding
    darker = features((imgs // 2).astype(np.uint8))
    assert frechet_distance(f, darker) > 3 * frechet_distance(f[:20], f[20:]) > 0     # far above the sampling floor
    a, b = rng.standard_normal((500, 3)), rng.standard_normal((500, 3)) + [2.0, 0, 0]
    assert frechet_distance(a, b) == pytest.approx(4.0, abs=0.5)     # Gaussians: |mu_a - mu_b|^2


def test_train_check_reports_frechet_and_nearest_rows_on_user_data(image_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run_cli(["train", "run", "-q", "--data", str(image_folder), "-o", str(out), "--kimg", "0.004",
                          *TINY_ARGS], capsys)
    assert code == 0
    code, stdout, err = run_cli(["train", "check", str(out / "model.pt"), "--data", str(image_folder), "--seeds", "6",
                                 "--fd-images", "6", "--markdown"], capsys)
    assert code == 0, err
    assert "NOT Inception FID" in stdout and "| random weights | 6 |" in stdout
    assert "| data set, half vs half | 4 |" in stdout and "trained model (psi 1)" in stdout


def test_export_needs_only_the_snapshot_not_the_images(image_folder, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    assert run_cli(["train", "run", "-q", "--data", str(image_folder), "-o", str(out), "--kimg", "0.008",
                    *TINY_ARGS], capsys)[0] == 0
    shutil.rmtree(image_folder)
    code, _, err = run_cli(["train", "export", str(out / "snapshot.pt"), "-o", str(tmp_path / "m.pt")], capsys)
    assert code == 0, err
    run_model, exported = (torch.load(p, weights_only=True) for p in (out / "model.pt", tmp_path / "m.pt"))
    assert exported["meta"] == run_model["meta"] and exported["meta"]["dataset"]["images"] == 9
    assert all(torch.equal(v, run_model["state_dict"][k]) for k, v in exported["state_dict"].items())
