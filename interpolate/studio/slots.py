"""How the studio's work is scheduled: a latest-wins slot for frames, one render at a time.

    compute = Compute()                       one worker thread for frames, seeds and figures
    slot = LatestWins(compute)                at most one frame waits; a newer request replaces it
    result = await slot.submit(fn)            fn's result, or SUPERSEDED when a newer one came first
    line = RenderLine()                       renders run one after another (first come, first served)
    async with line.turn(on_wait):            on_wait(position) while others are ahead
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

SUPERSEDED = object()


class Compute:
    """The one thread that runs model calls for the page (the torch work of frames, seeds, figures)."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="waifu-studio")

    async def run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


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
                result = await self.compute.run(fn)
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


class RenderLine:
    """One render at a time; the others wait in arrival order and are told their place."""

    def __init__(self):
        self._lock = asyncio.Lock()
        self._waiting = 0

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextlib.asynccontextmanager
    async def turn(self):
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def ahead(self) -> int:
        """Renders running or waiting (what a newcomer would wait for)."""
        return self._waiting + (1 if self._lock.locked() else 0)
