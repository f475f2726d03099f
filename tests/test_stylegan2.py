"""StyleGAN2 generator: official state_dict layout, the Generator surface, and the math against an
independent float64 NumPy recomputation written from the paper (Karras et al. 2020)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interpolate.errors import CheckpointError
from interpolate.networks import build, ops
from interpolate.networks.stylegan2 import Generator

# --- golden layout --------------------------------------------------------------------------------
# Names and shapes of the official G.state_dict() (stylegan3 training/networks_stylegan2.py) for
# z_dim=8, w_dim=8, img_resolution=16, img_channels=3, mapping num_layers=2, channel_base=64,
# channel_max=8 (channels 8, 8, 4 at 4, 8, 16 px). "-" = scalar. Skip layout is with c_dim=3.


def _layer(p: str, cin: int, cout: int, res: int) -> str:
    return (f"{p}.weight:{cout}x{cin}x3x3 {p}.noise_strength:- {p}.bias:{cout} {p}.resample_filter:4x4 "
            f"{p}.noise_const:{res}x{res} {p}.affine.weight:{cin}x8 {p}.affine.bias:{cin}")


def _torgb(p: str, cin: int) -> str:
    return f"{p}.weight:3x{cin}x1x1 {p}.bias:3 {p}.affine.weight:{cin}x8 {p}.affine.bias:{cin}"


GOLDEN_SKIP = " ".join([
    "synthesis.b4.const:8x4x4 synthesis.b4.resample_filter:4x4", _layer("synthesis.b4.conv1", 8, 8, 4),
    _torgb("synthesis.b4.torgb", 8),
    "synthesis.b8.resample_filter:4x4", _layer("synthesis.b8.conv0", 8, 8, 8), _layer("synthesis.b8.conv1", 8, 8, 8),
    _torgb("synthesis.b8.torgb", 8),
    "synthesis.b16.resample_filter:4x4", _layer("synthesis.b16.conv0", 8, 4, 16),
    _layer("synthesis.b16.conv1", 4, 4, 16), _torgb("synthesis.b16.torgb", 4),
    "mapping.w_avg:8 mapping.embed.weight:8x3 mapping.embed.bias:8 mapping.fc0.weight:8x16 mapping.fc0.bias:8",
    "mapping.fc1.weight:8x8 mapping.fc1.bias:8",
])
GOLDEN_ORIG = " ".join([
    "synthesis.b4.const:8x4x4 synthesis.b4.resample_filter:4x4", _layer("synthesis.b4.conv1", 8, 8, 4),
    "synthesis.b8.resample_filter:4x4", _layer("synthesis.b8.conv0", 8, 8, 8), _layer("synthesis.b8.conv1", 8, 8, 8),
    "synthesis.b16.resample_filter:4x4", _layer("synthesis.b16.conv0", 8, 4, 16),
    _layer("synthesis.b16.conv1", 4, 4, 16), _torgb("synthesis.b16.torgb", 4),
    "mapping.w_avg:8 mapping.fc0.weight:8x8 mapping.fc0.bias:8 mapping.fc1.weight:8x8 mapping.fc1.bias:8",
])
GOLDEN_RESNET = " ".join([
    "synthesis.b4.const:8x4x4 synthesis.b4.resample_filter:4x4", _layer("synthesis.b4.conv1", 8, 8, 4),
    "synthesis.b8.resample_filter:4x4", _layer("synthesis.b8.conv0", 8, 8, 8), _layer("synthesis.b8.conv1", 8, 8, 8),
    "synthesis.b8.skip.weight:8x8x1x1 synthesis.b8.skip.resample_filter:4x4",
    "synthesis.b16.resample_filter:4x4", _layer("synthesis.b16.conv0", 8, 4, 16),
    _layer("synthesis.b16.conv1", 4, 4, 16), _torgb("synthesis.b16.torgb", 4),
    "synthesis.b16.skip.weight:4x8x1x1 synthesis.b16.skip.resample_filter:4x4",
    "mapping.w_avg:8 mapping.fc0.weight:8x8 mapping.fc0.bias:8 mapping.fc1.weight:8x8 mapping.fc1.bias:8",
])


def small(arch: str = "skip", c_dim: int = 0, **kw) -> Generator:
    kwargs = dict(z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=16, img_channels=3,
                  mapping_kwargs={"num_layers": 2}, channel_base=64, channel_max=8, architecture=arch)
    kwargs.update(kw)
    return Generator(**kwargs).eval()


def perturbed(G: Generator, seed: int = 0, bias_scale: float = 0.3) -> Generator:
    """Every parameter and buffer (but the fixed filters) moved off its init, so each one matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            if name.endswith("noise_strength"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.1)
            elif name.endswith("w_avg"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif name.endswith("bias"):
                t.add_(torch.randn(t.shape, generator=g) * bias_scale)
            else:
                t.copy_(torch.randn(t.shape, generator=g))
    return G


@pytest.mark.parametrize("arch, c_dim, golden", [("skip", 3, GOLDEN_SKIP), ("orig", 0, GOLDEN_ORIG),
                                                 ("resnet", 0, GOLDEN_RESNET)])
def test_state_dict_names_and_shapes_are_official(arch, c_dim, golden):
    sd = small(arch, c_dim).state_dict()
    got = " ".join(f"{k}:{'x'.join(map(str, v.shape)) or '-'}" for k, v in sd.items())
    assert got.split() == golden.split()
    f = torch.tensor([1.0, 3, 3, 1])
    assert torch.allclose(sd["synthesis.b8.conv0.resample_filter"], torch.outer(f, f) / 64)


@pytest.mark.parametrize("arch", ["orig", "skip", "resnet"])
def test_surface_shapes_and_layer_scales(arch):
    G = perturbed(small(arch))
    assert G.arch == "stylegan2" and G.num_ws == 6 and G.ws_resolution == (4, 4, 8, 8, 16, 16)
    assert G.noise_shapes == ((4, 4), (8, 8), (8, 8), (16, 16), (16, 16))
    assert (G.img_height, G.img_width, G.img_resolution, G.img_channels) == (16, 16, 16, 3)
    assert G.w_avg.shape == (8,) and G.w_avg is G.mapping.w_avg
    ws = G.mapping(torch.randn(2, 8))
    assert ws.shape == (2, 6, 8)
    with torch.no_grad():
        img = G.synthesis(ws)
        assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
        assert torch.equal(G(torch.zeros(1, 8)), G.synthesis(G.mapping(torch.zeros(1, 8))))


def test_build_and_kwargs():
    G = build("stylegan2", z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=1, channel_base=32,
              channel_max=8, mapping_kwargs={"num_layers": 1, "lr_multiplier": 0.1})
    assert isinstance(G, Generator) and G.num_ws == 4 and G.mapping.fc0.weight_gain == pytest.approx(0.1 / math.sqrt(8))
    with pytest.raises(CheckpointError, match="fancy_kwarg"):
        small(fancy_kwarg=1)
    with pytest.raises(CheckpointError, match="bogus"):
        small(mapping_kwargs={"bogus": 1})
    with pytest.raises(CheckpointError, match="architecture"):
        small("weird")
    # stylegan2-ada-pytorch nests synthesis_kwargs and defaults to no clamp and no fp16
    ada = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=64, img_channels=3,
                    synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    assert ada.synthesis.b8.conv1.conv_clamp is None and ada.synthesis.fp16_resolutions == []
    sg3 = small(img_resolution=64)
    assert sg3.synthesis.b8.conv1.conv_clamp == 256 and sg3.synthesis.fp16_resolutions == [8, 16, 32, 64]


def test_truncation_and_cutoff():
    G = perturbed(small())
    z = torch.randn(3, 8)
    full = G.mapping(z)
    assert torch.equal(full, full[:, :1].expand(-1, 6, -1))
    t = G.mapping(z, truncation_psi=0.7)
    assert torch.allclose(t, G.w_avg + 0.7 * (full - G.w_avg), atol=1e-6)
    cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(cut[:, :2], G.w_avg + 0.5 * (full[:, :2] - G.w_avg), atol=1e-6)
    assert torch.equal(cut[:, 2:], full[:, 2:])
    assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.w_avg.expand(3, 6, 8))


