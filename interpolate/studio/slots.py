"""How the studio's model work is scheduled: one compute thread by priority, a latest-wins slot for frames.

    compute = Compute()                       one worker thread for frames, seeds and figures, by priority
    slot = LatestWins(compute)                at most one frame waits; a newer request replaces it
    result = await slot.submit(fn)            fn's result, or SUPERSEDED when a newer one came first
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from typing import Any, Callable

SUPERSEDED = object()


class Compute:
    """The one thread that runs model calls for the page (the torch work of frames, seeds, figures).

    Work waits in priority order, then arrival: FRAME (scrubbing, planning) before PREVIEW (the frames
    of a playing preview, one per task) before SEED (thumbnails) before FIGURE (the mixing figure), so a page of seed images loading never delays the frame under
    the pointer by more than the one call already running. Work whose request has gone is skipped.
    """

    FRAME, PREVIEW, SEED, FIGURE = 0, 1, 2, 3

    def __init__(self):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._loop, name="waifu-studio-compute", daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[], Any], priority: int = SEED) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((priority, next(self._order), fn, loop, future))
        return await future

    def _loop(self) -> None:
        while True:
            _, _, fn, loop, future = self._queue.get()
            if fn is None:
                return
            if future.done():                      # cancelled: the page no longer waits for it
                continue
            try:
                result, error = fn(), None
            except BaseException as exc:           # handed to the request
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:                   # the loop has closed (shutdown)
                return

    def close(self) -> None:
        self._queue.put((-1, -1, None, None, None))
        self._thread.join(30)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class LatestWins:
    """A single waiting place in front of the compute thread: scrubbing never queues up.

    While one frame is being drawn, the newest request waits; a request that arrives later takes its
    place and the one it replaced is answered SUPERSEDED at once.
    """

    def __init__(self, compute: Compute):
        self.compute = compute
        self._waiting: tuple[Callable[[], Any], asyncio.Future] | None = None
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self.superseded = 0                       # how many requests were replaced (for tests / the bench)

    @property
    def waiting(self) -> bool:
        """Is a request waiting for the compute thread?"""
        return self._waiting is not None and not self._waiting[1].done()

    async def submit(self, fn: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._work())
        if self._waiting is not None and not self._waiting[1].done():
            self._waiting[1].set_result(SUPERSEDED)
            self.superseded += 1
        future = loop.create_future()
        self._waiting = (fn, future)
        self._wake.set()
        return await asyncio.shield(future)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._waiting is None:
                continue
            fn, future = self._waiting
            self._waiting = None
            if future.done():
                continue
            try:
                result = await self.compute.run(fn, Compute.FRAME)
            except BaseException as exc:          # handed to the request
                if not future.done():
                    future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            if not future.done():
                future.set_result(result)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
