"""A Frechet distance between generated and real images that needs no download. NOT Inception FID.

Features: a fixed random-weight convolutional network (4 stages of 3x3 conv + ReLU + 2x2 average
pool: 3 -> 16 -> 32 -> 64 -> 128 channels) on the images resized to 64 x 64 (area filter) in
[-1, 1]; each stage contributes the mean and the standard deviation of every channel over the image,
so the 480 features describe colours and textures at 64, 32, 16 and 8 px. The weights are He-scaled
normal numbers from `numpy.random.default_rng(20201207)` (numpy's generator gives the same numbers on
every machine), so the features, and the distance, are the same everywhere.

Distance (Frechet / 2-Wasserstein between Gaussians fitted to the two feature sets, as in FID):
    FD = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2)
computed in float64 with symmetric eigendecompositions (no scipy).

Reading it: lower is closer; 0 only for identical statistics. Random-weight features are a weaker
judge than Inception's (they see colour and texture statistics, not 'faces'), and the numbers are on
their own scale: compare them only with each other (same command, same image counts), never with
published FIDs. Like FID, the value is biased upwards for small sample counts, so `train check` also
reports the distance between two samples of real images: the floor a perfect model would reach.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FEATURE_SEED = 20201207
FEATURE_SIZE = 64
CHANNELS = (3, 16, 32, 64, 128)


def _weights() -> list[torch.Tensor]:
    rng = np.random.default_rng(FEATURE_SEED)
    out = []
    for cin, cout in zip(CHANNELS[:-1], CHANNELS[1:]):
        w = rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        out.append(torch.from_numpy(w.astype(np.float32)))
    return out


_WEIGHTS: list[torch.Tensor] | None = None


@torch.no_grad()
def features(images: np.ndarray, batch: int = 100) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float64 [N, 480]."""
    global _WEIGHTS
    assert images.ndim == 4 and images.shape[-1] == 3 and images.dtype == np.uint8, (images.shape, images.dtype)
    if _WEIGHTS is None:
        _WEIGHTS = _weights()
    out = []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch])).permute(0, 3, 1, 2).float() / 127.5 - 1
        if x.shape[-1] != FEATURE_SIZE:
            x = F.interpolate(x, size=(FEATURE_SIZE, FEATURE_SIZE), mode="area" if x.shape[-1] > FEATURE_SIZE else "bilinear")
        parts = []
        for w in _WEIGHTS:
            x = F.avg_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
            parts += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
        out.append(torch.cat(parts, dim=1).double().numpy())
    feats = np.concatenate(out)
    assert feats.shape == (len(images), 2 * sum(CHANNELS[1:])), feats.shape
    return feats


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FD between Gaussians fitted to two [N, D] feature sets (N >= 2 each)."""
    assert feats_a.ndim == feats_b.ndim == 2 and feats_a.shape[1] == feats_b.shape[1], (feats_a.shape, feats_b.shape)
    mu_a, mu_b = feats_a.mean(axis=0), feats_b.mean(axis=0)
    s_a, s_b = np.cov(feats_a, rowvar=False), np.cov(feats_b, rowvar=False)
    root_a = _sqrt_psd(s_a)
    cross = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    trace_sqrt = float(np.sqrt(np.clip(cross, 0, None)).sum())
    return float(np.square(mu_a - mu_b).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_sqrt)