def test_conditional_mapping_needs_and_uses_labels():
    G = perturbed(small(c_dim=3))
    z = torch.randn(2, 8)
    with pytest.raises(ValueError, match="c of shape"):
        G.mapping(z)
    a = G.mapping(z, torch.eye(3)[[0, 1]])
    b = G.mapping(z, torch.eye(3)[[2, 1]])
    assert not torch.allclose(a[0], b[0], rtol=1e-3, atol=0) and torch.allclose(a[1], b[1], rtol=1e-5, atol=0)
    assert G(z, torch.eye(3)[:2]).shape == (2, 3, 16, 16)


@torch.no_grad()
def test_noise_modes_and_override():
    G = perturbed(small())
    ws = G.mapping(torch.randn(2, 8))
    const = G.synthesis(ws, noise_mode="const")
    layers = G.synthesis.noise_layers
    same = [l.noise_const.expand(2, 1, -1, -1).clone() for l in layers]
    assert torch.allclose(G.synthesis(ws, noise=same), const, atol=1e-5)
    zeros = [torch.zeros(2, 1, h, w) for h, w in G.noise_shapes]
    assert torch.allclose(G.synthesis(ws, noise=zeros), G.synthesis(ws, noise_mode="none"), atol=1e-5)
    assert not torch.allclose(G.synthesis(ws, noise_mode="random"), const, atol=1e-3)
    other = [torch.randn(2, 1, h, w) for h, w in G.noise_shapes]
    assert not torch.allclose(G.synthesis(ws, noise=other), const, atol=1e-3)
    with pytest.raises(ValueError, match="noise tensors"):
        G.synthesis(ws, noise=other[:-1])
    quiet = small(use_noise=False)
    assert quiet.noise_shapes == () and quiet.synthesis(quiet.mapping(torch.randn(1, 8)), noise=[]).shape == (1, 3, 16, 16)


