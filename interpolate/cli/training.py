"""The procedural data set and the trainer of the shipped model (interpolate/train)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app, console


@app.command()
def dataset(
    n: int = typer.Option(64, "--n", "-n", help="How many images to draw."),
    size: int = typer.Option(64, "--size", help="Image size in pixels (drawn at 2x, then downsampled)."),
    seed: int = typer.Option(0, "--seed", help="Data set seed; image i of a seed is always the same picture."),
    start: int = typer.Option(0, "--start", help="Index of the first image."),
    contact_sheet: Optional[Path] = typer.Option(None, "--contact-sheet", help="Write all images tiled into one PNG."),
    cols: Optional[int] = typer.Option(None, "--cols", help="Images per row of the contact sheet (default: about square)."),
    outdir: Optional[Path] = typer.Option(None, "--outdir", "-o", help="Also write one PNG per image into this folder."),
) -> None:
    """Draw the procedural chibi anime portraits the shipped model was trained on.

    Example:  waifu-morph dataset --n 64 --size 64 --contact-sheet sheet.png
    """
    from ..train.commands import write_dataset

    write_dataset(seed, n, size, start=start, contact_sheet_path=contact_sheet, outdir=outdir, cols=cols,
                  console=console)


train_app = typer.Typer(help="Train a small StyleGAN2 on the procedural chibi data set (CPU or GPU).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("run")
def train_run(
    out: Path = typer.Option(Path("runs/chibi-64"), "--out", "-o", help="Run folder: snapshot.pt, model.pt, samples/, stats.jsonl."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a snapshot.pt (its config is kept; --kimg may extend it)."),
    kimg: float = typer.Option(200.0, "--kimg", help="Stop after this many thousand real images."),
    resolution: int = typer.Option(64, "--resolution", help="Image size (power of two)."),
    batch: int = typer.Option(8, "--batch", help="Images per step (multiple of 4)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights and the training noise."),
    dataset_seed: int = typer.Option(0, "--dataset-seed", help="Seed of the procedural data set."),
    channel_base: int = typer.Option(1024, "--channel-base", help="Channels at resolution r: min(channel_base / r, channel_max)."),
    channel_max: int = typer.Option(128, "--channel-max", help="Most channels in any layer."),
    z_dim: int = typer.Option(256, "--z-dim", help="Latent size."),
    w_dim: int = typer.Option(256, "--w-dim", help="Intermediate latent (style) size."),
    map_layers: int = typer.Option(4, "--map-layers", help="Mapping network depth."),
    noise: bool = typer.Option(False, "--noise/--no-noise", help="Per-pixel noise inputs in the generator."),
    g_arch: str = typer.Option("skip", "--g-arch", help="Generator architecture: skip (config F), resnet or orig (both: one ToRGB at the end, so fine styles set the colours; the shipped model is resnet)."),
    lr: float = typer.Option(0.0025, "--lr", help="Adam learning rate of G and D."),
    gamma: Optional[float] = typer.Option(None, "--gamma", help="R1 weight (default 0.0002 * resolution^2 / batch)."),
    mixing: float = typer.Option(0.9, "--mixing", help="Style-mixing probability."),
    snapshot_minutes: float = typer.Option(5.0, "--snapshot-minutes", help="Minutes between snapshots."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes drawing the data set ahead (default: 0 on CPU, up to 8 on CUDA)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log lines instead of a progress bar (for nohup runs)."),
) -> None:
    """Train (or resume) a StyleGAN2 on the chibi data set; writes a model waifu-morph renders directly.

    The shipped checkpoints/chibi-64.pt is these defaults plus --g-arch resnet --gamma 0.8 --seed 1
    (see checkpoints/README.md).

    Example:  waifu-morph train run --out runs/chibi-64 --g-arch resnet --gamma 0.8 --seed 1
    """
    from ..train.commands import run_training

    run_training(out, resume, quiet, console, device=device, workers=workers, kimg=kimg, resolution=resolution, batch=batch, seed=seed,
                 dataset_seed=dataset_seed, channel_base=channel_base, channel_max=channel_max, z_dim=z_dim,
                 w_dim=w_dim, map_layers=map_layers, noise=noise, g_architecture=g_arch, g_lr=lr, d_lr=lr, r1_gamma=gamma, mixing_prob=mixing,
                 snapshot_minutes=snapshot_minutes, threads=threads)


@train_app.command("export")
def train_export(
    snapshot: Path = typer.Argument(..., help="A run's snapshot.pt."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write, e.g. checkpoints/chibi-64.pt."),
) -> None:
    """Write the EMA generator of a training snapshot as a model file.

    Example:  waifu-morph train export runs/chibi-64/snapshot.pt -o checkpoints/chibi-64.pt
    """
    from ..train.commands import export_snapshot

    export_snapshot(snapshot, output, console)


@train_app.command("check")
def train_check(
    model: Path = typer.Argument(..., help="Model file, e.g. checkpoints/chibi-64.pt."),
    seeds: int = typer.Option(100, "--seeds", help="Generate seeds 0 .. N-1."),
    reference: int = typer.Option(5000, "--reference", help="Compare with the first N data-set images."),
    psi: float = typer.Option(1.0, "--psi", help="Truncation psi of the generated images."),
    dataset_seed: int = typer.Option(0, "--dataset-seed", help="Seed of the data set the model was trained on."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the tables as Markdown (for the model card)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Measure how close a model's images are to the data set, next to random weights and held-out data.

    Example:  waifu-morph train check checkpoints/chibi-64.pt --seeds 100 --reference 5000
    """
    from ..train.commands import print_check

    print_check(model, seeds, reference, psi, dataset_seed, console, quiet=quiet or markdown, markdown=markdown)


@train_app.command("figures")
def train_figures(
    model: Path = typer.Argument(..., help="Model file, e.g. checkpoints/chibi-64.pt."),
    outdir: Path = typer.Option(Path("checkpoints"), "--outdir", "-o", help="Folder for the PNGs."),
    psi: float = typer.Option(0.7, "--psi", help="Truncation psi."),
    scale: int = typer.Option(2, "--scale", help="Enlarge the PNGs this many times (nearest neighbour)."),
) -> None:
    """Draw the model card's pictures: a 4x4 seed grid, coarse/middle/fine 3-frame strips, the data set.

    Example:  waifu-morph train figures checkpoints/chibi-64.pt -o checkpoints/
    """
    from ..train.commands import write_figures

    write_figures(model, outdir, psi, scale, console)

