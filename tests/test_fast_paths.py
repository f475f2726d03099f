"""The inference fast paths (networks.modconv, networks.winograd, networks.polyphase, ops.upfirdn2d's
fast branch) draw what the plain formulation draws: float32 within 1e-4 on [-1, 1]-scale images, for
every architecture variant, batch 1 and batches, with and without noise, with the Winograd path
forced on for the small test models too (only wide layers pick it); and a changed weight is picked
up (no stale cache)."""

import pytest
import torch

from interpolate.networks import build, ops, winograd
from interpolate.networks.modconv import reference_ops
from test_stylegan2 import perturbed as perturbed2
from test_stylegan2 import small
from test_stylegan3 import R_KW, T_KW
from test_stylegan3 import perturbed as perturbed3

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(params=["default", "winograd"])
def layer_paths(request, monkeypatch):
    """default: the shape rules pick (small models: direct convolutions); winograd: every stride-1 3x3
    modulated layer by Winograd, as wide layers of real models are."""
    if request.param == "winograd":
        monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
        monkeypatch.setattr(winograd, "MAX_WEIGHT_BYTES", 1 << 40)
    return request.param


def agree(G, ws, **kw):
    with torch.inference_mode():
        fast = G.synthesis(ws, **kw)
        with reference_ops():
            plain = G.synthesis(ws, **kw)
    scale = max(1.0, plain.abs().max().item())
    assert (fast - plain).abs().max().item() < 1e-4 * scale
    return fast


@pytest.mark.parametrize("arch", ["skip", "resnet", "orig"])
@pytest.mark.parametrize("n", [1, 3])
def test_stylegan2_fast_path_agrees_with_the_plain_one(arch, n, layer_paths):
    G = perturbed2(small(arch, img_resolution=32, conv_clamp=2.0)).requires_grad_(False)
    ws = G.mapping(torch.randn(n, 8), truncation_psi=0.8)
    agree(G, ws)
    agree(G, ws, noise_mode="none")
    agree(G, ws, fused_modconv=True)
    noise = [torch.randn(n, 1, h, w) for h, w in G.noise_shapes]
    agree(G, ws, noise=noise)


@pytest.mark.parametrize("kw,seed", [(T_KW, 0), (R_KW, 1)])
@pytest.mark.parametrize("n", [1, 2])
def test_stylegan3_fast_path_agrees_with_the_plain_one(kw, seed, n, layer_paths):
    G = perturbed3(kw, seed=seed).requires_grad_(False)
    ws = G.mapping(torch.randn(n, G.z_dim), torch.eye(max(G.c_dim, 1))[:n, :G.c_dim] if G.c_dim else None)
    agree(G, ws)
    agree(G, ws, fused_modconv=True)


def test_cached_weights_follow_a_new_state_dict(layer_paths):
    G = perturbed2(small(img_resolution=16)).requires_grad_(False)
    ws = G.mapping(torch.randn(2, 8))
    before = agree(G, ws)
    other = perturbed2(small(img_resolution=16), seed=5)
    G.load_state_dict(other.state_dict())
    after = agree(G, ws)
    assert (after - before).abs().max() > 1e-3


@pytest.mark.parametrize("make", [lambda: perturbed2(small(img_resolution=16)), lambda: perturbed3(T_KW, seed=0)])
def test_autograd_through_a_frozen_generator_after_inference(make):
    """A frame drawn under inference_mode, then a projection (gradients to ws through frozen weights) in
    the same process, as the studio does: no cached inference tensor may reach autograd."""
    G = make().requires_grad_(False)
    ws = G.mapping(torch.randn(1, G.z_dim), None)
    with torch.inference_mode():
        G.synthesis(ws)
    w = ws.clone().requires_grad_(True)
    G.synthesis(w).square().mean().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


@pytest.mark.parametrize("up,down,padding", [(1, 1, 0), (2, 1, [2, 1, 2, 1]), (1, 2, [1, 1, 1, 1]), (2, 2, [-1, 2, 0, 3])])
@pytest.mark.parametrize("taps", [[1, 3, 3, 1], [1, 2, 1], [[1, 2, 0], [0, 1, 3], [2, 0, 1]]])
def test_upfirdn2d_fast_branch_equals_the_plain_one(up, down, padding, taps):
    x = torch.randn(2, 5, 9, 7)
    f = ops.setup_filter(taps)
    with torch.inference_mode():
        fast = ops.upfirdn2d(x, f, up=up, down=down, padding=padding, gain=1.7)
        with reference_ops():
            plain = ops.upfirdn2d(x, f, up=up, down=down, padding=padding, gain=1.7)
    torch.testing.assert_close(fast.contiguous(), plain, rtol=0, atol=1e-5)


def test_build_stays_float32_on_cpu():
    G = build("stylegan2", z_dim=8, w_dim=8, img_resolution=8, img_channels=3, channel_base=32, channel_max=8)
    with torch.inference_mode():
        assert G.synthesis(G.mapping(torch.randn(1, 8))).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("which", ["stylegan2", "stylegan3"])
def test_cuda_float32_matches_cpu(which):
    """CUDA in float32 (TF32 off, fp16 layers forced off) draws the CPU's image to < 1e-3; fp16 layers stay close."""
    G = perturbed2(small(img_resolution=32)) if which == "stylegan2" else perturbed3(T_KW)
    G = G.requires_grad_(False)
    c = torch.eye(G.c_dim)[:2] if G.c_dim else None
    ws = G.mapping(torch.randn(2, G.z_dim), c)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.inference_mode():
            cpu = G.synthesis(ws)
            Gc = G.cuda()
            gpu = Gc.synthesis(ws.cuda(), force_fp32=True).cpu()
            half = Gc.synthesis(ws.cuda()).float().cpu()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    assert (gpu - cpu).abs().max().item() < 1e-3
    assert (half - cpu).abs().max().item() < 0.05 * max(1.0, cpu.abs().max().item())