@torch.no_grad()
def test_batch_paths_agree_and_samples_are_independent():
    G = perturbed(small("resnet"))
    ws = G.mapping(torch.randn(4, 8))
    mixed = ws.clone()
    mixed[:, 3:] = ws.roll(1, dims=0)[:, 3:]
    fused = G.synthesis(mixed, fused_modconv=True)
    batched = G.synthesis(mixed)  # un-fused for N > 1
    assert torch.allclose(fused, batched, atol=1e-4)
    one = torch.cat([G.synthesis(mixed[i:i + 1]) for i in range(4)])
    assert torch.allclose(one, fused, atol=1e-6)


def test_force_fp32_and_cpu_is_float32():
    G = small(img_resolution=32)
    G.force_fp32 = True
    assert G.synthesis.force_fp32
    img = G.synthesis(G.mapping(torch.randn(1, 8)))
    assert img.dtype == torch.float32


# --- independent float64 reference (NumPy, from the paper's equations) -----------------------------

SQRT2 = math.sqrt(2.0)


def np_lrelu(x):
    return np.where(x >= 0, x, 0.2 * x) * SQRT2


def np_dense(x, weight, bias, lrmul=1.0):
    return x @ (weight * lrmul / math.sqrt(weight.shape[1])).T + bias * lrmul


def np_mapping(z, params, num_layers, lrmul, num_ws, w_avg, psi, cutoff):
    x = z / np.sqrt(np.mean(z ** 2, axis=1, keepdims=True) + 1e-8)
    for i in range(num_layers):
        x = np_lrelu(np_dense(x, params[f"fc{i}.weight"], params[f"fc{i}.bias"], lrmul))
    ws = np.repeat(x[:, None], num_ws, axis=1)
    ws[:, :cutoff] = w_avg + psi * (ws[:, :cutoff] - w_avg)
    return ws


def np_correlate(x, w, pad):
    """x [I, H, W], w [O, I, k, k] -> [O, H + 2 pad - k + 1, ...], cross-correlation with zero padding."""
    k = w.shape[-1]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    out = np.zeros((w.shape[0], ho, wo))
    for a in range(k):
        for b in range(k):
            out += np.einsum("oi,ihw->ohw", w[:, :, a, b], xp[:, a:a + ho, b:b + wo])
    return out


def np_blur_up(x, up_gain=4.0):
    """[1,3,3,1] FIR (normalised, times gain) with 1 pixel padding: size 2H+1 -> 2H."""
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0 * up_gain
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    ho, wo = xp.shape[1] - 3, xp.shape[2] - 3
    out = np.zeros((x.shape[0], ho, wo))
    for a in range(4):
        for b in range(4):
            out += f[a, b] * xp[:, a:a + ho, b:b + wo]
    return out


def np_modulated_weight(weight, s, demodulate=True):
    w = weight * s[None, :, None, None]
    if demodulate:
        w = w / np.sqrt(np.sum(w ** 2, axis=(1, 2, 3), keepdims=True) + 1e-8)
    return w


