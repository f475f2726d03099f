"""waifu-morph: morph videos from trained StyleGAN-family generators.

    from interpolate import load_generator
    G = load_generator("checkpoints/chibi-64.pt")
    ws = G.mapping(z, truncation_psi=0.7)
    img = G.synthesis(ws, noise_mode="const")
"""

__version__ = "0.1.0"

from .errors import WaifuError  # noqa: E402


def load_generator(path, device=None):
    """Load a generator from any supported checkpoint; see interpolate.loading.load_generator."""
    from .loading import load_generator as _load

    return _load(path, device=device)


__all__ = ["load_generator", "WaifuError", "__version__"]
