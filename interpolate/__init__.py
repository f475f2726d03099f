"""waifu-morph: morph videos from trained StyleGAN-family generators.

    from interpolate import load_generator
    G = load_generator("checkpoints/chibi-64.pt")
    ws = G.mapping(z, truncation_psi=0.7)
    img = G.synthesis(ws, noise_mode="const")

    from interpolate import project, sefa
    fit = project(G, "me.png", steps=300)    # fit.ws: [1, num_ws, w_dim], NVIDIA's projected_w layout
    dirs = sefa(G, "coarse")                 # dirs.vectors [w_dim, w_dim]; ws + dirs.offset(0, 2.0)
"""

__version__ = "0.1.0"

from .errors import WaifuError  # noqa: E402


def load_generator(path, device=None):
    """Load a generator from any supported checkpoint; see interpolate.loading.load_generator."""
    from .loading import load_generator as _load

    return _load(path, device=device)


def project(G, image, **kwargs):
    """Fit an image (or a list) in G's W space; see interpolate.projection.project."""
    from .projection import project as _project

    return _project(G, image, **kwargs)


def sefa(G, layers=None, count=None):
    """SeFa directions of the style layers reading ws `layers`; see interpolate.directions.sefa."""
    from .directions import sefa as _sefa

    return _sefa(G, layers, count)


__all__ = ["load_generator", "project", "sefa", "WaifuError", "__version__"]
