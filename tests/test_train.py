"""The compact StyleGAN2 trainer at tiny sizes: finite losses, snapshots that load, exact resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from interpolate.networks import build
from interpolate.train import loss as L
from interpolate.train.discriminator import Discriminator, MinibatchStdLayer
from interpolate.train.snapshots import SNAPSHOT_FORMAT, load_snapshot
from interpolate.train.trainer import TrainConfig, Trainer, train


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = dict(resolution=16, batch=4, z_dim=16, w_dim=16, map_layers=2, channel_base=128, channel_max=16,
            snapshot_minutes=1e9, log_every=1)


def tiny_trainer(tmp_path, **kw) -> Trainer:
    return Trainer(TrainConfig(**{**TINY, **kw}), outdir=tmp_path)


def test_discriminator_shapes_and_official_names():
    D = Discriminator(img_resolution=32, channel_base=256, channel_max=32)
    names = set(D.state_dict())
    for name in ["b32.fromrgb.weight", "b32.fromrgb.bias", "b32.conv0.weight", "b32.conv1.weight", "b32.skip.weight",
                 "b16.conv0.bias", "b8.skip.weight", "b4.conv.weight", "b4.fc.weight", "b4.out.weight", "b4.out.bias"]:
        assert name in names, name
    assert "b16.fromrgb.weight" not in names and "b8.skip.bias" not in names
    assert D.b4.fc.weight.shape == (32, 32 * 16)
    logits = D(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()


def test_minibatch_std_appends_group_deviation():
    x = torch.randn(8, 6, 4, 4)
    y = MinibatchStdLayer(group_size=4)(x)
    assert y.shape == (8, 7, 4, 4)
    groups = x.reshape(4, 2, 6, 4, 4)                       # sample i is in group i % 2
    expected = groups.std(dim=0, unbiased=False).mean(dim=[1, 2, 3])
    assert torch.allclose(y[:, 6, 0, 0], expected.repeat(4), atol=1e-5)
    assert torch.equal(y[:, :6], x)


def test_r1_penalty_matches_the_analytic_gradient():
    w = torch.randn(3, 4, 4)
    real = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (real * w).sum(dim=[1, 2, 3])
    assert torch.allclose(L.r1_penalty(real, logits), w.square().sum(), rtol=1e-5)


def test_style_mixing_takes_the_tail_from_a_second_latent():
    torch.manual_seed(0)
    G = build("stylegan2", z_dim=8, w_dim=8, img_resolution=16, mapping_kwargs=dict(num_layers=2),
              channel_base=64, channel_max=8)
    z = torch.randn(3, 8)
    plain = G.mapping(z)
    mixed = L.mixed_ws(G, z, mixing_prob=1.0)
    same = (mixed - plain).abs().amax(dim=(0, 2)) == 0
    cut = int(same.float().argmin())
    assert 1 <= cut < G.num_ws and same[:cut].all() and not same[cut:].any()
    assert torch.equal(L.mixed_ws(G, z, mixing_prob=0.0), plain)


def test_steps_have_finite_losses_and_move_every_network(tmp_path):
    tr = tiny_trainer(tmp_path)
    g0 = {k: v.clone() for k, v in tr.G.state_dict().items()}
    d0 = {k: v.clone() for k, v in tr.D.state_dict().items()}
    e0 = {k: v.clone() for k, v in tr.G_ema.state_dict().items()}
    stats = [tr.step() for _ in range(3)]
    for s in stats:
        assert math.isfinite(s.g_loss) and math.isfinite(s.d_loss)
    assert math.isfinite(stats[0].r1) and math.isnan(stats[1].r1)      # lazy R1 on step 0, 16, 32, ...
    assert tr.step_idx == 3 and tr.nimg == 12
    assert not torch.equal(g0["synthesis.b16.conv1.weight"], tr.G.state_dict()["synthesis.b16.conv1.weight"])
    assert not torch.equal(d0["b16.conv0.weight"], tr.D.state_dict()["b16.conv0.weight"])
    assert not torch.equal(e0["synthesis.b16.conv1.weight"], tr.G_ema.state_dict()["synthesis.b16.conv1.weight"])
    assert not torch.equal(g0["mapping.w_avg"], tr.G.mapping.w_avg)
    assert torch.equal(tr.G.mapping.w_avg, tr.G_ema.mapping.w_avg)    # buffers copied to the EMA


def test_snapshot_and_model_load_with_weights_only(tmp_path):
    tr = tiny_trainer(tmp_path)
    tr.step()
    tr.checkpoint()
    snap = torch.load(tmp_path / "snapshot.pt", weights_only=True)
    assert snap["format"] == SNAPSHOT_FORMAT and snap["step"] == 1
    model = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(model) == {"format", "version", "arch", "init_kwargs", "state_dict", "meta"}
    assert model["format"] == "waifu-morph" and model["version"] == 1 and model["arch"] == "stylegan2"
    assert model["meta"]["training"]["step"] == 1 and model["meta"]["dataset"]["seed"] == 0
    G = build(model["arch"], **model["init_kwargs"])
    G.load_state_dict(model["state_dict"], strict=True)
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.allclose(G(z), tr.G_ema(z), atol=1e-6)            # the EMA generator, except w_avg
    assert len(list((tmp_path / "samples").glob("step*.png"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_model_loads_through_load_generator(tmp_path):
    loading = pytest.importorskip("interpolate.loading")
    tr = tiny_trainer(tmp_path)
    tr.export_model(tmp_path / "m.pt")
    G = loading.load_generator(tmp_path / "m.pt", device="cpu")
    assert G.arch == "stylegan2" and G.img_resolution == 16 and G.num_ws == 6


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    straight = tiny_trainer(tmp_path / "a")
    for _ in range(3):
        straight.step()
    first = tiny_trainer(tmp_path / "b")
    for _ in range(2):
        first.step()
    first.save_snapshot()
    resumed = Trainer.resume(tmp_path / "b" / "snapshot.pt")
    assert resumed.step_idx == 2 and resumed.outdir == tmp_path / "b"
    resumed.step()
    assert resumed.step_idx == 3
    for name, value in straight.G_ema.state_dict().items():
        assert torch.allclose(value, resumed.G_ema.state_dict()[name], atol=1e-6), name
    for name, value in straight.D.state_dict().items():
        assert torch.allclose(value, resumed.D.state_dict()[name], atol=1e-6), name


def test_train_loop_stops_at_kimg_and_logs(tmp_path):
    tr = tiny_trainer(tmp_path, kimg=0.02)                 # 20 images = 5 steps of 4
    lines = []
    train(tr, log=lines.append)
    assert tr.step_idx == 5
    stats = [json.loads(l) for l in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(s["g_loss"]) for s in stats)
    assert load_snapshot(tmp_path / "snapshot.pt")["step"] == 5
    assert "done" in lines[-1]


def test_bad_config_and_bad_snapshot_are_user_errors(tmp_path):
    from interpolate.errors import WaifuError

    with pytest.raises(WaifuError, match="power of two"):
        TrainConfig(resolution=48)
    with pytest.raises(WaifuError, match="multiple"):
        TrainConfig(batch=6)
    (tmp_path / "x.pt").write_bytes(b"not a snapshot")
    with pytest.raises(WaifuError, match="not a readable training snapshot"):
        load_snapshot(tmp_path / "x.pt")
    with pytest.raises(WaifuError, match="no training snapshot"):
        load_snapshot(tmp_path / "missing.pt")


def test_cli_train_run_resume_export(tmp_path, capsys):
    from interpolate.cli import main

    out = tmp_path / "run"
    args = ["train", "run", "-q", "-o", str(out), "--resolution", "16", "--batch", "4", "--kimg", "0.008",
            "--channel-base", "128", "--channel-max", "16", "--z-dim", "16", "--w-dim", "16", "--map-layers", "2"]
    main_ok(main, args)
    assert load_snapshot(out / "snapshot.pt")["step"] == 2
    with pytest.raises(SystemExit) as exit_info:        # an existing run is not overwritten
        main(args)
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err
    main_ok(main, ["train", "run", "-q", "-o", str(out), "--resume", str(out / "snapshot.pt"), "--kimg", "0.016"])
    assert load_snapshot(out / "snapshot.pt")["step"] == 4
    main_ok(main, ["train", "export", str(out / "snapshot.pt"), "-o", str(tmp_path / "m.pt")])
    assert torch.load(tmp_path / "m.pt", weights_only=True)["meta"]["training"]["step"] == 4


def main_ok(main, args):
    try:
        main(args)
    except SystemExit as exit_info:
        assert exit_info.code in (0, None), exit_info.code


def test_nearest_neighbour_check(tmp_path):
    from interpolate.train.check import check_model, nearest_distances, _small
    from interpolate.train.dataset import chibi_images

    ref_imgs = chibi_images(0, 6, 16)
    same = nearest_distances("same", ref_imgs[:3], _small(ref_imgs))
    assert np.allclose(same.nearest, 0) and list(same.index) == [0, 1, 2]
    tr = tiny_trainer(tmp_path)
    tr.export_model(tmp_path / "m.pt")
    rows = check_model(tmp_path / "m.pt", num_seeds=4, num_reference=30, psi=0.7)
    names = [r.name for r in rows]
    assert names == ["trained model (psi 0.7)", "trained model (psi 1)", "random weights", "held-out data set"]
    held_out, random_weights = rows[3], rows[2]
    assert held_out.mean < random_weights.mean            # real images are nearer the data set than fog


def test_card_figures(tmp_path):
    from PIL import Image

    from interpolate.paths.styles import style_groups
    from interpolate.train.figures import style_strip, write_card_figures

    G = tiny_trainer(tmp_path, resolution=64, channel_base=256).G   # fresh weights, 64 px: fine = 64 px layers
    strip = style_strip(G, 1, 2, "fine", frames=3, psi=0.7)
    assert strip.shape == (3, 64, 64, 3)
    grid = write_card_figures(G, tmp_path / "card", "m", scale=1)
    assert [p.name for p in grid] == ["m-grid.png", "m-coarse.png", "m-middle.png", "m-fine.png", "m-dataset.png"]
    assert Image.open(grid[0]).size == (4 * 66 + 2, 4 * 66 + 2)
    sheet = np.asarray(Image.open(grid[0]))
    assert np.abs(sheet[2:66, 68:132].astype(int) - strip[0]).max() <= 1   # seed 1 = frame 0 of the strip
    assert not np.array_equal(strip[0], strip[2])
    coarse_only = style_strip(G, 1, 2, "coarse", frames=2, psi=0.7)
    assert not np.array_equal(coarse_only[0], coarse_only[1])
    assert style_groups(G)["fine"] == [8, 9]


def test_worker_processes_draw_the_same_batches():
    from interpolate.train.trainer import RealImages, real_batch

    cfg = TrainConfig(**TINY)
    reals = RealImages(cfg, workers=1, prefetch=2)
    try:
        for step in (0, 1, 3):
            assert torch.equal(reals.get(step)[0], real_batch(cfg, step))
        assert min(reals.pending) > 3
    finally:
        reals.close()


def test_style_change_measures_each_group(tmp_path):
    from interpolate.train.check import style_change

    G = tiny_trainer(tmp_path, resolution=64, channel_base=256).G.eval()
    change = style_change(G, num_pairs=2)
    assert list(change) == ["coarse", "middle", "fine", "all"]
    for colour, edges in change.values():
        assert math.isfinite(colour) and math.isfinite(edges) and colour >= 0 and edges >= 0
    assert change["all"][0] > 0
