"""The `waifu-morph` command line: parses flags, calls the package, prints one-line errors.

No logic lives here: each command hands its options to the module that does the work.

    app.py        the Typer app, its global --debug, the stderr console
    guard.py      around every command: SIGINT/SIGTERM/SIGHUP clean up like Ctrl-C, WaifuError is one
                  line (exit 2), anything else is a bug report (exit 3)
    drawing.py    info, image, render, mix
    recipes.py    presets, reel, batch
    studio.py     studio (the local web page, interpolate/studio)
    training.py   dataset, train run/export/check/figures
    music.py      beats (the render's --audio flags are in drawing.py)
    latents.py    project, directions
    shards.py     join (the parts of render --shard; the flag itself is in drawing.py)
"""

from __future__ import annotations

import sys

from . import drawing, latents, music, recipes, shards, studio, training  # noqa: F401  (they register their commands on app)
from .app import app, console
from .drawing import _given  # noqa: F401  (tests read the typed-flag detection of render --from)
from .guard import print_error, print_interrupted, stopping_signals
from ..errors import WaifuError
from ..openmp import request_passive_openmp


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors exit 2 (typer), WaifuError one line and 2, a stop
    128 + the signal, a bug one line and 3 (see guard.py; the commands themselves run guarded)."""
    request_passive_openmp()         # before a command imports torch (interpolate/openmp.py says why)
    with stopping_signals():
        try:
            app(args=argv, prog_name="waifu-morph")
        except WaifuError as err:              # raised while parsing, before a command runs
            print_error(err)
            sys.exit(err.exit_code)
        except KeyboardInterrupt as exc:
            sys.exit(print_interrupted(exc))


__all__ = ["app", "console", "main"]
