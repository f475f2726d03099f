"""Long jobs of the studio (renders, projections): one at a time in arrival order, streamed as NDJSON.

    renders = Renders()
    return stream_job(renders, work)      # work(emit, cancelled) -> dict; events 'queued', 'started',
                                          # whatever work emits ('progress'), then 'done' | 'cancelled' | 'error'

A closed connection (a closed tab, the page's Stop) sets `cancelled`; work checks it and raises
Cancelled, leaving nothing behind (it writes through interpolate/files.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback

from starlette.responses import StreamingResponse

from ..errors import WaifuError
from .engine import Cancelled

MAX_QUEUED_RENDERS = 4                 # jobs waiting (renders and projections together)


class Renders:
    """Jobs (renders and projections), one at a time in arrival order, each in its own thread with a cancel flag."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: list[tuple[threading.Thread, threading.Event]] = []

    def ahead(self) -> int:
        return sum(1 for t, _ in self.jobs if t.is_alive())

    def start(self, work, cancelled: threading.Event, emit) -> None:
        def run() -> None:
            with self.lock:
                if cancelled.is_set():
                    emit({"state": "cancelled"})
                    return
                emit({"state": "started"})
                try:
                    emit({"state": "done", **work()})
                except Cancelled:
                    emit({"state": "cancelled"})
                except WaifuError as err:
                    emit({"state": "error", "error": str(err)})
                except BaseException as exc:      # a bug: say so, keep the server up
                    traceback.print_exc(file=sys.stderr)
                    emit({"state": "error", "error": f"bug: {type(exc).__name__}: {exc}"})

        thread = threading.Thread(target=run, name="waifu-studio-render", daemon=True)
        self.jobs = [(t, c) for t, c in self.jobs if t.is_alive()] + [(thread, cancelled)]
        thread.start()

    def stop_all(self, timeout: float = 30.0) -> None:
        for _, cancelled in self.jobs:
            cancelled.set()
        for thread, _ in self.jobs:
            thread.join(timeout)


def stream_job(renders: Renders, work) -> StreamingResponse:
    """Queue `work(emit, cancelled)` behind the other jobs and stream its events as NDJSON."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue = asyncio.Queue()
    cancelled = threading.Event()

    def emit(event: dict) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    ahead = renders.ahead()
    renders.start(lambda: work(emit, cancelled), cancelled, emit)

    async def lines():
        try:
            if ahead:
                yield json.dumps({"state": "queued", "ahead": ahead}) + "\n"
            while True:
                event = await events.get()
                yield json.dumps(event) + "\n"
                if event["state"] in ("done", "cancelled", "error"):
                    return
        finally:
            cancelled.set()          # a closed tab or a Stop: the job's thread stops and cleans up

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers={"cache-control": "no-store"})