def np_synthesis_layer(x, wlat, p, up, noise, clamp, gain=1.0):
    """One sample: x [I, H, W]. up=2: each input pixel scatters the 3x3 kernel at stride 2 (transposed
    conv, size 2H+1), then the [1,3,3,1] blur brings it to 2H."""
    s = np_dense(wlat, p["affine.weight"], p["affine.bias"])
    w = np_modulated_weight(p["weight"], s)
    if up == 1:
        y = np_correlate(x, w, 1)
    else:
        i_, h, wd = x.shape
        y = np.zeros((w.shape[0], 2 * h + 1, 2 * wd + 1))
        for a in range(3):
            for b in range(3):
                y[:, a:a + 2 * h:2, b:b + 2 * wd:2] += np.einsum("oi,ihw->ohw", w[:, :, a, b], x)
        y = np_blur_up(y)
    y = y + noise * p["noise_strength"]
    y = np_lrelu(y + p["bias"][:, None, None]) * gain
    return np.clip(y, -clamp * gain, clamp * gain)


def np_torgb(x, wlat, p, clamp):
    s = np_dense(wlat, p["affine.weight"], p["affine.bias"]) / math.sqrt(x.shape[0])
    y = np_correlate(x, np_modulated_weight(p["weight"], s, demodulate=False), 0) + p["bias"][:, None, None]
    return np.clip(y, -clamp, clamp)


def np_upsample_img(img):
    """Zero insertion x2 + [1,3,3,1] FIR with gain 4 and padding (2, 1): H -> 2H."""
    c, h, w = img.shape
    z = np.zeros((c, 2 * h, 2 * w))
    z[:, ::2, ::2] = img
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0 * 4
    zp = np.pad(z, ((0, 0), (2, 1), (2, 1)))
    out = np.zeros_like(z)
    for a in range(4):
        for b in range(4):
            out += f[3 - a, 3 - b] * zp[:, a:a + 2 * h, b:b + 2 * w]
    return out


def np_params(module, prefix):
    return {k[len(prefix) + 1:]: v.detach().double().numpy() for k, v in module.state_dict().items()
            if k.startswith(prefix + ".")}


@torch.no_grad()
def test_mapping_matches_numpy_reference():
    G = perturbed(Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64,
                            channel_max=8, mapping_kwargs={"num_layers": 3, "lr_multiplier": 0.05}))
    z = torch.randn(3, 8)
    p = {k: v.double().numpy() for k, v in G.mapping.state_dict().items()}
    want = np_mapping(z.double().numpy(), p, 3, 0.05, G.num_ws, p["w_avg"], 0.6, 4)
    got = G.mapping(z, truncation_psi=0.6, truncation_cutoff=4).double().numpy()
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("clamp", [256.0, 0.5])
@torch.no_grad()
def test_synthesis_layers_match_numpy_reference(clamp):
    G = perturbed(small(conv_clamp=clamp))
    layer_same, layer_up = G.synthesis.b8.conv1, G.synthesis.b8.conv0
    x = torch.randn(2, 8, 4, 4)
    w = torch.randn(2, 8)
    for layer, xin in [(layer_up, x), (layer_same, torch.randn(2, 8, 8, 8))]:
        noise = torch.randn(2, 1, 8, 8)
        for fused in (True, False):
            got = layer(xin, w, noise, fused_modconv=fused).double().numpy()
            p = {k: v.double().numpy() for k, v in layer.state_dict().items()}
            for i in range(2):
                want = np_synthesis_layer(xin[i].double().numpy(), w[i].double().numpy(), p, layer.up,
                                          noise[i, 0].double().numpy(), clamp)
                assert np.abs(got[i] - want).max() < 1e-4 * max(1.0, np.abs(want).max())


