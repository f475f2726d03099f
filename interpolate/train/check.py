"""Did the model learn the data set? Nearest-neighbour distances and a Frechet distance to its data.

The data set is the procedural chibi set (seed `dataset_seed`) or, with `data`, the user's folder or
zip (squared as `square` at the model's resolution).

Metric: images are box-downsampled to 32 x 32 and compared by mean absolute pixel difference on the
0-255 scale (over pixels and RGB channels). For each of `num_seeds` generated images (seeds 0 ..
num_seeds-1, z as in NVIDIA's gen_images.py) we take the distance to its nearest image among the first
`num_reference` data-set images, and report the mean and median over the seeds. Three rows put the number
in context:

  trained model      the generator under test (psi as given)
  random weights     the same architecture, freshly initialised (torch seed 0): what 'learned nothing' scores
  held-out data set  data-set images num_reference .. num_reference+num_seeds-1: what a perfect model scores

A model that learned the data sits near the held-out row and far below the random-weights row. A
user's data set has no held-out part: its rows are the model's and random weights'.

`frechet_rows`: the Frechet distance on fixed random-conv features (interpolate.train.frechet; not
Inception FID) between `num_images` generated images and the reference, with the same two baselines;
the floor is held-out procedural images against the reference, or for a user's set one half of it
against the other half.

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
from ..images import to_uint8_numpy as to_uint8
from .dataset import chibi_images

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
    """uint8 [N, R, R, 3] of `seeds` (z as gen_images.py); a conditional G cycles through its classes."""
    out = []
    for start in range(0, len(seeds), batch):
        chunk = seeds[start:start + batch]
        z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in chunk])).float()
        c = None
        if G.c_dim:
            c = F.one_hot(torch.tensor([s % G.c_dim for s in chunk]), G.c_dim).float()
        out.append(to_uint8(G(z, c, truncation_psi=psi, noise_mode="const")))
    return np.concatenate(out)


def class_labels(G: torch.nn.Module, n: int) -> torch.Tensor | None:
    """Class 0 for every image of a conditional G (None for an unconditional one)."""
    return F.one_hot(torch.zeros(n, dtype=torch.long), G.c_dim).float() if G.c_dim else None


def load_model(path: Path) -> tuple[torch.nn.Module, str, dict]:
    """(G, arch, init_kwargs) of a model file in any format waifu-morph reads."""
    from ..loading import load_generator

    G = load_generator(path, device="cpu")
    return G, G.arch, dict(G.checkpoint_info.init_kwargs)


@dataclass
class Reference:
    """The real images a model is measured against (uint8 [N, R, R, 3]) and the held-out ones (or None)."""

    images: np.ndarray
    held_out: np.ndarray | None
    what: str


def reference_images(size: int, num_reference: int, held_out: int, dataset_seed: int = 0, data: Path | None = None,
                     square: str = "crop", progress=None) -> Reference:
    """Procedural: images 0 .. num_reference-1 and the next `held_out`; a user's set: its first
    num_reference images (all of them if fewer), no held-out part."""
    if data is None:
        return Reference(chibi_images(dataset_seed, num_reference, size, progress=progress),
                         chibi_images(dataset_seed, held_out, size, start=num_reference),
                         f"procedural data set {dataset_seed}")
    from .folder import load_image_set

    images = load_image_set(Path(data), size, square,
                            progress=None if progress is None else lambda done, total: progress(done)).images
    return Reference(images[:num_reference], None, str(data))


def check_model(path: Path, num_seeds: int = 100, num_reference: int = 5000, psi: float = 1.0,
                dataset_seed: int = 0, progress=None, data: Path | None = None, square: str = "crop",
                reference: Reference | None = None) -> list[NearestStats]:
    """The rows described in the module docstring."""
    G, arch, init_kwargs = load_model(path)
    if reference is None:
        reference = reference_images(G.img_resolution, num_reference, num_seeds, dataset_seed, data, square, progress)
    ref = _small(reference.images)
    seeds = range(num_seeds)
    rows = [nearest_distances(f"trained model (psi {psi:g})", generate(G, seeds, psi), ref)]
    if psi != 1.0:
        rows.append(nearest_distances("trained model (psi 1)", generate(G, seeds, 1.0), ref))
    rows.append(nearest_distances("random weights", generate(_random_twin(arch, init_kwargs), seeds, 1.0), ref))
    if reference.held_out is not None:
        rows.append(nearest_distances("held-out data set", reference.held_out[:num_seeds], ref))
    return rows


def _random_twin(arch: str, init_kwargs: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(arch, **init_kwargs).eval()


@dataclass
class FrechetRow:
    name: str
    fd: float
    count: int          # images on the measured side (the reference side has len(reference.images))


def frechet_rows(path: Path, reference: Reference, num_images: int = 1000, psi: float = 1.0) -> list[FrechetRow]:
    """Frechet distances (random-conv features, NOT Inception FID) to the reference images."""
    from .frechet import features, frechet_distance

    G, arch, init_kwargs = load_model(path)
    ref = features(reference.images)
    seeds = range(num_images)
    rows = [FrechetRow(f"trained model (psi {psi:g})", frechet_distance(features(generate(G, seeds, psi)), ref), num_images)]
    if psi != 1.0:
        rows.append(FrechetRow("trained model (psi 1)", frechet_distance(features(generate(G, seeds, 1.0)), ref), num_images))
    fog = generate(_random_twin(arch, init_kwargs), seeds, 1.0)
    rows.append(FrechetRow("random weights", frechet_distance(features(fog), ref), num_images))
    if reference.held_out is not None:
        held = reference.held_out[:num_images]
        rows.append(FrechetRow("held-out data set", frechet_distance(features(held), ref), len(held)))
    elif len(ref) >= 4:
        half = len(ref) // 2
        rows.append(FrechetRow("data set, half vs half", frechet_distance(ref[:half], ref[half:]), half))
    return rows


@torch.no_grad()
def style_change(G: torch.nn.Module, num_pairs: int = 20, psi: float = 0.7) -> dict[str, tuple[float, float]]:
    """{group: (mean |colour change|, mean |edge change|)} over seed pairs (2i, 2i+1)."""
    from ..paths.styles import style_groups

    groups = style_groups(G)
    z = torch.from_numpy(np.concatenate([z_from_seed(s, G.z_dim) for s in range(2 * num_pairs)])).float()
    ws = G.mapping(z, class_labels(G, len(z)), truncation_psi=psi)
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
