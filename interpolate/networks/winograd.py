"""3x3 convolutions (stride 1) by Winograd's minimal filtering F(4x4, 3x3): a CPU inference fast path.

A 3x3 correlation of 6x6 input tiles (stride 4) gives 4x4 output tiles. In the transformed domain
it is an elementwise product, so a layer becomes three matrix products: the input tiles times the
input transform (36 x 36), one batched product with the transformed weight (36 matrices [I, O]:
2.25 multiplications per output instead of 9) and the output transform (16 x 36). With many
channels (StyleGAN's 256 and 512 channel layers) the batched product dominates and runs at the
speed of a plain matrix product, about twice as fast as the direct convolution on CPU.

Transform (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"): for 1-D
F(m, r) with interpolation points p_0..p_{n-2} and infinity (n = m + r - 1),

    y = AT [(G g) * (BT d)],   AT[i, j] = p_j^i (last column e_{m-1}),
                               G[j, k] = p_j^k / prod_{l != j} (p_j - p_l) (last row e_{r-1}),

and BT is the unique matrix that makes y the correlation of d with g (solved once, in float64);
2-D tiles use the Kronecker products. The points 0, 1, -1, 2, -1/2 keep float32 rounding within
about 10x that of the direct convolution (relative error ~1e-6 per layer).

`conv3x3(x, U, padding, ...)` takes the weight transformed by `transformed_weight` (cached on the
layer's module) and folds the per-input-channel modulation into the tile gather and the
per-output-channel demodulation and bias into the final copy; the result is channels_last.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch

POINTS = (0.0, 1.0, -1.0, 2.0, -0.5)
M, R = 4, 3
N_TILE = M + R - 1                   # 6: input tile side
MIN_CHANNELS = 256                   # 128 channels: no faster than the direct convolution (measured on CPU)
MAX_WEIGHT_BYTES = 40 << 20          # a larger transformed weight (36 I O floats) costs more to stream than it saves


@functools.lru_cache(maxsize=None)
def _matrices_1d() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(AT [4, 6], G [6, 3], BT [6, 6]) in float64."""
    p = np.asarray(POINTS, dtype=np.float64)
    n = N_TILE
    at = np.zeros((M, n))
    for i in range(M):
        at[i, :n - 1] = p ** i
    at[M - 1, n - 1] = 1
    g = np.zeros((n, R))
    for j in range(n - 1):
        g[j] = p[j] ** np.arange(R) / np.prod([p[j] - p[l] for l in range(n - 1) if l != j])
    g[n - 1, R - 1] = 1
    # BT: sum_t AT[i, t] G[t, k] BT[t, j] = [j == i + k] for all i, k, j (correlation), a linear system.
    a = np.einsum("it,tk,jq->ikjtq", at, g, np.eye(n)).reshape(M * R * n, n * n)
    b = np.array([[[1.0 if j == i + k else 0.0 for j in range(n)] for k in range(R)] for i in range(M)]).ravel()
    bt = np.linalg.lstsq(a, b, rcond=None)[0].reshape(n, n)
    assert np.abs(a @ bt.ravel() - b).max() < 1e-10
    return at, g, bt


