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
    from ..files import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp)


def _load_images(data: Path, resolution: int, square: str, cond: bool, quiet: bool, console: Console, log):
    """Decode the user's images (with a progress bar unless quiet) and say what was skipped."""
    from .folder import load_image_set

    if quiet:
        images = load_image_set(data, resolution, square, cond)
    else:
        with Progress(TextColumn("reading images"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("read", total=None)
            images = load_image_set(data, resolution, square, cond,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    log(f"data {data}: {len(images.images)} images at {resolution} px ({square}), "
        + (f"{images.c_dim} label dimensions" if images.c_dim else "no labels"))
    if images.skipped:
        more = f" and {len(images.skipped) - 3} more" if len(images.skipped) > 3 else ""
        log(f"note: skipped {len(images.skipped)} unreadable file(s): {', '.join(images.skipped[:3])}{more}")
    return images


def run_training(out: Path, resume: Path | None, quiet: bool, console: Console, device: str = "auto",
                 workers: int | None = None, **config: Any) -> Path:
    """Start (or resume) a run in `out`; returns the path of the exported model."""
    from ..device import pick_device
    from .config import TrainConfig
    from .snapshots import load_snapshot
    from .trainer import Trainer, train

    def log(line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if quiet:
            print(f"{stamp} {line}", flush=True)
        else:
            console.log(line)

    dev = pick_device(device)
    if workers is None:   # on a GPU, drawing the data set on the training process would be the bottleneck
        workers = min(8, max((os.cpu_count() or 1) - 1, 0)) if dev.type == "cuda" else 0
    if resume is not None:
        saved = load_snapshot(resume)["config"]
        images = None
        if saved.get("data"):
            images = _load_images(Path(saved["data"]), saved["resolution"], saved.get("square", "crop"),
                                  saved.get("cond", False), quiet, console, log)
        trainer = Trainer.resume(resume, outdir=out, device=str(dev), workers=workers, images=images,
                                 kimg=config.get("kimg"), snapshot_minutes=config.get("snapshot_minutes"),
                                 threads=config.get("threads"))
    else:
        if (out / "snapshot.pt").exists():
            raise WaifuError(f"{out} already holds a run; continue it with --resume {out / 'snapshot.pt'} "
                             "or pick another --out")
        init = _init_config(config, log)
        if config.get("resolution") is None:
            config["resolution"] = 64
        images = None
        if config.get("data"):
            config["data"] = str(config["data"])
            images = _load_images(Path(config["data"]), config["resolution"], config.get("square", "crop"),
                                  config.get("cond", False), quiet, console, log)
            config["c_dim"] = images.c_dim
        trainer = Trainer(TrainConfig(**config), outdir=out, device=str(dev), workers=workers, images=images, init=init)
    cfg = trainer.cfg
    total = -(-int(cfg.kimg * 1000) // cfg.batch)
    log(f"run {out} on {dev} ({workers} data workers): {cfg.resolution}px, batch {cfg.batch}, {cfg.kimg} kimg = {total} steps, "
        f"starting at step {trainer.step_idx}; G {sum(p.numel() for p in trainer.G.parameters()):,} params, "
        f"D {sum(p.numel() for p in trainer.D.parameters()):,} params; augment {cfg.augment} (p {trainer.ada.p:.3f})")
    if quiet:
        train(trainer, log=log)
    else:
        columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("train", total=total, completed=trainer.step_idx, info="")
            speed = _Speed(cfg.batch)

            def progress(tr, stats) -> None:
                bar.update(task, completed=tr.step_idx,
                           info=f"kimg {tr.nimg / 1000:.2f}  G {stats.g_loss:.3f}  D {stats.d_loss:.3f}  "
                                f"{speed.tick():.1f} img/s  p {tr.ada.p:.3f}")

            train(trainer, progress=progress,
                  log=lambda line: bar.console.log(line) if "snapshot" in line or "done" in line else None)
    return out / "model.pt"


class _Speed:
    """Images per second over the last few steps."""

    def __init__(self, batch: int, window: int = 10):
        self.batch, self.window, self.times = batch, window, [time.monotonic()]

    def tick(self) -> float:
        self.times = (self.times + [time.monotonic()])[-(self.window + 1):]
        span = self.times[-1] - self.times[0]
        return self.batch * (len(self.times) - 1) / span if span > 0 else 0.0


def _init_config(config: dict[str, Any], log) -> Any:
    """With --init: read the file, make the run's networks the file's; None without --init."""
    if not config.get("init"):
        config.pop("init", None)
        return None
    from .finetune import read_init

    init = read_init(Path(config["init"]))
    if config.get("resolution") not in (None, init.resolution):
        raise WaifuError(f"--init {config['init']} is a {init.resolution} px generator; drop --resolution "
                         f"(or pass --resolution {init.resolution}): fine-tuning keeps the model's size")
    g = init.g_kwargs
    config.update(init=str(config["init"]), resolution=init.resolution, g_kwargs=g, d_kwargs=init.d_kwargs,
                  z_dim=int(g["z_dim"]), w_dim=int(g["w_dim"]), c_dim=init.c_dim,
                  g_architecture=g.get("architecture", "skip"), channel_base=int(g.get("channel_base", 32768)),
                  channel_max=int(g.get("channel_max", 512)), noise=bool(g.get("use_noise", True)),
                  map_layers=int((g.get("mapping_kwargs") or {}).get("num_layers", 8)))
    if init.d_kwargs is not None:
        config["mbstd_group"] = init.d_kwargs["mbstd_group_size"]
    log(f"init {config['init']} ({init.format}): {init.resolution} px {g.get('architecture', 'skip')} StyleGAN2, "
        f"{init.c_dim} label dimensions; D " + ("from the file" if init.d_state is not None else "fresh"))
    for note in init.notes:
        log(f"note: {note}")
    return init


def export_snapshot(snapshot: Path, output: Path, console: Console) -> None:
    """Write the G_ema of a training snapshot as a native model file."""
    from .snapshots import load_snapshot
    from .trainer import export_snapshot_model

    _, step = export_snapshot_model(snapshot, output)
    batch = load_snapshot(snapshot)["config"]["batch"]
    size_mb = output.stat().st_size / 2 ** 20
    console.print(f"wrote {output} ({size_mb:.1f} MiB) from step {step} ({step * batch / 1000:.1f} kimg)")


def print_check(model: Path, num_seeds: int, num_reference: int, psi: float, dataset_seed: int,
                console: Console, quiet: bool = False, markdown: bool = False, data: Path | None = None,
                square: str = "crop", fd_images: int = 1000) -> None:
    """Nearest-neighbour and Frechet distances of a model's images to its data set, with baselines."""
    from rich.table import Table

    from .check import COMPARE_SIZE, check_model, frechet_rows, load_model, reference_images, style_change

    if not Path(model).is_file():
        raise WaifuError(f"no model file at {model}")
    if num_seeds < 2 or fd_images < 2:
        raise WaifuError("--seeds and --fd-images: at least 2 images each")
    G, _, _ = load_model(model)
    held = max(num_seeds, fd_images)
    if quiet:
        ref = reference_images(G.img_resolution, num_reference, held, dataset_seed, data, square)
    else:
        with Progress(TextColumn("reading the reference data set"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("ref", total=num_reference if data is None else None)
            ref = reference_images(G.img_resolution, num_reference, held, dataset_seed, data, square,
                                   progress=lambda done: bar.update(task, completed=done))
    rows = check_model(model, num_seeds, num_reference, psi, dataset_seed, reference=ref)
    fd = frechet_rows(model, ref, fd_images, psi)
    styles = style_change(G, psi=psi)
    n_ref = len(ref.images)
    fd_title = (f"Frechet distance to {n_ref} images of {ref.what} on fixed random-conv features "
                "(NOT Inception FID: compare only with other runs of this command)")
    nn_title = (f"distance to the nearest of {n_ref} images of {ref.what} "
                f"(mean |diff| on 0-255, {COMPARE_SIZE}x{COMPARE_SIZE}, {num_seeds} images)")
    if markdown:
        print(f"{nn_title}\n\n| images ({num_seeds}) | mean | median |\n|---|---:|---:|")
        for row in rows:
            print(f"| {row.name} | {row.mean:.2f} | {row.median:.2f} |")
        print(f"\n{fd_title}\n\n| images | n | FD |\n|---|---:|---:|")
        for r in fd:
            print(f"| {r.name} | {r.count} | {r.fd:.3f} |")
        print("\n| `--style` | colour | edges (silhouette) |\n|---|---:|---:|")
        for name, (colour, edges) in styles.items():
            print(f"| {name} | {colour:.2f} | {edges:.2f} |")
        return
    out = Console()
    table = Table(title=f"{model}: {nn_title}")
    for col, justify in (("images", "left"), ("mean", "right"), ("median", "right")):
        table.add_column(col, justify=justify)
    for row in rows:
        table.add_row(row.name, f"{row.mean:.2f}", f"{row.median:.2f}")
    out.print(table)
    table = Table(title=fd_title)
    for col, justify in (("images", "left"), ("n", "right"), ("FD", "right")):
        table.add_column(col, justify=justify)
    for r in fd:
        table.add_row(r.name, str(r.count), f"{r.fd:.3f}")
    out.print(table)
    table = Table(title=f"what each style group moves (seed pairs 2i, 2i+1, i < 20, psi {psi:g}): mean |change| on 0-255")
    for col, justify in (("--style", "left"), ("colour", "right"), ("edges (silhouette)", "right")):
        table.add_column(col, justify=justify)
    for name, (colour, edges) in styles.items():
        table.add_row(name, f"{colour:.2f}", f"{edges:.2f}")
    out.print(table)


def write_figures(model: Path, outdir: Path, psi: float, scale: int, console: Console) -> None:
    """The model card's pictures of `model`, into `outdir`."""
    from .check import load_model
    from .figures import write_card_figures

    if not Path(model).is_file():
        raise WaifuError(f"no model file at {model}")
    G, _, _ = load_model(model)
    for path in write_card_figures(G, Path(outdir), Path(model).stem, psi=psi, scale=scale):
        console.print(f"wrote {path}")
