"""A tiny deterministic stand-in for a Generator (the surface paths/ and render/ rely on)."""

from __future__ import annotations

import torch


class FakeGenerator(torch.nn.Module):
    """Mapping: normalize z, one fixed random linear layer + leaky ReLU per ws index (so layers differ).

    num_ws 10 by default with ws_resolution 4,4,8,8,16,16,32,32,64,64 (StyleGAN2 at 64 px); pass
    `ws_resolution` for other layouts (e.g. StyleGAN3-like non-powers of two).
    """

    arch = "fake"

    def __init__(self, z_dim=8, w_dim=6, ws_resolution=(4, 4, 8, 8, 16, 16, 32, 32, 64, 64), c_dim=0,
                 noise_shapes=((4, 4), (8, 8), (8, 8)), seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.z_dim, self.w_dim, self.c_dim = z_dim, w_dim, c_dim
        self.ws_resolution = tuple(ws_resolution)
        self.num_ws = len(self.ws_resolution)
        self.img_resolution = int(max(ws_resolution))
        self.img_height = self.img_width = self.img_resolution
        self.img_channels = 3
        self.noise_shapes = tuple(tuple(s) for s in noise_shapes)
        self.register_buffer("weight", torch.randn(self.num_ws, z_dim + c_dim, w_dim, generator=gen) / z_dim ** 0.5)
        self.register_buffer("w_avg", torch.randn(w_dim, generator=gen) * 0.1)

    def mapping(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
        assert z.shape[1:] == (self.z_dim,)
        x = z.float() * (z.float().square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        if self.c_dim:
            assert c is not None and c.shape == (z.shape[0], self.c_dim)
            x = torch.cat([x, c.float()], dim=1)
        ws = torch.nn.functional.leaky_relu(torch.einsum("nz,lzw->nlw", x, self.weight), 0.2)
        if truncation_psi != 1:
            ws[:, :truncation_cutoff] = self.w_avg.lerp(ws[:, :truncation_cutoff], truncation_psi)
        return ws

    def synthesis(self, ws, noise_mode="const", noise=None):
        n = ws.shape[0]
        return ws.mean(dim=(1, 2)).view(n, 1, 1, 1).expand(n, 3, self.img_resolution, self.img_resolution)


def tiny_stylegan2_file(folder, channel_base: int = 512, channel_max: int = 16) -> str:
    """A random-weight 64-px StyleGAN2 (all three style groups present, z = w = 16) saved in the
    native format under `folder`; seeded, so every test module gets the same weights."""
    from interpolate.formats.native import save_native
    from interpolate.networks import build

    kwargs = dict(z_dim=16, w_dim=16, img_resolution=64, img_channels=3, mapping_kwargs={"num_layers": 2},
                  channel_base=channel_base, channel_max=channel_max)
    torch.manual_seed(0)
    return str(save_native(folder / "tiny.pt", build("stylegan2", **kwargs), init_kwargs=kwargs))
