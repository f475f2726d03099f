"""rosinality .pt and StyleGAN2 TF pickles: converted to official SG2 names, every tensor consumed, same images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpolate import networks
from interpolate.errors import CheckpointError
from interpolate.formats import read_checkpoint, rosinality, tf_stylegan2
from interpolate.loading import build_generator, load_generator
from writers import perturb, rosinality_checkpoint, stylegan2_tf_networks
from writers_tf import dumps_tf

KW = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
          channel_base=512, channel_max=32, num_fp16_res=0, conv_clamp=None)
TF_KW = dict(resolution=16, latent_size=16, dlatent_size=16, fmap_base=256, fmap_max=32, mapping_layers=2)


@pytest.fixture(scope="module")
def G():
    return perturb(networks.build("stylegan2", **KW), seed=3, filters=False).eval()


def _same_images(G_loaded, G_ref, psi=0.7):
    z = torch.from_numpy(np.random.RandomState(0).randn(2, 16)).float()
    with torch.no_grad():
        torch.testing.assert_close(G_loaded(z, truncation_psi=psi), G_ref(z, truncation_psi=psi), rtol=0, atol=1e-6)


def test_rosinality_convert_weight_layout(G, tmp_path):
    path = tmp_path / "550000.pt"
    torch.save(rosinality_checkpoint(G.state_dict(), 16, 2), path)
    data = read_checkpoint(path)
    assert data.format.startswith("rosinality") and data.meta["w_avg"] == "latent_avg from the file"
    assert set(data.state_dict) == set(G.state_dict())
    for name, value in G.state_dict().items():
        assert torch.equal(data.state_dict[name], value), name
    _same_images(load_generator(path, "cpu"), G)


def test_rosinality_train_py_checkpoint_with_args_and_no_latent_avg(G, tmp_path):
    path = tmp_path / "010000.pt"
    torch.save(rosinality_checkpoint(G.state_dict(), 16, 2, train_py=True), path)
    data = read_checkpoint(path)
    assert "estimated" in data.meta["w_avg"]
    # the estimate is the mean of many mapped z: close to, but not equal to, any stored value
    w_avg = data.state_dict["mapping.w_avg"]
    z = torch.randn(4096, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = G.mapping(z)[:, 0].mean(0)
    assert (w_avg - ref).abs().max() < 0.1 * ref.abs().max()
    _same_images(build_generator(data), G, psi=1.0)


def test_rosinality_wrong_shape_and_unknown_tensor_are_named(G):
    ck = rosinality_checkpoint(G.state_dict(), 16, 2)
    ck["g_ema"]["convs.1.conv.modulation.bias"] = torch.zeros(5)
    with pytest.raises(CheckpointError, match=r"'convs\.1\.conv\.modulation\.bias' has shape \[5\]"):
        rosinality.convert(ck)
    ck = rosinality_checkpoint(G.state_dict(), 16, 2)
    ck["g_ema"]["mystery.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="mystery.weight"):
        rosinality.convert(ck)


@pytest.mark.parametrize("protocol,numpy1", [(4, True), (2, True), (4, False)])
def test_stylegan2_tf_pickle_round_trip(G, tmp_path, protocol, numpy1):
    path = tmp_path / "network-snapshot-000500.pkl"
    path.write_bytes(dumps_tf(stylegan2_tf_networks(G.state_dict(), TF_KW), protocol=protocol, numpy1=numpy1))
    data = read_checkpoint(path)
    assert data.arch == "stylegan2" and data.init_kwargs["channel_base"] == 2 * TF_KW["fmap_base"]
    assert data.meta["truncation_psi"] == 0.5 and data.meta["name"] == "Gs"
    for name, value in G.state_dict().items():
        assert torch.equal(data.state_dict[name], value), name
    _same_images(load_generator(path, "cpu"), G)


def test_stylegan2_tf_resnet(tmp_path):
    kw = {**KW, "architecture": "resnet"}
    G = perturb(networks.build("stylegan2", **kw), seed=4, filters=False).eval()
    path = tmp_path / "resnet.pkl"
    path.write_bytes(dumps_tf(stylegan2_tf_networks(G.state_dict(), {**TF_KW, "architecture": "resnet"})))
    _same_images(load_generator(path, "cpu"), G)


@pytest.mark.parametrize("kwarg", ["resolution_h", "min_h"])
def test_stylegan2_tf_non_square_fork_refused_naming_the_kwarg(G, kwarg):
    with pytest.raises(CheckpointError, match=f"{kwarg}=384"):
        tf_stylegan2.init_kwargs_from({**TF_KW, kwarg: 384})


def test_stylegan2_tf_unknown_kwarg_refused_naming_it():
    with pytest.raises(CheckpointError, match="unknown static kwarg frobnicate=3"):
        tf_stylegan2.init_kwargs_from({**TF_KW, "frobnicate": 3})


def test_stylegan2_tf_missing_or_misshapen_variable_named(G, tmp_path):
    nets = stylegan2_tf_networks(G.state_dict(), TF_KW, overrides={"G_synthesis": {"8x8/Conv1/mod_bias": None}})
    path = tmp_path / "a.pkl"
    path.write_bytes(dumps_tf(nets))
    with pytest.raises(CheckpointError, match="lacks variable 'synthesis/8x8/Conv1/mod_bias'"):
        read_checkpoint(path)
    nets = stylegan2_tf_networks(G.state_dict(), TF_KW, overrides={"G_mapping": {"Dense1/bias": np.zeros(3, np.float32)}})
    path.write_bytes(dumps_tf(nets))
    with pytest.raises(CheckpointError, match=r"'mapping/Dense1/bias' has shape \(3,\)"):
        read_checkpoint(path)