@functools.lru_cache(maxsize=None)
def _kron(device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(input transform [36, 36], output transform [16, 36]) for 2-D tiles."""
    at, _, bt = _matrices_1d()
    return (torch.as_tensor(np.kron(bt, bt), dtype=dtype, device=device),
            torch.as_tensor(np.kron(at, at), dtype=dtype, device=device))


def applies(x: torch.Tensor, weight_shape: Sequence[int]) -> bool:
    """Whether the Winograd path should run this stride-1 convolution of x with a weight of this shape
    [O, I, kh, kw] (shapes only: deterministic)."""
    out_channels, in_channels, kh, kw = weight_shape
    return (kh, kw) == (R, R) and min(in_channels, out_channels) >= MIN_CHANNELS and x.device.type == "cpu" \
        and x.dtype == torch.float32 and N_TILE * N_TILE * in_channels * out_channels * 4 <= MAX_WEIGHT_BYTES


def transformed_weight(module: torch.nn.Module, weight: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """U [36, I, O] = G w G^T per (O, I) (float64 arithmetic, float32 result), cached on `module` until
    weight changes. flip: transform the spatially flipped weight (true convolution)."""
    name = "_winograd_cache"
    key = (weight.data_ptr(), 0 if weight.is_inference() else weight._version, weight.device, flip)
    cache = module.__dict__.get(name)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            g = torch.as_tensor(_matrices_1d()[1], dtype=torch.float64, device=weight.device)
            w = weight.detach().to(torch.float64)
            if flip:
                w = w.flip([2, 3])
            u = torch.einsum("ai,ocij,bj->abco", g, w, g).reshape(N_TILE * N_TILE, w.shape[1], w.shape[0])
            cache = (key, u.to(torch.float32).contiguous())
        module.__dict__[name] = cache
    return cache[1]


def conv3x3(x: torch.Tensor, u: torch.Tensor, padding: int, in_scale: torch.Tensor | None = None,
            out_scale: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """bias + out_scale * conv2d(x * in_scale, w, padding=padding) with u = transformed_weight(w).

    x [N, I, H, W] (any memory format); in_scale [N, I], out_scale [N, O], bias [O] (optional); the
    result [N, O, H + 2 padding - 2, W + 2 padding - 2] is channels_last.
    """
    n, c, h, w = x.shape
    o = u.shape[2]
    assert u.shape == (N_TILE * N_TILE, c, o), (u.shape, x.shape)
    ho, wo = h + 2 * padding - 2, w + 2 * padding - 2
    assert ho > 0 and wo > 0, (x.shape, padding)
    th, tw = -(-ho // M), -(-wo // M)
    kb, ka = _kron(x.device, x.dtype)

    xp = x.new_zeros(n, th * M + 2, tw * M + 2, c)                  # padded, NHWC, modulated
    inner = xp[:, padding:padding + h, padding:padding + w]
    xh = x.permute(0, 2, 3, 1)
    if in_scale is None:
        inner.copy_(xh)
    else:
        torch.mul(xh, in_scale.to(x.dtype).reshape(n, 1, 1, c), out=inner)
    tiles = x.new_empty(N_TILE, N_TILE, n, th, tw, c)
    tiles.copy_(xp.unfold(1, N_TILE, M).unfold(2, N_TILE, M).permute(4, 5, 0, 1, 2, 3))
    v = (kb @ tiles.view(N_TILE * N_TILE, -1)).view(N_TILE * N_TILE, n * th * tw, c)
    prod = torch.bmm(v, u)                                          # [36, tiles, O]
    y = (ka @ prod.view(N_TILE * N_TILE, -1)).view(M, M, n, th, tw, o).permute(2, 3, 0, 4, 1, 5)
    out = x.new_empty(n, th * M, tw * M, o)
    _scaled_copy(out.view(n, th, M, tw, M, o), y, out_scale, bias)
    return out[:, :ho, :wo].permute(0, 3, 1, 2)


def _scaled_copy(dst: torch.Tensor, src: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor | None) -> None:
    """dst = src * scale [N, O] + bias [O] in one pass; dst, src [N, ..., O] (channels last)."""
    n, o = dst.shape[0], dst.shape[-1]
    if scale is None and bias is None:
        dst.copy_(src)
    elif scale is None:
        torch.add(src, bias.to(src.dtype).reshape(o), out=dst)
    else:
        scale = scale.to(src.dtype).reshape((n,) + (1,) * (dst.ndim - 2) + (o,))
        if bias is None:
            torch.mul(src, scale, out=dst)
        else:
            torch.addcmul(bias.to(src.dtype).reshape(o), src, scale, out=dst)
