"""LatentPath on the real networks: groups from their layers, keys drawn exactly, noise accepted.

Each architecture is skipped only while its network module has not landed yet.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpolate.options import RenderOptions
from interpolate.paths import plan_path, style_groups
from interpolate.seeds import z_from_seed

SMALL = {
    "stylegan1": dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=3, fmap_base=64, fmap_max=16,
                      mapping_layers=2, mapping_fmaps=16),
    "stylegan2": dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=64, img_channels=3,
                      mapping_kwargs={"num_layers": 2}, channel_base=256, channel_max=16),
}


@pytest.fixture(scope="module", params=sorted(SMALL))
def G(request):
    arch = request.param
    pytest.importorskip(f"interpolate.networks.{arch}")
    from interpolate.networks import build
    torch.manual_seed(0)
    G = build(arch, **SMALL[arch]).eval()
    with torch.no_grad():      # a non-trivial w_avg so truncation is visible
        G.w_avg.copy_(torch.randn(G.w_dim) * 0.1)
    return G


def test_groups_come_from_the_network(G):
    assert G.num_ws == 10 and tuple(G.ws_resolution) == (4, 4, 8, 8, 16, 16, 32, 32, 64, 64)
    assert style_groups(G) == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9], "all": list(range(10))}


@torch.no_grad()
@pytest.mark.parametrize("noise", ["const", "smooth", "random"])
def test_keyframes_render_exactly_as_the_generator_draws_the_seed(G, noise):
    psi = 0.7
    path = plan_path(G, RenderOptions(keys=["3,17"], frames=4, psi=psi, style="fine", base="3", noise=noise, fps=10))
    frames = path.chunk(0, path.num_frames)
    assert frames.ws.shape == (5, G.num_ws, G.w_dim)
    z = torch.from_numpy(z_from_seed(3, G.z_dim)).float()
    want = G.mapping(z, None, truncation_psi=psi, truncation_cutoff=getattr(G, "default_truncation_cutoff", None))
    assert torch.equal(frames.ws[0], want[0])
    imgs = G.synthesis(frames.ws, noise_mode=frames.noise_mode, noise=frames.noise)
    assert imgs.shape == (5, 3, 64, 64) and torch.isfinite(imgs).all()
    if noise == "const":
        ref = G.synthesis(want, noise_mode="const")
        assert torch.allclose(imgs[0], ref[0], atol=1e-5)
    else:
        assert [tuple(n.shape[2:]) for n in frames.noise] == [tuple(s) for s in G.noise_shapes]
    # only the fine layers moved: coarse and middle stay those of the base
    assert torch.equal(frames.ws[:, :8], frames.ws[:1, :8].expand(5, -1, -1))
    assert not np.array_equal(frames.ws[0, 8:].numpy(), frames.ws[-1, 8:].numpy())
