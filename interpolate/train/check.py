"""Did the model learn the data set? Nearest-neighbour distances to the procedural data set.

Metric: images are box-downsampled to 32 x 32 and compared by mean absolute pixel difference on the
0-255 scale (over pixels and RGB channels). For each of `num_seeds` generated images (seeds 0 ..
num_seeds-1, z as in NVIDIA's gen_images.py) we take the distance to its nearest image among the first
`num_reference` data-set images, and report the mean and median over the seeds. Three rows put the number
in context:

  trained model      the generator under test (psi as given)
  random weights     the same architecture, freshly initialised (torch seed 0): what 'learned nothing' scores
  held-out data set  data-set images num_reference .. num_reference+num_seeds-1: what a perfect model scores

A model that learned the data sits near the held-out row and far below the random-weights row.

`style_change` measures what each style group moves: for seed pairs (a, b), the image of a is compared
with a whose `style` layers come from b (what `--style fine` ends on): the mean absolute change of the
colours (0-255) and of the luminance edges (silhouettes: Sobel magnitude of the grey image, 0-255),
on the full-size images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..networks import build
from ..seeds import z_from_seed
from .dataset import chibi_images
from ..images import to_uint8_numpy as to_uint8

COMPARE_SIZE = 32


@dataclass
class NearestStats:
    name: str
    mean: float
    median: float
    nearest: np.ndarray   # [num_seeds] distance of each image to its nearest data-set image
    index: np.ndarray     # [num_seeds] which data-set image that was


def _small(images_uint8: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3 * 32 * 32] on the 0-255 scale, box-downsampled."""
    x = torch.from_numpy(np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2).float()
    if x.shape[-1] != COMPARE_SIZE:
        x = F.adaptive_avg_pool2d(x, COMPARE_SIZE)
    return x.flatten(1)


def nearest_distances(name: str, images: np.ndarray, reference: torch.Tensor, chunk: int = 25) -> NearestStats:
    """Mean-abs-difference to the nearest reference image, for each image."""
    queries = _small(images)
    best_d, best_i = [], []
    for q in queries.split(chunk):
        d = torch.cdist(q, reference, p=1) / reference.shape[1]
        v, i = d.min(dim=1)
        best_d.append(v)
        best_i.append(i)
    nearest = torch.cat(best_d).numpy()
    return NearestStats(name, float(nearest.mean()), float(np.median(nearest)), nearest, torch.cat(best_i).numpy())


@torch.no_grad()
def generate(G: torch.nn.Module, seeds: range, psi: float, batch: int = 25) -> np.ndarray:
    out = []
    for start in range(0, len(seeds), batch):
        z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in seeds[start:start + batch]])).float()
        out.append(to_uint8(G(z, truncation_psi=psi, noise_mode="const")))
    return np.concatenate(out)


def load_model(path: Path) -> tuple[torch.nn.Module, str, dict]:
    """(G, arch, init_kwargs) of a model file in any format waifu-morph reads."""
    from ..loading import load_generator

    G = load_generator(path, device="cpu")
    return G, G.arch, dict(G.checkpoint_info.init_kwargs)


def check_model(path: Path, num_seeds: int = 100, num_reference: int = 5000, psi: float = 1.0,
                dataset_seed: int = 0, progress=None) -> list[NearestStats]:
    """The three rows described in the module docstring."""
    G, arch, init_kwargs = load_model(path)
    size = G.img_resolution
    reference = _small(chibi_images(dataset_seed, num_reference, size, progress=progress))
    seeds = range(num_seeds)
    rows = [nearest_distances(f"trained model (psi {psi:g})", generate(G, seeds, psi), reference)]
    if psi != 1.0:
        rows.append(nearest_distances("trained model (psi 1)", generate(G, seeds, 1.0), reference))
    torch.manual_seed(0)
    G_random = build(arch, **init_kwargs).eval()
    rows.append(nearest_distances("random weights", generate(G_random, seeds, 1.0), reference))
    held_out = chibi_images(dataset_seed, num_seeds, size, start=num_reference)
    rows.append(nearest_distances("held-out data set", held_out, reference))
    return rows


@torch.no_grad()
def style_change(G: torch.nn.Module, num_pairs: int = 20, psi: float = 0.7) -> dict[str, tuple[float, float]]:
    """{group: (mean |colour change|, mean |edge change|)} over seed pairs (2i, 2i+1)."""
    from ..paths.styles import style_groups

    groups = style_groups(G)
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in range(2 * num_pairs)])).float()
    ws = G.mapping(z, truncation_psi=psi)
    a, b = ws[0::2], ws[1::2]
    base = G.synthesis(a, noise_mode="const")
    out = {}
    for name in ("coarse", "middle", "fine", "all"):
        mixed = a.clone()
        mixed[:, groups[name]] = b[:, groups[name]]
        img = G.synthesis(mixed, noise_mode="const")
        colour = float((img - base).abs().mean() * 127.5)
        edges = float((_edges(img) - _edges(base)).abs().mean() * 127.5)
        out[name] = (colour, edges)
    return out


def _edges(img: torch.Tensor) -> torch.Tensor:
    grey = img.mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3) / 4
    gx = F.conv2d(grey, kx, padding=1)
    gy = F.conv2d(grey, kx.transpose(2, 3), padding=1)
    return (gx.square() + gy.square()).sqrt()
