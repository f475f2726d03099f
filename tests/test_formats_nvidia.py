"""NVIDIA PyTorch network pickles: every layout variant loads as data, bit-exact, and bad ones fail in one line."""

from __future__ import annotations

import os

import pytest
import torch

from interpolate import networks
from interpolate.errors import CheckpointError, UnsafePickleError
from interpolate.formats import read_checkpoint
from interpolate.formats.nvidia_pickle import read_nvidia_pickle
from interpolate.loading import build_generator, load_generator
from writers import nvidia_pickle_bytes, perturb

SG3_FLAT = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
                channel_base=512, channel_max=32, num_fp16_res=1, conv_clamp=256)


@pytest.fixture(scope="module")
def G2():
    return perturb(networks.build("stylegan2", **SG3_FLAT), seed=1)


@pytest.mark.parametrize("numpy1", [False, True], ids=["numpy2", "numpy1"])
@pytest.mark.parametrize("old_dicts", [False, True], ids=["new-dicts", "old-dicts"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_stylegan3_repo_sg2_layouts_load_bit_exact(G2, numpy1, old_dicts, protocol):
    data = read_nvidia_pickle(nvidia_pickle_bytes(G2, SG3_FLAT, numpy1=numpy1, old_dicts=old_dicts, protocol=protocol))
    expected = G2.state_dict()
    assert data.arch == "stylegan2"
    assert list(data.state_dict) == list(expected)          # names and nn.Module.state_dict order
    for name, value in expected.items():
        assert torch.equal(data.state_dict[name], value), name   # G_ema, not G (which is * 1.1)
    assert data.init_kwargs == SG3_FLAT
    assert data.meta["source"].startswith("stylegan3")
    assert data.meta["training_set_kwargs"]["path"] == "data.zip"


def test_sg2ada_nested_kwargs_are_flattened_with_that_repos_defaults(G2, tmp_path):
    nested = dict(z_dim=16, w_dim=16, mapping_kwargs=dict(num_layers=2), c_dim=0, img_resolution=16, img_channels=3,
                  synthesis_kwargs=dict(channel_base=512, channel_max=32))
    data = read_nvidia_pickle(nvidia_pickle_bytes(G2, nested, repo="stylegan2-ada", numpy1=True, old_dicts=True))
    assert data.init_kwargs["num_fp16_res"] == 0 and data.init_kwargs["conv_clamp"] is None
    assert "synthesis_kwargs" not in data.init_kwargs
    assert data.meta["source"].startswith("stylegan2-ada-pytorch")
    G = build_generator(data)
    z = torch.randn(2, 16)
    expected = networks.build("stylegan2", **{**SG3_FLAT, "conv_clamp": None, "num_fp16_res": 0})
    expected.load_state_dict(G2.state_dict())
    torch.testing.assert_close(G(z, truncation_psi=0.7), expected.eval().requires_grad_(False)(z, truncation_psi=0.7), rtol=0, atol=0)


def test_load_generator_end_to_end_matches_source_network(G2, tmp_path):
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(nvidia_pickle_bytes(G2, SG3_FLAT))
    G = load_generator(path, device="cpu")
    assert not any(p.requires_grad for p in G.parameters()) and not G.training
    assert G.checkpoint_info.format.startswith("NVIDIA") and len(G.checkpoint_info.sha256) == 64
    z = torch.randn(3, 16)
    with torch.no_grad():
        ref = G2.eval()(z, truncation_psi=0.7)
        torch.testing.assert_close(G(z, truncation_psi=0.7), ref, rtol=0, atol=0)


def test_architecture_is_read_from_the_module_tree_not_the_name(G2, tmp_path):
    path = tmp_path / "stylegan3-r-ffhq.pkl"   # misleading name
    path.write_bytes(nvidia_pickle_bytes(G2, SG3_FLAT))
    assert read_checkpoint(path).arch == "stylegan2"


def test_discriminator_only_pickle_is_refused_in_one_line(G2):
    with pytest.raises(CheckpointError, match="only a discriminator") as err:
        read_nvidia_pickle(nvidia_pickle_bytes(G2, SG3_FLAT, keys=("D",)))
    assert "\n" not in str(err.value) and "D: Discriminator" in str(err.value)


def test_missing_g_ema_is_refused_naming_what_was_found(G2):
    with pytest.raises(CheckpointError, match="no G_ema") as err:
        read_nvidia_pickle(nvidia_pickle_bytes(G2, SG3_FLAT, keys=("G", "D")))
    assert "G: Generator" in str(err.value)


def test_unknown_generator_class_is_refused(G2):
    import writers

    bad = writers.nvidia_pickle_bytes(G2, SG3_FLAT).replace(b"SynthesisBlock", b"SynthesisBlocX")
    with pytest.raises(CheckpointError, match="unknown generator architecture"):
        read_nvidia_pickle(bad)


def test_os_system_in_the_pickle_is_refused_with_no_side_effect(G2, tmp_path, monkeypatch):
    marker = "/tmp/waifu-morph-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(nvidia_pickle_bytes(G2, SG3_FLAT, evil=True))
    with pytest.raises(UnsafePickleError, match="os.system|posix.system"):
        read_checkpoint(path)
    assert not os.path.exists(marker)


def test_wrong_shape_is_rejected_naming_the_tensor(G2):
    data = read_nvidia_pickle(nvidia_pickle_bytes(G2, SG3_FLAT))
    data.state_dict["synthesis.b8.conv0.affine.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointError, match=r"'synthesis\.b8\.conv0\.affine\.bias' has shape \[7\]"):
        build_generator(data)


def test_extra_and_missing_tensors_are_named(G2):
    data = read_nvidia_pickle(nvidia_pickle_bytes(G2, SG3_FLAT))
    data.state_dict["synthesis.b8.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"'synthesis\.b8\.extra' in the file has no place"):
        build_generator(data)
    del data.state_dict["synthesis.b8.extra"]
    del data.state_dict["mapping.w_avg"]
    with pytest.raises(CheckpointError, match=r"lacks tensor 'mapping\.w_avg'"):
        build_generator(data)


def test_stylegan3_pickle_loads_when_the_network_exists():
    pytest.importorskip("interpolate.networks.stylegan3")
    kw = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3, mapping_kwargs=dict(num_layers=2),
              channel_base=1024, channel_max=32, magnitude_ema_beta=0.999)
    G3 = perturb(networks.build("stylegan3", **kw), seed=2)
    data = read_nvidia_pickle(nvidia_pickle_bytes(G3, kw, numpy1=True, old_dicts=True))
    assert data.arch == "stylegan3" and data.init_kwargs == kw
    G = build_generator(data)
    z = torch.randn(2, 16)
    with torch.no_grad():
        torch.testing.assert_close(G(z), G3.eval()(z), rtol=0, atol=0)
