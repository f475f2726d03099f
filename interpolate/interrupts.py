"""Stopping signals: SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, schedulers, systemd) and SIGHUP (a
closed terminal) all stop a command the same way, by raising `Interrupted` (a KeyboardInterrupt), so
every cleanup written for Ctrl-C (remove the temp file, kill ffmpeg, keep an older output) runs for
all three.

    with stopping_signals():         # the CLI, around every command (interpolate/cli/guard.py)
        ...
    with signals_deferred():         # hold a stop while a child process is started and registered
        proc = subprocess.Popen(...)

A signal the process was told to ignore (`nohup` ignores SIGHUP) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


class Interrupted(KeyboardInterrupt):
    """A stopping signal arrived; `signum` says which (exit status 128 + signum, as a shell reports it)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = int(signum)


def _raise(signum, frame):
    raise Interrupted(signum)


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def signal_name(exc: BaseException) -> str:
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stopping_signals():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise Interrupted; the previous handlers come back after."""
    if not _in_main_thread():
        yield
        return
    previous = {}
    for s in STOP_SIGNALS:
        before = signal.getsignal(s)
        if before is signal.SIG_IGN:
            continue
        previous[s] = before
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before if before is not None else signal.SIG_DFL)


@contextmanager
def signals_deferred():
    """Hold SIGINT/SIGTERM/SIGHUP until the block is done, then act on the first one that came: a child
    process started inside is registered before the stop is raised, so it cannot be orphaned (and write
    a file after we cleaned up).

    The handlers are swapped rather than the signals masked: a mask is per thread, and torch's threads
    would still take the signal and have the main thread raise mid-fork."""
    if not _in_main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before if before is not None else signal.SIG_DFL)
        if caught:
            first = caught[0]
            before = previous[first]
            if callable(before):
                before(first, None)          # ours raises Interrupted, Python's SIGINT default KeyboardInterrupt
            elif before is signal.SIG_DFL and first == signal.SIGINT:
                raise KeyboardInterrupt
            elif before is signal.SIG_DFL:
                signal.raise_signal(first)   # the default action (terminate), as if never deferred