@torch.no_grad()
def test_whole_skip_network_matches_numpy_reference():
    G = perturbed(small(conv_clamp=3.0), bias_scale=1.0)  # a small clamp that really bites
    for res in (4, 8, 16):
        getattr(G.synthesis, f"b{res}").torgb.weight.mul_(8.0)  # ... in ToRGB too
    ws = G.mapping(torch.randn(2, 8), truncation_psi=0.8)
    ws[1, 3:] = ws[0, 3:]  # style mixing
    got = G.synthesis(ws, noise_mode="const").double().numpy()
    sd = {k: v.double().numpy() for k, v in G.state_dict().items()}
    for n in range(2):
        w = ws[n].double().numpy()
        blk = lambda name: {k[len(name) + 1:]: v for k, v in sd.items() if k.startswith(name + ".")}  # noqa: E731
        x = sd["synthesis.b4.const"]
        x = np_synthesis_layer(x, w[0], blk("synthesis.b4.conv1"), 1, blk("synthesis.b4.conv1")["noise_const"], 3.0)
        img = np_torgb(x, w[1], blk("synthesis.b4.torgb"), 3.0)
        for i, res in enumerate([8, 16]):
            b = f"synthesis.b{res}"
            x = np_synthesis_layer(x, w[1 + 2 * i], blk(b + ".conv0"), 2, blk(b + ".conv0")["noise_const"], 3.0)
            x = np_synthesis_layer(x, w[2 + 2 * i], blk(b + ".conv1"), 1, blk(b + ".conv1")["noise_const"], 3.0)
            img = np_upsample_img(img) + np_torgb(x, w[3 + 2 * i], blk(b + ".torgb"), 3.0)
        assert np.abs(got[n] - img).max() < 1e-4
    unclamped = small(conv_clamp=None)
    unclamped.load_state_dict(G.state_dict())
    assert np.abs(unclamped.synthesis(ws).double().numpy() - got).max() > 0.1


def test_upfirdn2d_matches_direct_formula():
    """Along W: y[o] = sum_k x_up_padded[o * down + k] * f[K - 1 - k] (true convolution)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 1, 7))
    taps = rng.standard_normal(5)
    f = torch.tensor(taps, dtype=torch.float32)[None, :]  # [1, 5]: filters along W only
    for up, down, pad in [(1, 1, (2, 2)), (2, 1, (3, 1)), (3, 2, (-1, 4)), (1, 3, (0, 0))]:
        got = ops.upfirdn2d(torch.from_numpy(x).float(), f, up=(up, 1), down=(down, 1), padding=[pad[0], pad[1], 0, 0])
        xu = np.zeros(7 * up)
        xu[::up] = x[0, 0, 0]
        xp = np.pad(xu, (max(pad[0], 0), max(pad[1], 0)))
        xp = xp[max(-pad[0], 0): len(xp) - max(-pad[1], 0)]
        want = np.array([np.dot(xp[i:i + 5], taps[::-1]) for i in range(len(xp) - 4)])[::down]
        assert got.shape[-1] == len(want)
        assert np.abs(got[0, 0, 0].double().numpy() - want).max() < 1e-5


def test_setup_filter_and_resampling_sizes():
    f = ops.setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and torch.isclose(f.sum(), torch.tensor(1.0))
    assert ops.setup_filter(list(range(1, 9))).shape == (8,)  # 8+ taps: separable
    x = torch.ones(1, 2, 8, 8)
    assert ops.upsample2d(x, f).shape == (1, 2, 16, 16) and ops.downsample2d(x, f).shape == (1, 2, 4, 4)
    assert torch.allclose(ops.upsample2d(x, f)[..., 4:12, 4:12], torch.ones(1, 2, 8, 8))  # DC gain 1 inside
    assert torch.allclose(ops.filter2d(x, f)[..., 2:6, 2:6], torch.ones(1, 2, 4, 4))
    y = ops.bias_act(torch.tensor([[-1.0, 2.0, 500.0]]), torch.tensor([0.0, 0.0, 0.0]), act="lrelu", clamp=256)
    assert torch.allclose(y, torch.tensor([[-0.2 * SQRT2, 2 * SQRT2, 256.0]]))


@torch.no_grad()
def test_fp16_blocks_stay_close_to_float32():
    """The float16 path (what CUDA runs for the top num_fp16_res resolutions), driven on CPU block by block."""
    G = perturbed(small(img_resolution=32, num_fp16_res=2))
    assert G.synthesis.fp16_resolutions == [16, 32]
    ws = G.mapping(torch.randn(3, 8), truncation_psi=0.7)
    ref = G.synthesis(ws)
    x = img = None
    w_idx = 0
    for block in G.synthesis.blocks():
        block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
        noise = [layer.noise_const[None, None] for layer in block.noise_layers]
        x, img = block(x, img, block_ws, noise, fp16=True)
        assert x.dtype == (torch.float16 if block.use_fp16 else torch.float32) and img.dtype == torch.float32
        w_idx += block.num_conv
    assert (img - ref).abs().max() < 0.02 * max(1.0, ref.abs().max().item())
