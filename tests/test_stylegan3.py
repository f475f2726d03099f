"""StyleGAN3 generator: official state_dict layout, the stored filters/transform in use, the shared
surface, and float64 numpy references (written from the paper's math) for the Fourier-feature input
and the filtered leaky ReLU.

Agreement with the official NVlabs code itself is checked outside the repo (see the issue note)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interpolate import networks
from interpolate.errors import CheckpointError
from interpolate.networks import stylegan3
from interpolate.networks.filtered_lrelu import filtered_lrelu, filtered_lrelu_fast

T_KW = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=32, img_channels=3, channel_base=512, channel_max=16)
R_KW = dict(z_dim=8, c_dim=3, w_dim=8, img_resolution=32, img_channels=3, channel_base=1024, channel_max=32,
            conv_kernel=1, use_radial_filters=True)

# Golden layouts, read off the official networks_stylegan3.Generator built with T_KW / R_KW:
# per synthesis layer: name, conv weight shape, up_filter shape, down_filter shape (None: not in the
# state dict), in_channels of its affine, filtered-lrelu padding (x0, x1, y0, y1).
T_LAYERS = [
    *[(f"L{i}_36_16", (16, 16, 3, 3), (12,), (12,), 16, (9, 8, 9, 8)) for i in range(5)],
    ("L5_52_16", (16, 16, 3, 3), (24,), (12,), 16, (-6, -9, -6, -9)),
    *[(f"L{i}_52_16", (16, 16, 3, 3), (12,), (12,), 16, (9, 8, 9, 8)) for i in range(6, 13)],
    ("L13_32_16", (16, 16, 3, 3), (12,), (12,), 16, (-11, -12, -11, -12)),
    ("L14_32_3", (3, 16, 1, 1), None, None, 16, (0, 0, 0, 0)),
]
R_LAYERS = [
    *[(f"L{i}_36_32", (32, 32, 1, 1), (12,), (12, 12), 32, (11, 10, 11, 10)) for i in range(5)],
    ("L5_52_32", (32, 32, 1, 1), (24,), (12, 12), 32, (-2, -5, -2, -5)),
    *[(f"L{i}_52_32", (32, 32, 1, 1), (12,), (12, 12), 32, (11, 10, 11, 10)) for i in range(6, 12)],
    ("L12_52_32", (32, 32, 1, 1), (12,), (12,), 32, (11, 10, 11, 10)),  # critically sampled: separable
    ("L13_32_32", (32, 32, 1, 1), (12,), (12,), 32, (-9, -10, -9, -10)),
    ("L14_32_3", (3, 32, 1, 1), None, None, 32, (0, 0, 0, 0)),
]
T_INPUT_CHANNELS, R_INPUT_CHANNELS = 16, 32
T_MAPPING = [("mapping.w_avg", (8,)), ("mapping.fc0.weight", (8, 8)), ("mapping.fc0.bias", (8,)),
             ("mapping.fc1.weight", (8, 8)), ("mapping.fc1.bias", (8,))]
R_MAPPING = [("mapping.w_avg", (8,)), ("mapping.embed.weight", (8, 3)), ("mapping.embed.bias", (8,)),
             ("mapping.fc0.weight", (8, 16)), ("mapping.fc0.bias", (8,)), ("mapping.fc1.weight", (8, 8)),
             ("mapping.fc1.bias", (8,))]
WS_RESOLUTION_32 = (4, 4, 5, 6, 7, 8, 10, 11, 13, 16, 19, 23, 27, 32, 32, 32)


def golden_state(input_channels: int, layers: list, mapping: list, w_dim: int = 8) -> list[tuple[str, tuple]]:
    c = input_channels
    rows = [("synthesis.input.weight", (c, c)), ("synthesis.input.transform", (3, 3)),
            ("synthesis.input.freqs", (c, 2)), ("synthesis.input.phases", (c,)),
            ("synthesis.input.affine.weight", (4, w_dim)), ("synthesis.input.affine.bias", (4,))]
    for name, weight, up, down, affine_out, _ in layers:
        p = f"synthesis.{name}."
        rows += [(p + "weight", weight), (p + "bias", (weight[0],)), (p + "magnitude_ema", ())]
        rows += [(p + "up_filter", up)] if up else []
        rows += [(p + "down_filter", down)] if down else []
        rows += [(p + "affine.weight", (affine_out, w_dim)), (p + "affine.bias", (affine_out,))]
    return rows + mapping


def perturbed(kw: dict, seed: int = 0) -> stylegan3.Generator:
    """A generator whose every tensor matters (input affine non-zero, so w rotates and translates)."""
    torch.manual_seed(seed)
    G = networks.build("stylegan3", **kw).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            noise = torch.randn(t.shape, generator=gen)
            if name.endswith("magnitude_ema"):
                t.copy_(0.5 + noise.abs())
            elif name.endswith("input.affine.weight"):
                t.copy_(noise * 0.5)
            elif "filter" in name or name.endswith("transform"):
                t.add_(noise * 0.01 * t.abs().mean())
            else:
                t.add_(noise * 0.1 * (t.abs().mean() + 0.1))
    return G


@pytest.fixture(scope="module")
def G_T() -> stylegan3.Generator:
    return perturbed(T_KW)


@pytest.fixture(scope="module")
def G_R() -> stylegan3.Generator:
    return perturbed(R_KW, seed=1)


# --- layout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, input_channels, layers, mapping", [
    (T_KW, T_INPUT_CHANNELS, T_LAYERS, T_MAPPING), (R_KW, R_INPUT_CHANNELS, R_LAYERS, R_MAPPING)], ids=["T", "R"])
def test_state_dict_names_shapes_and_order_are_official(kw, input_channels, layers, mapping):
    G = networks.build("stylegan3", **kw)
    got = [(k, tuple(v.shape)) for k, v in G.state_dict().items()]
    assert got == golden_state(input_channels, layers, mapping)
    assert G.synthesis.layer_names == [row[0] for row in layers]
    assert [tuple(layer.padding) for layer in G.synthesis.layers()] == [row[5] for row in layers]


def test_surface(G_T, G_R):
    for G, kw in ((G_T, T_KW), (G_R, R_KW)):
        assert G.arch == "stylegan3" and G.num_ws == 16 and G.noise_shapes == ()
        assert G.img_resolution == G.img_height == G.img_width == 32 and G.img_channels == 3
        assert G.w_avg.shape == (8,) and G.w_avg is G.mapping.w_avg
        assert G.ws_resolution == WS_RESOLUTION_32
        assert len(G.sampling_rates) == len(G.cutoffs) == G.num_ws
        assert G.sampling_rates[0] == 16 and G.sampling_rates[-1] == 32 and G.cutoffs[-1] == 16
        c = torch.eye(3)[[0, 2]] if kw["c_dim"] else None
        z = torch.randn(2, 8)
        with torch.no_grad():
            ws = G.mapping(z, c, truncation_psi=0.7)
            assert ws.shape == (2, 16, 8)
            img = G.synthesis(ws, noise_mode="random")  # accepted, no noise in StyleGAN3
            assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
            torch.testing.assert_close(G.synthesis(ws, noise_mode="none"), img, rtol=0, atol=0)
            torch.testing.assert_close(G(z, c, truncation_psi=0.7), img, rtol=0, atol=0)
            with pytest.raises(AssertionError):
                G.synthesis(ws[:, :-1])


def test_truncation_moves_ws_towards_w_avg(G_T):
    z = torch.randn(3, 8)
    with torch.no_grad():
        ws1, ws0 = G_T.mapping(z, truncation_psi=1), G_T.mapping(z, truncation_psi=0)
        ws_cut = G_T.mapping(z, truncation_psi=0.5, truncation_cutoff=4)
    torch.testing.assert_close(ws0, G_T.w_avg.expand_as(ws0))
    torch.testing.assert_close(ws_cut[:, :4], 0.5 * (ws1[:, :4] + G_T.w_avg))
    torch.testing.assert_close(ws_cut[:, 4:], ws1[:, 4:], rtol=0, atol=0)


@pytest.mark.parametrize("resolution", [16, 64, 256, 1024])
def test_ws_resolution_grows_to_the_image_resolution(resolution):
    kw = dict(z_dim=4, c_dim=0, w_dim=4, img_resolution=resolution, img_channels=3, channel_base=64, channel_max=4)
    G = networks.build("stylegan3", **kw)
    res = G.ws_resolution
    assert len(res) == G.num_ws == 16 and all(isinstance(r, int) for r in res)
    assert all(a <= b for a, b in zip(res, res[1:])) and res[0] == 4 and res[-1] == resolution
    assert res[-3:] == (resolution,) * 3  # the critically sampled layers and ToRGB


def test_unknown_kwargs_are_named():
    with pytest.raises(CheckpointError, match="unknown kwarg.*resolution_h"):
        networks.build("stylegan3", **T_KW, resolution_h=16)
    with pytest.raises(CheckpointError, match="mapping_kwargs.*embed_features"):
        networks.build("stylegan3", **T_KW, mapping_kwargs=dict(embed_features=4))


# --- the state is what runs ------------------------------------------------------------------------


def _render(G, kw, seed=0) -> torch.Tensor:
    z = torch.from_numpy(np.random.RandomState(seed).randn(2, kw["z_dim"])).float()
    c = torch.eye(3)[[0, 1]] if kw["c_dim"] else None
    with torch.no_grad():
        return G(z, c, truncation_psi=0.7)


@pytest.mark.parametrize("which", ["T", "R"])
@pytest.mark.parametrize("tensor", ["L6_52_{}.down_filter", "L6_52_{}.up_filter", "input.transform"])
def test_stored_filters_and_transform_are_used(G_T, G_R, which, tensor):
    G, kw, ch = (G_T, T_KW, 16) if which == "T" else (G_R, R_KW, 32)
    name = "synthesis." + tensor.format(ch)
    state = G.state_dict()
    before = _render(G, kw)
    fresh = networks.build("stylegan3", **kw).eval()
    changed = {k: v.clone() for k, v in state.items()}
    changed[name] = changed[name] * 1.05 if "filter" in name else changed[name] @ torch.tensor(
        [[1.0, 0, 0.1], [0, 1, 0], [0, 0, 1]])
    fresh.load_state_dict(changed)
    assert torch.equal(dict(fresh.named_buffers())[name], changed[name])  # not redesigned at load
    after = _render(fresh, kw)
    assert (after - before).abs().max() > 1e-4
    fresh.load_state_dict(state)
    torch.testing.assert_close(_render(fresh, kw), before, rtol=0, atol=0)


def test_radial_filters_only_where_the_config_asks(G_T, G_R):
    assert all(l.down_filter is None or l.down_filter.ndim == 1 for l in G_T.synthesis.layers())
    radial = [l.down_filter is not None and l.down_filter.ndim == 2 for l in G_R.synthesis.layers()]
    assert radial == [True] * 12 + [False] * 3
    f = networks.build("stylegan3", **R_KW).synthesis.layers()[0].down_filter  # as designed, not perturbed
    torch.testing.assert_close(f, f.t())
    torch.testing.assert_close(f, f.flip(0))  # radially symmetric
    torch.testing.assert_close(f.sum(), torch.tensor(1.0))


def test_batch_result_equals_one_at_a_time(G_R):
    """The batched (un-fused) modulated convolution draws the same images as batch 1 (fused)."""
    z = torch.randn(3, 8)
    c = torch.eye(3)
    with torch.no_grad():
        ws = G_R.mapping(z, c)
        batch = G_R.synthesis(ws)
        single = torch.cat([G_R.synthesis(ws[i:i + 1]) for i in range(3)])
        unfused = G_R.synthesis(ws[:1], fused_modconv=False)
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)
    torch.testing.assert_close(unfused, single[:1], rtol=0, atol=1e-5)


# --- float64 references written from the paper's math ---------------------------------------------


def numpy_fourier_features(layer: stylegan3.SynthesisInput, w: np.ndarray) -> np.ndarray:
    """Sec. 3.1 / Appendix F: features sin(2 pi (f . q + phi)) sampled at the transformed pixel centres
    q = M p of a size x size grid spanning size / s (p in units of 1 / s, centred); M = inverse rotation
    o inverse translation (from the normalized affine output) o the user transform; amplitude fades
    linearly from 1 at |M^T f| = bandwidth to 0 at s / 2; then the channel mix weight / sqrt(C)."""
    aff_w = layer.affine.weight.detach().double().numpy() * layer.affine.weight_gain
    aff_b = layer.affine.bias.detach().double().numpy() * layer.affine.bias_gain
    freqs = layer.freqs.double().numpy()
    phases = layer.phases.double().numpy()
    user = layer.transform.double().numpy()
    mix = layer.weight.detach().double().numpy() / np.sqrt(layer.channels)
    size, s, bw = layer.size, layer.sampling_rate, layer.bandwidth
    centres = (np.arange(size) + 0.5) / s - size / (2 * s)
    out = np.zeros((w.shape[0], layer.channels, size, size))
    for n in range(w.shape[0]):
        rc, rs, tx, ty = aff_w @ w[n] + aff_b
        norm = math.hypot(rc, rs)
        rc, rs, tx, ty = rc / norm, rs / norm, tx / norm, ty / norm
        rot = np.array([[rc, -rs, 0], [rs, rc, 0], [0, 0, 1]])
        trans = np.array([[1, 0, -tx], [0, 1, -ty], [0, 0, 1]])
        m = rot @ trans @ user
        for yi, y in enumerate(centres):
            for xi, x in enumerate(centres):
                q = m @ np.array([x, y, 1.0])
                feats = np.sin(2 * np.pi * (freqs @ q[:2] + phases))
                eff = freqs @ m[:2, :2]  # frequency of each feature as a function of p
                amp = np.clip(1 - (np.linalg.norm(eff, axis=1) - bw) / (s / 2 - bw), 0, 1)
                out[n, :, yi, xi] = mix @ (feats * amp)
    return out


def test_input_layer_matches_numpy_reference(G_R):
    layer = G_R.synthesis.input
    w = np.random.RandomState(3).randn(2, 8)
    with torch.no_grad():
        layer64 = stylegan3.SynthesisInput(8, layer.channels, layer.size, layer.sampling_rate, layer.bandwidth).double()
        layer64.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
        layer64.transform.copy_(torch.tensor([[0.9, -0.3, 0.2], [0.35, 1.1, -0.1], [0, 0, 1]], dtype=torch.float64))
        ours = layer64(torch.from_numpy(w)).numpy()
    ref = numpy_fourier_features(layer64, w)
    assert np.abs(ref).max() > 0.1
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def numpy_filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """Sec. 3.2: bias; upsample by zero insertion (x up^2 to keep DC gain); pad (negative crops);
    true 2-D convolution with fu (outer product when 1-D), keeping only fully covered samples;
    leaky ReLU * gain, clamp; convolution with fd; keep every down-th sample."""
    def as2d(f):
        return np.ones((1, 1)) if f is None else (np.outer(f, f) if f.ndim == 1 else f)

    def convolve_valid(img, f):
        kh, kw = f.shape
        out_h, out_w = img.shape[-2] - kh + 1, img.shape[-1] - kw + 1
        out = np.zeros(img.shape[:-2] + (out_h, out_w))
        for i in range(kh):
            for j in range(kw):  # convolution: out[o] = sum_k f[k] img[o + K - 1 - k]
                out += f[i, j] * img[..., kh - 1 - i: kh - 1 - i + out_h, kw - 1 - j: kw - 1 - j + out_w]
        return out

    x0, x1, y0, y1 = padding
    x = x + b[None, :, None, None]
    n, c, h, w = x.shape
    z = np.zeros((n, c, h * up, w * up))
    z[:, :, ::up, ::up] = x * up ** 2
    z = np.pad(z, [(0, 0), (0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))])
    z = z[:, :, max(-y0, 0): z.shape[2] - max(-y1, 0), max(-x0, 0): z.shape[3] - max(-x1, 0)]
    y = convolve_valid(z, as2d(fu))
    y = np.where(y >= 0, y, y * slope) * gain
    if clamp is not None:
        y = np.clip(y, -clamp, clamp)
    y = convolve_valid(y, as2d(fd))
    return y[:, :, ::down, ::down]


FLRELU_CASES = [  # (layer of G_T / G_R or None, up, down, padding, separable fd)
    ("T", 0), ("T", 5), ("T", 13), ("T", 14), ("R", 0), ("R", 5), ("R", 13),
]


@pytest.mark.parametrize("which, index", FLRELU_CASES)
def test_filtered_lrelu_matches_numpy_reference(G_T, G_R, which, index):
    """Layer-exact settings (filters, factors, paddings incl. negative ones) on random input."""
    layer = (G_T if which == "T" else G_R).synthesis.layers()[index]
    rng = np.random.RandomState(index)
    in_size = layer.in_size + layer.conv_kernel - 1
    x = rng.randn(2, layer.out_channels, in_size, in_size) * 3
    b = rng.randn(layer.out_channels)
    fu = None if layer.up_filter is None else layer.up_filter.double().numpy()
    fd = None if layer.down_filter is None else layer.down_filter.double().numpy()
    gain, slope, clamp = (1, 1, 256) if layer.is_torgb else (math.sqrt(2), 0.2, 2.5)
    ref = numpy_filtered_lrelu(x, fu, fd, b, layer.up_factor, layer.down_factor, layer.padding, gain, slope, clamp)
    assert ref.shape[-2:] == (layer.out_size, layer.out_size)
    args = dict(fu=None if fu is None else torch.from_numpy(fu), fd=None if fd is None else torch.from_numpy(fd),
                b=torch.from_numpy(b), up=layer.up_factor, down=layer.down_factor, padding=layer.padding,
                gain=gain, slope=slope, clamp=clamp)
    for impl in (filtered_lrelu, filtered_lrelu_fast):
        got = impl(torch.from_numpy(x), **args).numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, err_msg=impl.__name__)


@pytest.mark.parametrize("up, down, padding, taps_up, taps_down", [
    (2, 2, (3, -2, 0, 5), 8, 6), (4, 2, (-3, -1, 2, 1), 24, 12), (3, 1, (1, 1, 1, 1), 9, 1), (1, 3, (2, 0, 0, 2), 1, 9)])
def test_fast_filtered_lrelu_equals_reference_on_odd_settings(up, down, padding, taps_up, taps_down):
    gen = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(1, 3, 13, 11, generator=gen, dtype=torch.float64)
    fu = torch.randn(taps_up, generator=gen, dtype=torch.float64) if taps_up > 1 else None
    fd = torch.randn(taps_down, generator=gen, dtype=torch.float64) if taps_down > 1 else None
    b = torch.randn(3, generator=gen, dtype=torch.float64)
    args = dict(fu=fu, fd=fd, b=b, up=up, down=down, padding=padding, clamp=1.5)
    torch.testing.assert_close(filtered_lrelu_fast(x, **args), filtered_lrelu(x, **args), rtol=0, atol=1e-12)
