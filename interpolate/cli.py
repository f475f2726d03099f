"""The `waifu-morph` command line: parses flags, calls the package, prints one-line errors.

No logic lives here: each command hands its options to the module that does the work.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .errors import WaifuError

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
)
console = Console(stderr=True)


@app.command()
def info(
    checkpoint: Path = typer.Argument(..., help="Checkpoint file (.pkl or .pt); its format is detected from its content."),
) -> None:
    """Describe a checkpoint: format, architecture, resolution, num_ws, style groups, parameters.

    Example:  waifu-morph info stylegan2-ffhq-1024x1024.pkl
    """
    from .loading import describe

    describe(checkpoint, console=Console())


@app.command()
def image(
    checkpoint: Path = typer.Argument(..., help="Checkpoint file (.pkl or .pt)."),
    seeds: str = typer.Option("0-7", "--seeds", "-s", help="Seeds: a list and/or ranges, e.g. 3,17,42 or 0-31."),
    psi: float = typer.Option(1.0, "--psi", help="Truncation psi (1 = off; 0.7 is a common choice)."),
    cutoff: Optional[int] = typer.Option(None, "--cutoff", help="Truncate only ws[:cutoff] (default: the checkpoint's own setting, else all)."),
    noise_mode: str = typer.Option("const", "--noise-mode", help="Noise inputs: const, random or none."),
    outdir: Path = typer.Option(Path("out"), "--outdir", "-o", help="Folder for the PNGs (created if missing)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write one PNG per seed, exactly as NVIDIA's gen_images.py draws it.

    Example:  waifu-morph image ffhq.pkl --seeds 0-7 --psi 0.7 -o out/
    """
    from .render.stills import write_seed_images

    write_seed_images(checkpoint, seeds=seeds, psi=psi, cutoff=cutoff, noise_mode=noise_mode,
                      outdir=outdir, device=device, quiet=quiet, console=console)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors exit 2 (typer), WaifuError prints one line and exits 2."""
    try:
        app(args=argv, prog_name="waifu-morph")
    except WaifuError as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: nothing partial was left behind")
        sys.exit(130)


if __name__ == "__main__":
    main()
