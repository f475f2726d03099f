"""Your own characters and attributes: `project` (images -> W) and `directions` (SeFa, examples).

The work is in interpolate/projection and interpolate/directions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app, console


@app.command()
def project(
    inputs: list[str] = typer.Argument(..., help="\\[CKPT] IMAGE...: an optional checkpoint (.pkl/.pt) first, then one or more images (PNG, JPEG, WebP, ...)."),
    outdir: Path = typer.Option(Path("projected"), "--outdir", "-o", help="Folder for NAME.npz, NAME.png (target | fit) and NAME.mp4."),
    steps: int = typer.Option(1000, "--steps", help="Optimisation steps (the official projector's 1000; 300 is often enough for a preview)."),
    space: str = typer.Option("w", "--space", help="w: one w for every layer (as the official projector); wplus: one per layer, held close to W (closer fits, still morphs cleanly)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial noise maps and the w noise."),
    fit: str = typer.Option("crop", "--fit", help="Images of another shape: crop (cut the centre) or pad (borders in the image's border colour)."),
    loss: str = typer.Option("auto", "--loss", help="auto: VGG16 perceptual distance when its weights are found, else MS-SSIM + L1 (weight-free); vgg16; ms-ssim."),
    vgg: Optional[str] = typer.Option(None, "--vgg", help="torchvision's VGG16 weights (vgg16-397923af.pth or .safetensors) for offline machines; default: $TORCH_HOME/hub/checkpoints/."),
    save_video: bool = typer.Option(False, "--save-video", help="Also write NAME.mp4: the target beside the fit at every step."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images fitted together (default 4 on CPU, 8 on a GPU)."),
    class_idx: Optional[int] = typer.Option(None, "--class-idx", help="Class of a conditional model."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace existing outputs."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Fit images in a model's W space, so your own characters can be morphed.

    Per image NAME it writes NAME.npz (w of shape \\[1, num_ws, w_dim], NVIDIA's projected_w.npz layout), NAME.png (the target beside the fit) and with --save-video NAME.mp4. Images are checked first: nothing is written if one is unreadable, has an alpha channel, or an output exists. The progress bar shows the loss, the PSNR and steps/s.

    Examples:

      waifu-morph project me.png friend.jpg -o projected/

      waifu-morph project ffhq.pkl face.png --space wplus --steps 500 -o projected/

      waifu-morph render --keys projected/me.npz,projected/friend.npz --psi 1 --loop -o us.gif
    """
    from ..projection.command import run_project

    run_project(inputs, outdir=outdir, steps=steps, space=space, seed=seed, fit=fit, loss=loss, vgg=vgg,
                save_video=save_video, batch_size=batch_size, overwrite=overwrite, class_idx=class_idx, device=device,
                quiet=quiet, console=console)


@app.command()
def directions(
    checkpoint: Optional[str] = typer.Argument(None, help="Checkpoint (.pkl or .pt). Default: the model shipped in checkpoints/."),
    output: Path = typer.Option(Path("dirs.npz"), "--output", "-o", help="Directions file to write (.npz)."),
    style: str = typer.Option("all", "--style", help="The layers the directions act on: all, coarse, middle or fine."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Explicit ws indices instead of --style, e.g. 0-3."),
    count: Optional[int] = typer.Option(None, "--count", help="Keep only the strongest N directions (default: all w_dim)."),
    from_seeds: Optional[str] = typer.Option(None, "--from-seeds", help="Seeds that show an attribute (e.g. red eyes): one direction from their mean w ..."),
    against: Optional[str] = typer.Option(None, "--against", help="... minus the mean w of these seeds, which do not show it."),
    label: Optional[str] = typer.Option(None, "--label", help="A name for a --from-seeds direction (e.g. 'red eyes')."),
    class_idx: Optional[int] = typer.Option(None, "--class-idx", help="Class of a conditional model, for --from-seeds."),
    sheet: Optional[Path] = typer.Option(None, "--sheet", help="Also draw a PNG: a row per direction, columns from -strength to +strength, on --sheet-seeds."),
    sheet_rows: int = typer.Option(5, "--sheet-rows", help="Directions drawn on the sheet (the strongest first)."),
    sheet_seeds: str = typer.Option("0,1,2", "--sheet-seeds", help="Seeds drawn in each row of the sheet."),
    strength: float = typer.Option(3.0, "--strength", help="The sheet's largest strength, in W units (SeFa's top directions spread about 1-2 units)."),
    columns: int = typer.Option(5, "--columns", help="Strengths per seed on the sheet."),
    psi: Optional[float] = typer.Option(None, "--psi", help="Truncation of the sheet's seeds (default: the checkpoint's own)."),
    cell: Optional[int] = typer.Option(None, "--cell", help="Pixels per sheet cell (default: the model's size, at least 96, at most 256)."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace existing outputs."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Find semantic directions in W: closed-form factorisation (SeFa) of the style layers, or from example seeds.

    SeFa takes about a second on a CPU: the eigenvectors of the stacked, normalised style affine weights of the chosen layers, strongest first. --from-seeds A --against B gives one direction: what seeds A share and seeds B lack (pick them by eye from `waifu-morph image`).

    Examples:

      waifu-morph directions -o dirs.npz --sheet dirs.png

      waifu-morph directions ffhq.pkl --style coarse -o coarse.npz --sheet coarse.png --sheet-seeds 1,2

      waifu-morph directions --from-seeds 3,17,42 --against 5,6,7 --label "red eyes" -o red.npz --sheet red.png
    """
    from ..directions.command import run_directions

    run_directions(checkpoint, output=output, style=style, layers=layers, count=count, from_seeds=from_seeds,
                   against=against, label=label, class_idx=class_idx, sheet=sheet, sheet_rows=sheet_rows, sheet_seeds=sheet_seeds,
                   strength=strength, columns=columns, psi=psi, cell=cell, overwrite=overwrite, device=device, quiet=quiet,
                   console=console)
