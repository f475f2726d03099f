"""Commands for recipes and many outputs: presets, reel and batch (interpolate/presets, interpolate/batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .app import app, console


presets_app = typer.Typer(help="List and show render presets (shipped, in your presets folder, or any .toml).",
                          invoke_without_command=True, no_args_is_help=False)
app.add_typer(presets_app, name="presets")


@presets_app.callback()
def presets_list(ctx: typer.Context) -> None:
    """List the presets, one line each.

    Example:  waifu-morph presets
    """
    if ctx.invoked_subcommand is None:
        from ..presets import print_list

        print_list(Console())


@presets_app.command("show")
def presets_show(name: str = typer.Argument(..., help="Preset name or path to a .toml file.")) -> None:
    """Print one preset: its file and, when it builds on another, what it resolves to.

    Example:  waifu-morph presets show x-gif
    """
    from ..presets import print_show

    print_show(name, Console())


@app.command()
def reel(
    reel_file: Path = typer.Argument(..., help="Reel TOML: a \\[reel] table and [\\[segment]] tables."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Output file (default: the reel's own)."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or mps (default: the reel's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Render a sequence of segments (own keys, style, timing, preset, title) into one video.

    Example:  waifu-morph reel my-reel.toml -o reel.mp4
    """
    from ..batch.reel import render_reel_file

    render_reel_file(reel_file, output=output, overwrite=overwrite, device=device, quiet=quiet, console=console)


@app.command()
def batch(
    jobs_file: Path = typer.Argument(..., help="Jobs as TOML (\\[defaults] + [\\[job]] tables) or CSV (header row of option names)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: render jobs I, I+N, I+2N, ... (I from 0; for job arrays)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run on a Ray cluster: auto or its address (pip install waifu-morph\\[ray])."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Re-render outputs made from other options."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or mps (default: each job's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars (the summary table is still printed)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be rendered, skipped or fail."),
) -> None:
    """Render many outputs, each checkpoint loaded once; finished outputs are skipped, so a re-run resumes.

    A failing job does not stop the others; the summary table names its reason and the exit code is 1.

    Example:  waifu-morph batch gifs.toml --shard 0/4
    """
    from ..batch.runner import run_batch_file

    code = run_batch_file(jobs_file, shard=shard, ray=ray, overwrite=overwrite, device=device, quiet=quiet,
                          dry_run=dry_run, console=console)
    raise typer.Exit(code)

