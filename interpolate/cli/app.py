"""The Typer app and the console the commands print to (stderr); the commands live beside this file."""

from __future__ import annotations

import typer
from rich.console import Console

from .guard import GuardedGroup

app = typer.Typer(
    name="waifu-morph",
    help=(
        "Morph videos from trained StyleGAN 1/2/3 generators.\n\n"
        "Loads a checkpoint (NVIDIA .pkl, StyleGAN1/2 TensorFlow .pkl, rosinality .pt, or waifu-morph's own .pt) "
        "safely, without running code from it, and renders per-scale style transitions to MP4, GIF, WebP or frames.\n\n"
        "Examples:\n\n"
        "  waifu-morph render --seeds 3,17,42 --style fine -o waifu.mp4\n\n"
        "  waifu-morph info checkpoints/chibi-64.pt\n\n"
        "  waifu-morph image checkpoints/chibi-64.pt --seeds 0-7 --psi 0.7 -o out/"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=GuardedGroup,
)
console = Console(stderr=True)



@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an unexpected error (a bug) instead of saving it to a file; also WAIFU_MORPH_DEBUG=1.")) -> None:
    """Options of every command (see Commands below)."""
