"""The procedural data set, training / fine-tuning on the user's images, and the model check (interpolate/train)."""

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


train_app = typer.Typer(help="Train or fine-tune a StyleGAN2 on your own images or the procedural chibi data set (CPU or GPU).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("run")
def train_run(
    out: Path = typer.Option(Path("runs/chibi-64"), "--out", "-o", help="Run folder: snapshot.pt, model.pt, samples/, stats.jsonl."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a snapshot.pt (its config is kept; --kimg may extend it)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Your images: a folder (png/jpg/webp, searched recursively) or a dataset_tool.py zip. Default: the procedural chibi set."),
    square: str = typer.Option("crop", "--square", help="Non-square images: crop (centre square) or pad (whole picture on its border colour)."),
    xflip: bool = typer.Option(False, "--xflip", help="Also train on mirrored copies of --data (doubles the set)."),
    cond: bool = typer.Option(False, "--cond", help="Conditional model on the class labels of dataset.json (in the folder or zip)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Fine-tune: start from this StyleGAN2 model (any format waifu-morph loads; an NVIDIA .pkl also gives its D). Keeps its size and architecture."),
    augment: Optional[str] = typer.Option(None, "--augment", help="ada (adaptive, default with --data), fixed (constant --aug-p) or none (default on the procedural set)."),
    aug_p: float = typer.Option(0.0, "--aug-p", help="Starting augmentation probability (ada) or the constant one (fixed)."),
    ada_target: float = typer.Option(0.6, "--ada-target", help="ADA: raise p while E\\[sign D(real)] is above this."),
    ada_kimg: float = typer.Option(100.0, "--ada-kimg", help="ADA: thousand images for p to move by 1."),
    kimg: float = typer.Option(200.0, "--kimg", help="Stop after this many thousand real images."),
    resolution: Optional[int] = typer.Option(None, "--resolution", help="Image size (power of two; default 64, or the --init model's)."),
    batch: int = typer.Option(8, "--batch", help="Images per step (multiple of 4)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights and the training noise."),
    dataset_seed: int = typer.Option(0, "--dataset-seed", help="Seed of the procedural data set (with --data: of the shuffling)."),
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
    """Train (or resume, or fine-tune) a StyleGAN2; writes a model every waifu-morph command renders.

    On your pictures: --data FOLDER (or a dataset_tool.py zip) squares every image at --resolution,
    skips unreadable files with a note, and turns on adaptive augmentation (ADA): its probability p
    rises while the discriminator memorises the set. --init starts from a trained StyleGAN2 (for an
    NVIDIA .pkl also from its discriminator). Progress shows kimg, losses, images/s and p; every
    --snapshot-minutes the run folder gets snapshot.pt (--resume continues exactly), model.pt and a
    sample grid.

    The shipped checkpoints/chibi-64.pt is the procedural-set defaults plus --g-arch resnet --gamma
    0.8 --seed 1 (see checkpoints/README.md).

    Examples:
      waifu-morph train run --data faces/ --resolution 64 --xflip --out runs/faces --kimg 50
      waifu-morph train run --data faces/ --init checkpoints/chibi-64.pt --out runs/faces-ft --kimg 20
      waifu-morph train run --out runs/chibi-64 --g-arch resnet --gamma 0.8 --seed 1
    """
    from ..train.commands import run_training

    run_training(out, resume, quiet, console, device=device, workers=workers, kimg=kimg, resolution=resolution, batch=batch, seed=seed,
                 dataset_seed=dataset_seed, channel_base=channel_base, channel_max=channel_max, z_dim=z_dim,
                 w_dim=w_dim, map_layers=map_layers, noise=noise, g_architecture=g_arch, g_lr=lr, d_lr=lr, r1_gamma=gamma, mixing_prob=mixing,
                 snapshot_minutes=snapshot_minutes, threads=threads, data=data, square=square, xflip=xflip, cond=cond,
                 init=init, augment=augment, aug_p=aug_p, ada_target=ada_target, ada_kimg=ada_kimg)


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
    data: Optional[Path] = typer.Option(None, "--data", help="Measure against your images (folder or zip) instead of the procedural set."),
    square: str = typer.Option("crop", "--square", help="How --data images were squared: crop or pad."),
    fd_images: int = typer.Option(1000, "--fd-images", help="Generated images for the Frechet distance."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the tables as Markdown (for the model card)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Measure how close a model's images are to its data set, next to random weights and held-out data.

    Two numbers: the nearest-data-set distance (mean pixel difference at 32 px to the closest real
    image) and a Frechet distance between generated and real images on the features of a fixed
    random-weight conv net (no download; NOT the Inception-based FID, so compare it only with other
    runs of this command at the same image counts). The floor rows show what real images score.

    Examples:
      waifu-morph train check checkpoints/chibi-64.pt --seeds 100 --reference 5000
      waifu-morph train check runs/faces/model.pt --data faces/
    """
    from ..train.commands import print_check

    print_check(model, seeds, reference, psi, dataset_seed, console, quiet=quiet or markdown, markdown=markdown,
                data=data, square=square, fd_images=fd_images)


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
