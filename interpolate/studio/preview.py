"""The timeline's low-resolution preview: every k-th planned frame, streamed to the page as it is drawn.

    POST /api/preview {values, start: frame, fps: "auto" | N}  -> NDJSON, one event a line:
        {"state": "plan", "k", "order": [frame indices, in the order they come], "fps" (the path's),
         "preview_fps", "num_frames", "loop", "width", "height"}
        {"state": "frame", "index": i, "rgb": base64 of height*width*3 bytes}     one per index of order
        then {"state": "done"} | {"state": "superseded"} | {"state": "error", "error": "..."}

The frames are the renderer's (Engine.preview_frame: FrameSource, then Geometry down to the preview size
when the model is larger than that). The order starts at `start` and steps by k to the end of the clip
(its last frame included), or once round the clip when the path loops. k: `fps` N gives the path's
fps / N; "auto" times the first frame and takes the smallest k at which drawing keeps up with playback
(at most MAX_PREVIEW_FPS frames a second), so playback on a slow CPU starts at once and never waits.

One preview at a time: a newer preview, or a frame request (a scrub), supersedes the running one
(`Previews.supersede`); a closed connection stops it. Each frame is its own task on the compute thread
at Compute.PREVIEW priority (after scrubbed frames), so a scrub waits at most for the one preview frame
being drawn, and a superseded preview's waiting frame is never drawn.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from typing import Any, Callable

from starlette.responses import StreamingResponse

from ..errors import WaifuError
from .slots import Compute

MAX_PREVIEW_FPS = 12                   # "auto": at most this many preview frames a second
MAX_PREVIEW_FRAMES = 480               # more planned frames than this: a larger k (the page keeps them all)
HEADROOM = 1.25                        # "auto": drawing must be this much faster than playback


def step_for(fps: float, num_frames: int, asked: Any, first_frame_s: float) -> int:
    """k, the step between preview frames, for the page's `fps` ("auto" or preview frames a second)."""
    if asked in (None, "", "auto"):
        k = max(math.ceil(fps / MAX_PREVIEW_FPS), math.ceil(fps * first_frame_s * HEADROOM))
    else:
        try:
            wanted = float(asked)
        except (TypeError, ValueError):
            raise WaifuError(f"preview fps must be 'auto' or a number, got {asked!r}") from None
        if not wanted > 0:
            raise WaifuError(f"preview fps must be > 0, got {asked!r}")
        k = max(1, round(fps / wanted))
    k = max(k, math.ceil(num_frames / MAX_PREVIEW_FRAMES))
    return int(min(max(k, 1), max(num_frames, 1)))


def frame_order(start: int, k: int, num_frames: int, loop: bool) -> list[int]:
    """The planned frames of the preview, in the order they are drawn and played."""
    if loop:
        return [(start + j * k) % num_frames for j in range(math.ceil(num_frames / k))]
    order = list(range(start, num_frames, k))
    if order[-1] != num_frames - 1:
        order.append(num_frames - 1)                 # the clip's end is shown where it stops
    return order


class Ticket:
    """One running preview: stopped by a newer one, by a scrub, or by the app shutting down."""

    def __init__(self):
        self.stopped = asyncio.Event()


class Previews:
    """The one preview that runs, and counters the tests read."""

    def __init__(self, engine, compute: Compute):
        self.engine, self.compute = engine, compute
        self.current: Ticket | None = None
        self.drawn = 0                     # preview frames drawn (a stopped preview draws no more)
        self.running = 0                   # previews whose stream is open
        self.busy = 0                      # preview frames being drawn right now (0 or 1)

    def supersede(self) -> None:
        if self.current is not None:
            self.current.stopped.set()
            self.current = None

    async def _draw(self, ticket: Ticket, fn: Callable[[], Any]) -> Any:
        """fn on the compute thread, or None when the ticket is stopped first (the task is dropped)."""
        task = asyncio.ensure_future(self.compute.run(fn, Compute.PREVIEW))
        stop = asyncio.ensure_future(ticket.stopped.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()              # not started: the compute thread skips it
        if ticket.stopped.is_set() and not task.done():
            return None
        if task.cancelled():
            return None
        return task.result()

    def stream(self, values: dict[str, Any], path: dict[str, Any], start: Any, fps: Any) -> StreamingResponse:
        """The preview of `values` (already planned: `path` is Engine.describe's) as an NDJSON stream."""
        n, loop = int(path["num_frames"]), bool(values.get("loop"))
        try:
            first = min(max(int(start or 0), 0), n - 1)
        except (TypeError, ValueError):
            raise WaifuError("start must be a frame number") from None
        step_for(path["fps"], n, fps, 0.0)                  # a bad fps fails here, before the stream
        self.supersede()
        ticket = self.current = Ticket()
        previews = self

        def timed(index: int):
            def fn():
                previews.busy += 1
                try:
                    t0 = time.perf_counter()
                    frame = previews.engine.preview_frame(values, index)
                    previews.drawn += 1
                    return frame, time.perf_counter() - t0
                finally:
                    previews.busy -= 1
            return fn

        async def events():
            self.running += 1
            try:
                got = await self._draw(ticket, timed(first))
                if got is None:
                    yield _line({"state": "superseded"})
                    return
                frame, seconds = got
                k = step_for(path["fps"], n, fps, seconds)
                order = frame_order(first, k, n, loop)
                yield _line({"state": "plan", "k": k, "order": order, "fps": path["fps"],
                             "preview_fps": path["fps"] / k, "num_frames": n, "loop": loop,
                             "width": int(frame.shape[1]), "height": int(frame.shape[0])})
                yield _frame(first, frame)
                for index in order[1:]:
                    got = await self._draw(ticket, timed(index))
                    if got is None:
                        yield _line({"state": "superseded"})
                        return
                    yield _frame(index, got[0])
                yield _line({"state": "done"})
            except WaifuError as err:          # e.g. a W key file removed meanwhile
                yield _line({"state": "error", "error": str(err)})
            finally:
                self.running -= 1
                if self.current is ticket:
                    self.current = None

        return StreamingResponse(events(), media_type="application/x-ndjson", headers={"cache-control": "no-store"})


def _line(event: dict) -> str:
    return json.dumps(event) + "\n"


def _frame(index: int, frame) -> str:
    return _line({"state": "frame", "index": int(index), "rgb": base64.b64encode(frame.tobytes()).decode("ascii")})
