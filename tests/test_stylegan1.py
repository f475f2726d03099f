"""StyleGAN1 (NVlabs/stylegan G_style) from TF network pickles: layout, conversion, and the math.

The reference below is an independent float64 NumPy transcription of G_style at lod 0, written
from the TF variables in their TF layouts ([kh, kw, in, out] convs, [in, out] dense, NCHW), so it
shares no code or layout conversion with interpolate/.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interpolate.errors import CheckpointError, UnsafePickleError
from interpolate.formats import tf_stylegan1
from interpolate.formats.tf_pickle import TFNetwork, read_tf_checkpoint, read_tf_pickle, tf_checkpoint
from interpolate.networks import build
from interpolate.networks import stylegan1 as sg1

from writers_tf import TFNetworkWriter, dumps_tf, stylegan1_networks, stylegan1_shapes

TINY = dict(resolution=32, fmap_base=64, fmap_max=16, latent_size=16, dlatent_size=16, mapping_fmaps=16)
# 128 px with few channels: blocks 8..64 use nearest + conv, 128 uses the fused transposed conv.
SMALL128 = dict(resolution=128, fmap_base=128, fmap_max=16, latent_size=12, dlatent_size=12, mapping_fmaps=12)


def load(pickle_bytes: bytes):
    ckpt = read_tf_checkpoint(pickle_bytes)
    G = build(ckpt.arch, **ckpt.init_kwargs).eval()
    G.load_state_dict(ckpt.state_dict, strict=True)
    return G, ckpt


# --- independent float64 reference (TF layouts, TF semantics) --------------------------------------

def lrelu(x):
    return np.where(x >= 0, x, 0.2 * x)


def ref_dense(x, w, b, gain, lrmul=1.0):
    return x @ (w * (gain / math.sqrt(w.shape[0]) * lrmul)) + b * lrmul


def ref_conv(x, w, gain):
    """TF conv2d SAME, NCHW, w [kh, kw, in, out], odd kernel; equalized scale gain/sqrt(kh*kw*in)."""
    kh, kw, cin, cout = w.shape
    w = w * (gain / math.sqrt(kh * kw * cin))
    p = kh // 2
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    h, wd = x.shape[2:]
    out = np.zeros((x.shape[0], cout, h, wd))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nihw,io->nohw", xp[:, :, a:a + h, b:b + wd], w[a, b])
    return out


def ref_fused_upconv(x, w, gain):
    """TF upscale2d_conv2d fused: 3x3 kernel padded to 5x5 and summed over 2x2 -> 4x4 [k,k,out,in];
    conv2d_transpose(stride 2, SAME) = scatter out[2i+a-1, 2j+b-1] += x[i, j] * w[a, b]."""
    kh, kw, cin, cout = w.shape
    w = w * (gain / math.sqrt(kh * kw * cin))
    w = np.transpose(w, (0, 1, 3, 2))
    w = np.pad(w, [(1, 1), (1, 1), (0, 0), (0, 0)])
    w = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]          # [4, 4, out, in]
    n, _, h, wd = x.shape
    big = np.zeros((n, cout, 2 * h + 4, 2 * wd + 4))                # offset 2 on each side
    for a in range(4):
        for b in range(4):
            contrib = np.einsum("nihw,oi->nohw", x, w[a, b])
            big[:, :, 2 + a - 1:2 + a - 1 + 2 * h:2, 2 + b - 1:2 + b - 1 + 2 * wd:2] += contrib
    return big[:, :, 2:2 + 2 * h, 2:2 + 2 * wd]


def ref_upconv_nearest(x, w, gain):
    return ref_conv(np.repeat(np.repeat(x, 2, axis=2), 2, axis=3), w, gain)


def ref_blur(x):
    f = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    h, wd = x.shape[2:]
    return sum(f[a, b] * xp[:, :, a:a + h, b:b + wd] for a in range(3) for b in range(3))


def ref_epilogue(x, v, scope, noise, w):
    """noise * weight, + bias, lrelu, instance norm, AdaIN with StyleMod (gain 1)."""
    c = x.shape[1]
    if noise is not None:
        x = x + noise * v[f"{scope}/Noise/weight"].reshape(1, -1, 1, 1)
    x = lrelu(x + v[f"{scope}/bias"].reshape(1, -1, 1, 1))
    x = x - x.mean(axis=(2, 3), keepdims=True)
    x = x / np.sqrt((x ** 2).mean(axis=(2, 3), keepdims=True) + 1e-8)
    style = ref_dense(w, v[f"{scope}/StyleMod/weight"], v[f"{scope}/StyleMod/bias"], gain=1.0)
    return x * (style[:, :c, None, None] + 1) + style[:, c:, None, None]


def ref_mapping(z, v, num_layers, psi, cutoff, n_mapping=8, labels=None):
    x = z if labels is None else np.concatenate([z, labels @ v["mapping/LabelConcat/weight"]], axis=1)
    x = x / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + 1e-8)
    for i in range(n_mapping):
        x = lrelu(ref_dense(x, v[f"mapping/Dense{i}/weight"], v[f"mapping/Dense{i}/bias"], math.sqrt(2), 0.01))
    ws = np.repeat(x[:, None], num_layers, axis=1)
    coefs = np.where(np.arange(num_layers) < cutoff, psi, 1.0)[None, :, None]
    avg = v["dlatent_avg"]
    return avg + (ws - avg) * coefs


def ref_synthesis(ws, v, resolution, fused_from=128):
    """G_synthesis at lod 0 with the stored noise (randomize_noise=False)."""
    log2 = int(math.log2(resolution))
    noise = [v[f"synthesis/noise{i}"] for i in range(2 * log2 - 2)]
    s = "synthesis"
    x = np.repeat(v[f"{s}/4x4/Const/const"], ws.shape[0], axis=0)
    x = ref_epilogue(x, v, f"{s}/4x4/Const", noise[0], ws[:, 0])
    x = ref_epilogue(ref_conv(x, v[f"{s}/4x4/Conv/weight"], math.sqrt(2)), v, f"{s}/4x4/Conv", noise[1], ws[:, 1])
    for r2 in range(3, log2 + 1):
        r = 2 ** r2
        up = ref_fused_upconv if r >= fused_from else ref_upconv_nearest
        x = ref_blur(up(x, v[f"{s}/{r}x{r}/Conv0_up/weight"], math.sqrt(2)))
        x = ref_epilogue(x, v, f"{s}/{r}x{r}/Conv0_up", noise[2 * r2 - 4], ws[:, 2 * r2 - 4])
        x = ref_conv(x, v[f"{s}/{r}x{r}/Conv1/weight"], math.sqrt(2))
        x = ref_epilogue(x, v, f"{s}/{r}x{r}/Conv1", noise[2 * r2 - 3], ws[:, 2 * r2 - 3])
    return ref_conv(x, v[f"{s}/ToRGB_lod0/weight"], 1.0) + v[f"{s}/ToRGB_lod0/bias"].reshape(1, -1, 1, 1)


def tf_vars_f64(gs_writer: TFNetworkWriter) -> dict[str, np.ndarray]:
    return {k: np.asarray(val, dtype=np.float64) for k, val in read_tf_pickle(dumps_tf(gs_writer)).all_vars().items()}


# --- layout: names and shapes ----------------------------------------------------------------------

def test_512px_layout_matches_the_published_table():
    shapes = stylegan1_shapes(resolution=512)
    flat = {**shapes["G"], **{f"synthesis/{k}": s for k, s in shapes["G_synthesis"].items()},
            **{f"mapping/{k}": s for k, s in shapes["G_mapping"].items()}}
    assert sum(int(np.prod(s)) for s in flat.values()) == 26_879_322
    assert flat["synthesis/512x512/Conv0_up/weight"] == (3, 3, 64, 32)
    assert flat["synthesis/4x4/Const/StyleMod/weight"] == (512, 1024)
    assert flat["synthesis/noise15"] == (1, 1, 512, 512)
    # the converter's table + the lod-0-unused variables are exactly the TF variables
    init_kwargs, _ = tf_stylegan1.init_kwargs_from({"resolution": 512, "num_channels": 3, "label_size": 0})
    table = {tf: s for tf, _, s, _ in tf_stylegan1.variable_table(init_kwargs)}
    unused = tf_stylegan1.unused_variable_shapes(init_kwargs)
    assert {**table, **unused} == flat and not set(table) & set(unused)
    # and our Generator has exactly the converted names and shapes (built on the meta device: no memory)
    with torch.device("meta"):
        G = build("stylegan1", **init_kwargs)
    ours = {k: tuple(t.shape) for k, t in G.state_dict().items()}
    converted = {o: tuple(f(np.broadcast_to(np.float32(0), s)).shape) for _, o, s, f in tf_stylegan1.variable_table(init_kwargs)}
    assert ours == converted
    assert G.num_ws == 16 and G.ws_resolution[:4] == (4, 4, 8, 8) and G.ws_resolution[-1] == 512
    assert sum(int(np.prod(s)) for s in ours.values()) == 26_879_322 - sum(int(np.prod(s)) for s in unused.values())


def test_512px_conversion_with_zero_memory_arrays():
    """The full 512 px converter path on broadcast (stride-0) arrays: nothing big is pickled or allocated up front."""
    shapes = stylegan1_shapes(resolution=512)
    fake = lambda s: np.broadcast_to(np.float32(0 if s == () else 0.5), s)  # noqa: E731
    comps = {key: TFNetwork(3, name, {"resolution": 512}, {}, name, {k: fake(s) for k, s in shapes[name].items()})
             for key, name in (("synthesis", "G_synthesis"), ("mapping", "G_mapping"))}
    net = TFNetwork(3, "Gs", {"resolution": 512, "num_channels": 3, "label_size": 0}, comps, "G_style",
                    {k: fake(s) for k, s in shapes["G"].items()})
    ckpt = tf_checkpoint(net)
    assert ckpt.arch == "stylegan1" and ckpt.init_kwargs["img_resolution"] == 512
    assert ckpt.state_dict["synthesis.b512.up.weight"].shape == (32, 64, 3, 3)
    assert ckpt.state_dict["mapping.fc0.weight"].shape == (512, 512)
    assert len(ckpt.meta["unused_variables"]) == 2 + 2 * 7     # lod x2, ToRGB_lod1..7 weight+bias


def test_tiny_pickle_names_shapes_and_every_variable_consumed():
    G_w, D_w, Gs_w = stylegan1_networks(static_kwargs=TINY)
    ckpt = read_tf_checkpoint(dumps_tf((G_w, D_w, Gs_w)))
    all_tf = Gs_w.all_vars()
    assert "synthesis/16x16/Conv0_up/StyleMod/weight" in all_tf and all_tf["synthesis/4x4/Const/const"].shape == (1, 16, 4, 4)
    consumed = {tf for tf, _, _, _ in tf_stylegan1.variable_table(ckpt.init_kwargs)} | set(ckpt.meta["unused_variables"])
    assert consumed == set(all_tf)
    G = build(ckpt.arch, **ckpt.init_kwargs)
    assert set(G.state_dict()) == set(ckpt.state_dict)
    G.load_state_dict(ckpt.state_dict, strict=True)
    # values are Gs's (not G's), transposed to PyTorch layouts
    np.testing.assert_array_equal(ckpt.state_dict["synthesis.b8.up.weight"].numpy(), all_tf["synthesis/8x8/Conv0_up/weight"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(ckpt.state_dict["mapping.fc3.weight"].numpy(), all_tf["mapping/Dense3/weight"].T)
    np.testing.assert_array_equal(ckpt.state_dict["synthesis.b16.epilogue1.noise_const"].numpy(), all_tf["synthesis/noise5"][0, 0])
    assert not np.array_equal(G_w.all_vars()["mapping/Dense3/weight"], all_tf["mapping/Dense3/weight"])


def test_surface_and_truncation_defaults():
    G, ckpt = load(dumps_tf(stylegan1_networks(static_kwargs=TINY)))
    assert (G.arch, G.num_ws, G.img_resolution, G.img_height, G.img_width) == ("stylegan1", 8, 32, 32, 32)
    assert G.ws_resolution == (4, 4, 8, 8, 16, 16, 32, 32)
    assert G.noise_shapes == tuple((r, r) for r in G.ws_resolution)
    assert (G.default_truncation_psi, G.default_truncation_cutoff) == (0.7, 8)
    assert (ckpt.meta["truncation_psi"], ckpt.meta["truncation_cutoff"]) == (0.7, 8)
    _, ck2 = load(dumps_tf(stylegan1_networks(static_kwargs={**TINY, "truncation_psi": 0.5, "truncation_cutoff": None})))
    assert ck2.init_kwargs["default_truncation_psi"] == 1.0   # cutoff None disables truncation in G_style
    z = torch.randn(3, 16)
    assert G.mapping(z).shape == (3, 8, 16)
    assert G.synthesis(G.mapping(z), noise_mode="random").shape == (3, 3, 32, 32)
    assert G.synthesis(G.mapping(z), noise_mode="none").shape == (3, 3, 32, 32)


# --- errors -----------------------------------------------------------------------------------------

def test_missing_variable_is_named():
    data = dumps_tf(stylegan1_networks(static_kwargs=TINY, variables_override={"G_synthesis": {"16x16/Conv1/StyleMod/bias": None}}))
    with pytest.raises(CheckpointError, match=r"synthesis/16x16/Conv1/StyleMod/bias"):
        read_tf_checkpoint(data)


def test_misshapen_variable_is_named():
    data = dumps_tf(stylegan1_networks(static_kwargs=TINY, variables_override={"G_mapping": {"Dense2/weight": np.zeros((16, 15), np.float32)}}))
    with pytest.raises(CheckpointError, match=r"mapping/Dense2/weight.*\(16, 15\)"):
        read_tf_checkpoint(data)


def test_unexpected_variable_is_named():
    data = dumps_tf(stylegan1_networks(static_kwargs=TINY, variables_override={"G_synthesis": {"8x8/Extra/weight": np.zeros(3, np.float32)}}))
    with pytest.raises(CheckpointError, match=r"synthesis/8x8/Extra/weight"):
        read_tf_checkpoint(data)


def test_progressive_growing_snapshot_is_refused():
    data = dumps_tf(stylegan1_networks(static_kwargs=TINY, variables_override={"G": {"lod": np.float32(1.5)}}))
    with pytest.raises(CheckpointError, match="progressive growing"):
        read_tf_checkpoint(data)


def test_progan_and_discriminator_only_and_unknown_are_named():
    progan = TFNetworkWriter("Gs", "G_paper", {"resolution": 32}, {"lod": np.float32(0)})
    D = TFNetworkWriter("D", "D_basic", {"resolution": 32}, {"x": np.zeros(2, np.float32)})
    with pytest.raises(CheckpointError, match=r"ProGAN.*G_paper"):
        read_tf_checkpoint(dumps_tf((progan, D, progan)))
    with pytest.raises(CheckpointError, match=r"only a discriminator.*D_basic"):
        read_tf_checkpoint(dumps_tf(D))
    with pytest.raises(CheckpointError, match=r"unknown TF network.*G_funky"):
        read_tf_checkpoint(dumps_tf(TFNetworkWriter("Gs", "G_funky", {}, {})))
    with pytest.raises(CheckpointError, match=r"use_noise=False"):
        read_tf_checkpoint(dumps_tf(stylegan1_networks(static_kwargs={**TINY, "use_noise": False})))


def test_build_module_src_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    src = f"open({str(marker)!r}, 'w').write('pwned')\ndef G_style(*a, **k):\n    pass\n"
    G, ckpt = load(dumps_tf(stylegan1_networks(static_kwargs=TINY, build_module_src=src)))
    assert not marker.exists()
    assert G.num_ws == 8


def test_numpy1_and_numpy2_spellings_and_other_globals():
    nets = stylegan1_networks(static_kwargs=TINY)
    old, new = dumps_tf(nets, numpy1=True), dumps_tf(nets, numpy1=False)
    assert b"numpy.core.multiarray" in old and b"numpy._core" not in old and b"numpy._core.multiarray" in new
    for a, b in zip(read_tf_checkpoint(old).state_dict.values(), read_tf_checkpoint(new).state_dict.values()):
        assert torch.equal(a, b)
    proto5 = dumps_tf(nets, protocol=5)    # Python >= 3.8's pickle.HIGHEST_PROTOCOL: numpy uses _frombuffer
    assert b"_frombuffer" in proto5
    for a, b in zip(read_tf_checkpoint(old).state_dict.values(), read_tf_checkpoint(proto5).state_dict.values()):
        assert torch.equal(a, b)
    with pytest.raises(UnsafePickleError):
        read_tf_checkpoint(old.replace(b"dnnlib.tflib.network", b"dnnlib.tflib.networK"))


def test_non_square_model_is_a_centre_crop(tmp_path):
    path = tmp_path / "karras2019stylegan-cars-32x24.pkl"
    path.write_bytes(dumps_tf(stylegan1_networks(static_kwargs=TINY)))
    ckpt = read_tf_checkpoint(str(path))
    assert (ckpt.init_kwargs["img_height"], ckpt.init_kwargs["img_width"]) == (24, 32)
    G = build(ckpt.arch, **ckpt.init_kwargs).eval()
    G.load_state_dict(ckpt.state_dict)
    G_square, _ = load(path.read_bytes())
    ws = G.mapping(torch.randn(1, 16))
    with torch.no_grad():
        wide, square = G.synthesis(ws), G_square.synthesis(ws)
    assert (G.img_height, G.img_width, G.img_resolution) == (24, 32, 32)
    assert wide.shape == (1, 3, 24, 32)
    assert torch.equal(wide, square[:, :, 4:28, :])


# --- the math, layer by layer, against the float64 reference ------------------------------------------

def test_mapping_and_truncation_match_reference():
    _, _, Gs_w = stylegan1_networks(static_kwargs=TINY, seed=1)
    G, _ = load(dumps_tf(Gs_w))
    v = tf_vars_f64(Gs_w)
    z = np.random.RandomState(5).randn(4, 16)
    for psi, cutoff in ((1.0, None), (0.7, 8), (0.5, 3)):
        ours = G.mapping(torch.from_numpy(z), truncation_psi=psi, truncation_cutoff=cutoff).detach().detach().double().numpy()
        ref = ref_mapping(z, v, 8, psi, 8 if cutoff is None else cutoff)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert np.abs(ref[:, 3] - ref[:, 2]).max() > 1e-3   # cutoff 3 really leaves ws[3:] untruncated


def test_conditional_mapping_matches_reference():
    _, _, Gs_w = stylegan1_networks(static_kwargs={**TINY, "label_size": 3}, seed=3)
    G, ckpt = load(dumps_tf(Gs_w))
    assert G.c_dim == 3 and ckpt.state_dict["mapping.fc0.weight"].shape == (16, 32)
    z, c = np.random.RandomState(1).randn(2, 16), np.eye(3)[[0, 2]]
    ours = G.mapping(torch.from_numpy(z), torch.from_numpy(c)).detach().double().numpy()
    ref = ref_mapping(z, tf_vars_f64(Gs_w), 8, 1.0, 0, labels=c)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_epilogue_with_adain_matches_reference():
    rng = np.random.RandomState(2)
    epi = sg1.LayerEpilogue(channels=5, w_dim=7, resolution=8, activation="lrelu")
    v = {"s/Noise/weight": rng.randn(5), "s/bias": rng.randn(5), "s/StyleMod/weight": rng.randn(7, 10), "s/StyleMod/bias": rng.randn(10)}
    with torch.no_grad():
        epi.noise_strength.copy_(torch.from_numpy(v["s/Noise/weight"]))
        epi.bias.copy_(torch.from_numpy(v["s/bias"]))
        epi.style.weight.copy_(torch.from_numpy(v["s/StyleMod/weight"].T))
        epi.style.bias.copy_(torch.from_numpy(v["s/StyleMod/bias"]))
    x, w, noise = rng.randn(3, 5, 8, 8) * 3, rng.randn(3, 7), rng.randn(3, 1, 8, 8)
    ours = epi(torch.from_numpy(x).float(), torch.from_numpy(w).float(), torch.from_numpy(noise).float()).detach().double().numpy()
    np.testing.assert_allclose(ours, ref_epilogue(x, v, "s", noise, w), atol=2e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_upsampling_conv_paths_match_reference(fused):
    rng = np.random.RandomState(3)
    w_tf = rng.randn(3, 3, 4, 6)
    layer = sg1.UpsampleConv2d(4, 6, 3, gain=math.sqrt(2), fused=fused)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w_tf.transpose(3, 2, 0, 1)))
    x = rng.randn(2, 4, 5, 7)
    ours = layer(torch.from_numpy(x).float()).detach().double().numpy()
    ref = (ref_fused_upconv if fused else ref_upconv_nearest)(x, w_tf, math.sqrt(2))
    assert ours.shape == ref.shape == (2, 6, 10, 14)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # the fused kernel is the nearest+conv path up to where the [1,1] box sits: they differ
    other = (ref_upconv_nearest if fused else ref_fused_upconv)(x, w_tf, math.sqrt(2))
    assert np.abs(other - ref).max() > 1e-2


def test_blur_and_torgb_match_reference():
    rng = np.random.RandomState(4)
    x = rng.randn(2, 3, 6, 5)
    np.testing.assert_allclose(sg1.Blur()(torch.from_numpy(x).float()).detach().double().numpy(), ref_blur(x), atol=1e-6)
    w_tf, b = rng.randn(1, 1, 3, 4), rng.randn(4)
    torgb = sg1.ToRGB(3, 4)
    with torch.no_grad():
        torgb.conv.weight.copy_(torch.from_numpy(w_tf.transpose(3, 2, 0, 1)))
        torgb.bias.copy_(torch.from_numpy(b))
    ref = ref_conv(x, w_tf, 1.0) + b.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(torgb(torch.from_numpy(x).float()).detach().double().numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("static_kwargs", [TINY, SMALL128], ids=["32px", "128px-fused"])
def test_end_to_end_image_matches_reference(static_kwargs):
    _, _, Gs_w = stylegan1_networks(static_kwargs=static_kwargs, seed=7)
    G, ckpt = load(dumps_tf(Gs_w))
    v = tf_vars_f64(Gs_w)
    zdim = static_kwargs["latent_size"]
    z = np.random.RandomState(11).randn(2, zdim)
    with torch.no_grad():
        img = G(torch.from_numpy(z), truncation_psi=0.7, truncation_cutoff=8, noise_mode="const").detach().double().numpy()
    ws = ref_mapping(z, v, G.num_ws, 0.7, 8)
    ref = ref_synthesis(ws, v, static_kwargs["resolution"])
    assert img.shape == ref.shape == (2, 3, static_kwargs["resolution"], static_kwargs["resolution"])
    # random weights give images beyond [-1, 1]: the 1e-3 bound is taken relative to that scale
    err, scale = np.abs(img - ref).max(), max(1.0, np.abs(ref).max())
    assert err < 1e-3 * scale, (err, scale)


def test_sniffing_recognises_tf_pickles_only():
    import pickle

    from interpolate.formats.tf_pickle import looks_like_tf_pickle

    nets = stylegan1_networks(static_kwargs=TINY)
    assert looks_like_tf_pickle(dumps_tf(nets)[:4096]) and looks_like_tf_pickle(dumps_tf(nets, protocol=2)[:4096])
    assert not looks_like_tf_pickle(pickle.dumps({"G_ema": np.zeros(3), "module_src": "import tensorflow"})[:4096])
