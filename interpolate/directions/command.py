"""`waifu-morph directions`: find directions (SeFa or from example seeds), write dirs.npz and the sheet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import WaifuError
from ..seeds import parse_seeds


def run_directions(checkpoint: str | None, *, output: Path, style: str, layers: str | None, count: int | None,
                   from_seeds: str | None, against: str | None, label: str | None, sheet: Path | None,
                   class_idx: int | None = None,
                   sheet_rows: int, sheet_seeds: str, strength: float, columns: int, psi: float | None,
                   cell: int | None = None, overwrite: bool, device: str, quiet: bool, console: Any) -> list[Path]:
    from ..device import pick_device
    from ..loading import load_generator
    from ..render.video import default_checkpoint
    from . import from_examples, sefa

    if output.suffix.lower() != ".npz":
        raise WaifuError(f"-o must name a .npz file, got '{output.name}'")
    if sheet is not None and sheet.suffix.lower() != ".png":
        raise WaifuError(f"--sheet must be a .png file, got '{sheet.name}'")
    for path in (output, sheet):
        if path is not None and path.exists() and not overwrite:
            raise WaifuError(f"'{path}' exists; pass --overwrite to replace it")
    if (from_seeds is None) != (against is None):
        raise WaifuError("--from-seeds and --against go together: the seeds that show it and those that do not")
    if not (strength > 0 and strength == strength and strength != float("inf")):
        raise WaifuError(f"--strength must be a number > 0 (the sheet runs from -strength to +strength), got {strength}")
    if cell is not None and not 16 <= cell <= 1024:
        raise WaifuError(f"--cell must be 16 to 1024 pixels, got {cell}")
    if sheet_rows < 1:
        raise WaifuError(f"--sheet-rows must be at least 1, got {sheet_rows}")
    seeds_for_sheet = parse_seeds(sheet_seeds)
    if not seeds_for_sheet:
        raise WaifuError("--sheet-seeds is empty; pass e.g. --sheet-seeds 0,1,2")
    G = load_generator(checkpoint or default_checkpoint(), device=pick_device(device))
    chosen = layers if layers else style
    started = time.perf_counter()
    if from_seeds is not None:
        dirs = from_examples(G, parse_seeds(from_seeds), parse_seeds(against), chosen, class_idx=class_idx, label=label)
    else:
        dirs = sefa(G, chosen, count)
    seconds = time.perf_counter() - started
    rows = list(range(min(sheet_rows, len(dirs))))
    dirs.save(output)
    written = [output]
    if sheet is not None:
        from .sheet import draw_sheet

        written.append(draw_sheet(G, dirs, sheet, rows, seeds_for_sheet, strength, columns, psi, cell))
    if not quiet:
        from ..paths.styles import format_layers

        what = "from examples" if dirs.method == "examples" else "by SeFa"
        console.print(f"{len(dirs)} direction(s) {what} on ws {format_layers(list(dirs.layers))} in {seconds:.2f} s; "
                      f"wrote {', '.join(str(p) for p in written)}", highlight=False, soft_wrap=True)
        console.print(f"walk one: waifu-morph render --direction {output}:0 --strength -3:3 --seeds 0", highlight=False,
                      soft_wrap=True)
    return written
