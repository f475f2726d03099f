"""The shipped checkpoints/chibi-64.pt: small, safe to load, and it draws the data set, not fog."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from interpolate.train.check import generate, load_model, nearest_distances, _small
from interpolate.train.dataset import chibi_images

MODEL = Path(__file__).resolve().parents[1] / "checkpoints" / "chibi-64.pt"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shipped_model_is_a_small_weights_only_file():
    assert MODEL.stat().st_size <= 20 * 2 ** 20
    data = torch.load(MODEL, map_location="cpu", weights_only=True)
    assert data["format"] == "waifu-morph" and data["version"] == 1 and data["arch"] == "stylegan2"
    meta = data["meta"]
    assert meta["dataset"]["seed"] == 0 and meta["training"]["resolution"] == 64
    assert meta["training"]["step"] > 0 and meta["truncation_psi"] == 0.7


def test_shipped_model_draws_faces_like_the_data_set():
    G, arch, init_kwargs = load_model(MODEL)
    assert (G.img_resolution, G.num_ws) == (64, 10)
    reference = _small(chibi_images(0, 300, 64))
    seeds = range(12)
    trained = nearest_distances("trained", generate(G, seeds, 0.7), reference)
    torch.manual_seed(0)
    from interpolate.networks import build

    fog = nearest_distances("random", generate(build(arch, **init_kwargs).eval(), seeds, 1.0), reference)
    held_out = nearest_distances("data", chibi_images(0, 12, 64, start=300), reference)
    assert trained.mean < 0.5 * fog.mean
    assert trained.mean < 1.5 * held_out.mean


def test_fine_styles_move_colour_and_coarse_styles_move_the_silhouette():
    """The model card's promise: `--style fine` recolours the character and keeps its shape."""
    from interpolate.train.check import style_change

    G, _, _ = load_model(MODEL)
    change = style_change(G, num_pairs=10)
    (fine_colour, fine_edges), (_, coarse_edges) = change["fine"], change["coarse"]
    assert fine_colour > 8 and fine_colour > 2.5 * fine_edges
    assert coarse_edges > 2 * fine_edges
