"""What the `waifu-morph train ...` and `waifu-morph dataset` commands do (the CLI only parses flags)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import WaifuError


def write_dataset(seed: int, n: int, size: int, start: int = 0, contact_sheet_path: Path | None = None,
                  outdir: Path | None = None, cols: int | None = None, console: Console | None = None) -> None:
    """Draw images start .. start+n-1 of data set `seed`; write PNGs and/or a contact sheet."""
    from PIL import Image

    from .dataset import chibi_images, contact_sheet

    if n < 1 or size < 8:
        raise WaifuError(f"--n {n} --size {size}: draw at least 1 image of at least 8 px")
    if contact_sheet_path is None and outdir is None:
        raise WaifuError("nothing to write: pass --contact-sheet FILE.png and/or --outdir FOLDER")
    images = chibi_images(seed, n, size, start=start)
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            _save_png(Image.fromarray(img), outdir / f"chibi-s{seed}-{start + i:06d}.png")
    if contact_sheet_path is not None:
        _save_png(contact_sheet(images, cols=cols), contact_sheet_path)
    if console is not None:
        console.print(f"drew {n} images of data set {seed} ({size} px)"
                      + (f" -> {outdir}/" if outdir else "") + (f" -> {contact_sheet_path}" if contact_sheet_path else ""))


def _save_png(img, path: Path) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        img.save(tmp)
    except OSError as err:
        raise WaifuError(f"cannot write {path}: {err.strerror or err}") from None
    os.replace(tmp, path)


def run_training(out: Path, resume: Path | None, quiet: bool, console: Console, device: str = "auto",
                 workers: int | None = None, **config: Any) -> Path:
    """Start (or resume) a run in `out`; returns the path of the exported model."""
    from ..device import pick_device
    from .trainer import TrainConfig, Trainer, train

    dev = pick_device(device)
    if workers is None:   # on a GPU, drawing the data set on the training process would be the bottleneck
        workers = min(8, max((os.cpu_count() or 1) - 1, 0)) if dev.type == "cuda" else 0
    if resume is not None:
        trainer = Trainer.resume(resume, outdir=out, device=str(dev), workers=workers, kimg=config.get("kimg"),
                                 snapshot_minutes=config.get("snapshot_minutes"), threads=config.get("threads"))
    else:
        if (out / "snapshot.pt").exists():
            raise WaifuError(f"{out} already holds a run; continue it with --resume {out / 'snapshot.pt'} "
                             "or pick another --out")
        trainer = Trainer(TrainConfig(**config), outdir=out, device=str(dev), workers=workers)
    cfg = trainer.cfg
    total = -(-int(cfg.kimg * 1000) // cfg.batch)

    def log(line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if quiet:
            print(f"{stamp} {line}", flush=True)
        else:
            console.log(line)

    log(f"run {out} on {dev} ({workers} data workers): {cfg.resolution}px, batch {cfg.batch}, {cfg.kimg} kimg = {total} steps, "
        f"starting at step {trainer.step_idx}; G {sum(p.numel() for p in trainer.G.parameters()):,} params, "
        f"D {sum(p.numel() for p in trainer.D.parameters()):,} params")
    if quiet:
        train(trainer, log=log)
    else:
        columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("train", total=total, completed=trainer.step_idx, info="")

            def progress(tr, stats) -> None:
                bar.update(task, completed=tr.step_idx,
                           info=f"kimg {tr.nimg / 1000:.1f}  G {stats.g_loss:.3f}  D {stats.d_loss:.3f}")

            train(trainer, progress=progress, log=lambda line: bar.console.log(line) if "snapshot" in line or "done" in line else None)
    return out / "model.pt"


def export_snapshot(snapshot: Path, output: Path, console: Console) -> None:
    """Write the G_ema of a training snapshot as a native model file."""
    from .trainer import Trainer

    trainer = Trainer.resume(snapshot, outdir=snapshot.parent)
    trainer.export_model(output)
    size_mb = output.stat().st_size / 2 ** 20
    console.print(f"wrote {output} ({size_mb:.1f} MiB) from step {trainer.step_idx} ({trainer.nimg / 1000:.1f} kimg)")


def print_check(model: Path, num_seeds: int, num_reference: int, psi: float, dataset_seed: int,
                console: Console, quiet: bool = False, markdown: bool = False) -> None:
    """Nearest-neighbour distances of a model's images to the data set, next to the two baselines."""
    from rich.table import Table

    from .check import COMPARE_SIZE, check_model

    if not Path(model).is_file():
        raise WaifuError(f"no model file at {model}")
    if quiet:
        rows = check_model(model, num_seeds, num_reference, psi, dataset_seed)
    else:
        with Progress(TextColumn("drawing the reference data set"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("ref", total=num_reference)
            rows = check_model(model, num_seeds, num_reference, psi, dataset_seed,
                               progress=lambda done: bar.update(task, completed=done))
    if markdown:
        from .check import load_model, style_change

        print("| images (%d) | mean | median |\n|---|---:|---:|" % num_seeds)
        for row in rows:
            print(f"| {row.name} | {row.mean:.2f} | {row.median:.2f} |")
        print("\n| `--style` | colour | edges (silhouette) |\n|---|---:|---:|")
        for name, (colour, edges) in style_change(load_model(model)[0], psi=psi).items():
            print(f"| {name} | {colour:.2f} | {edges:.2f} |")
        return
    table = Table(title=f"{model}: distance to the nearest of {num_reference} data-set images "
                        f"(mean |diff| on 0-255, {COMPARE_SIZE}x{COMPARE_SIZE}, {num_seeds} images)")
    table.add_column("images")
    table.add_column("mean", justify="right")
    table.add_column("median", justify="right")
    for row in rows:
        table.add_row(row.name, f"{row.mean:.2f}", f"{row.median:.2f}")
    Console().print(table)

    from .check import load_model, style_change

    G, _, _ = load_model(model)
    styles = Table(title=f"what each style group moves (seed pairs 2i, 2i+1, i < 20, psi {psi:g}): mean |change| on 0-255")
    styles.add_column("--style")
    styles.add_column("colour", justify="right")
    styles.add_column("edges (silhouette)", justify="right")
    for name, (colour, edges) in style_change(G, psi=psi).items():
        styles.add_row(name, f"{colour:.2f}", f"{edges:.2f}")
    Console().print(styles)


def write_figures(model: Path, outdir: Path, psi: float, scale: int, console: Console) -> None:
    """The model card's pictures of `model`, into `outdir`."""
    from .check import load_model
    from .figures import write_card_figures

    if not Path(model).is_file():
        raise WaifuError(f"no model file at {model}")
    G, _, _ = load_model(model)
    for path in write_card_figures(G, Path(outdir), Path(model).stem, psi=psi, scale=scale):
        console.print(f"wrote {path}")
