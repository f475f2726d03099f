"""What every command runs inside (one place for the whole CLI):

- SIGINT, SIGTERM and SIGHUP stop it the same way (interpolate/interrupts.py): the cleanup of Ctrl-C
  runs, one line says so, and the exit status is 128 + the signal (130, 143, 129);
- a WaifuError (bad input) is one line on stderr and exit status 2;
- any other exception is a bug: one line that says so and names the file holding the full traceback,
  exit status 3 (`waifu-morph --debug ...` or WAIFU_MORPH_DEBUG=1 shows the traceback instead).
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import WaifuError
from ..interrupts import exit_code, signal_name, stopping_signals

BUG_EXIT = 3
PASS_THROUGH = (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException)

stderr = Console(stderr=True)


def debugging(ctx: click.Context | None = None) -> bool:
    """--debug given, or WAIFU_MORPH_DEBUG set to anything but '', 0 or false."""
    if ctx is not None and ctx.params.get("debug"):
        return True
    return os.environ.get("WAIFU_MORPH_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def print_error(err: WaifuError) -> None:
    stderr.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)


def print_interrupted(exc: BaseException) -> int:
    """The one line after a stop; returns the exit status."""
    how = "interrupted" if exit_code(exc) == 130 else f"interrupted by {signal_name(exc)}"
    stderr.print(f"[bold red]{how}[/]: nothing partial was left behind", highlight=False)
    return exit_code(exc)


def write_bug_report(exc: BaseException) -> str | None:
    """The full traceback in a file under the temp folder; its path (None if even that failed)."""
    import sys

    from ..files import atomic_write

    try:
        from importlib.metadata import version

        ver = version("waifu-morph")
    except Exception:  # noqa: BLE001 (a report must not fail on metadata)
        ver = "unknown"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(tempfile.gettempdir(), f"waifu-morph-bug-{stamp}-{os.getpid()}.txt")
    text = (f"waifu-morph {ver}, Python {sys.version.split()[0]}\ncommand: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(exc)))
    try:
        with atomic_write(path, "w", encoding="utf-8") as f:
            f.write(text)
    except Exception:  # noqa: BLE001
        return None
    return path


def report_bug(exc: BaseException) -> int:
    """One line naming the bug and the traceback file; returns the exit status (3)."""
    path = write_bug_report(exc)
    what = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    where = f"the full traceback is in {path}" if path else "the traceback could not be saved"
    stderr.print(f"[bold red]bug:[/] waifu-morph failed unexpectedly ({escape(what)}); this is a bug in waifu-morph, "
                 f"not in your input: {escape(where)} (or rerun with --debug to see it); please report it",
                 highlight=False, soft_wrap=True)
    return BUG_EXIT


def run_guarded(invoke, ctx: click.Context):
    """Run `invoke(ctx)` with the stops, the one-line errors and the bug report described above."""
    with stopping_signals():
        try:
            return invoke(ctx)
        except PASS_THROUGH:
            raise
        except WaifuError as err:
            print_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt as exc:       # Ctrl-C, SIGTERM, SIGHUP: the cleanup has run on the way here
            raise typer.Exit(print_interrupted(exc)) from None
        except Exception as exc:
            if debugging(ctx):
                raise
            raise typer.Exit(report_bug(exc)) from None


class GuardedGroup(typer.core.TyperGroup):
    """The top-level group: every command (and sub-command) is invoked through run_guarded."""

    def invoke(self, ctx: click.Context):
        return run_guarded(super().invoke, ctx)
