"""The streaming renderer: latent path -> device batches -> uint8 frames -> encoder thread -> file.

    main thread                                   writer thread
    ws chunk -> device -> synthesis -> uint8      wait for the batch's copy, then the caller's
    (grid tiled on the device) -> host copy  -->  handle(index, frame): shaping (render/frames.py),
                                                  frame hook, encoder (render/encode.py)
    (non-blocking, pinned) -> next batch          bounded queue: memory stays flat

On a GPU the host copy of batch i (on its own CUDA stream, into pinned memory) and the encoding of
batch i-1 overlap the synthesis of batch i+1. On a CPU both stages share the cores: generation gets
all but one of them while streaming (`cpu_threads`), the encoder the rest. The batch size adapts
(grows while synthesis frames/s improve, halves on out-of-memory) unless it is set.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..errors import WaifuError
from ..images import to_uint8

QUEUE_BATCHES = 3           # batches in flight between the threads (bounds host memory)
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """auto: fp16 on CUDA, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise WaifuError(f"unknown precision '{precision}'; use auto, fp32, fp16 or bf16")
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if precision == "fp16" and device.type == "cpu":
        raise WaifuError("--precision fp16 needs a GPU; on CPU use fp32 or bf16")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def generation_threads() -> int:
    """Torch threads for synthesis while an encoder runs beside it: all usable cores but one.

    An OpenMP team that shares its cores with ffmpeg and the writer thread spin-waits for its
    descheduled members: on the 2-core build machine, 2 torch threads beside the encoder rendered
    chibi-64 2-20x slower than 1. Never more than torch would use by itself.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                   # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cores - 1))


@contextmanager
def cpu_threads(device: torch.device):
    """On a CPU, synthesize with `generation_threads()` inside the block (restored after)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(generation_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --- generation -------------------------------------------------------------------------------------
@dataclass
class Batch:
    start: int
    frames: torch.Tensor                    # [n, H, W, 3] uint8 on the host (maybe still being copied)
    ready: Callable[[], None] | None = None  # wait for the copy

    def numpy(self) -> np.ndarray:
        if self.ready is not None:
            self.ready()
        return self.frames.numpy()


class BatchSizer:
    """Batch size: fixed when set; else start small, grow by `step` while frames/s improve, halve on OOM.

    Each size is timed over at least MEASURE_BATCHES batches and MEASURE_S seconds of synthesis
    alone (not the time spent waiting for the writer: that measures the encoder, which no batch
    size speeds up); one short batch on a shared machine says little. A CPU starts at 1 and steps
    by 4: there a batch can be slower per frame than single frames (StyleGAN2 at 256 px: 1.45
    frames/s at batch 1, 1.0-1.3 at 4 and 8), while small models gain 2x from batch 16.
    """
    MEASURE_BATCHES = 2
    MEASURE_S = 0.2
    GAIN = 1.05                  # a bigger batch must buy this much more frames/s

    def __init__(self, fixed: int | None, device: torch.device, pixels_per_item: int):
        if fixed is not None and (int(fixed) != fixed or fixed < 1):
            raise WaifuError(f"--batch-size must be a whole number >= 1, got {fixed}")
        self.adapt = fixed is None
        if device.type == "cpu":
            self.cap = max(1, min(16, (1 << 20) // max(pixels_per_item, 1)))
            start, self.step = 1, 4
        else:
            self.cap = max(1, min(64, (1 << 24) // max(pixels_per_item, 1)))
            start, self.step = max(1, min(8, self.cap)), 2
        self.size = int(fixed) if fixed is not None else start
        self._rates: dict[int, float] = {}
        self._smaller: int | None = None     # the size measured before this one
        self._seen = 0
        self._frames, self._seconds, self._batches = 0, 0.0, 0     # measured so far at self.size

    def report(self, n: int, seconds: float) -> None:
        """A batch of n frames took `seconds` to synthesize (the first one at each size is warm-up:
        new shapes pick kernels and grow caches, and it is not counted)."""
        self._seen += 1
        if not self.adapt or self._seen < 2 or n < self.size or seconds <= 0:
            return
        self._frames += n
        self._seconds += seconds
        self._batches += 1
        if self._batches < self.MEASURE_BATCHES or self._seconds < self.MEASURE_S:
            return
        rate = self._frames / self._seconds
        self._frames, self._seconds, self._batches = 0, 0.0, 0
        prev = self._rates.get(self._smaller)
        self._rates[self.size] = rate
        if prev is not None and rate < prev * self.GAIN:    # the bigger batch did not pay: go back and stay
            self.size = self._smaller
            self.adapt = False
        elif self.size < self.cap:
            self._smaller, self.size = self.size, min(self.size * self.step, self.cap)
            self._seen = 0
        else:
            self.adapt = False

    def out_of_memory(self) -> None:
        if self.size == 1:
            raise WaifuError("out of memory even one frame at a time; use --device cpu or a smaller --size/--grid")
        self.size //= 2
        self.cap = self.size
        self.adapt = False
        self._frames, self._seconds, self._batches = 0, 0.0, 0


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


class FrameSource:
    """uint8 frames of one or more paths (a grid), synthesized in batches on G's device."""

    def __init__(self, G, paths: Sequence, cols: int = 1, rows: int = 1, precision: str = "auto",
                 batch_size: int | None = None):
        assert len(paths) == cols * rows
        self.G, self.paths, self.cols, self.rows = G, list(paths), cols, rows
        self.num_frames = paths[0].num_frames
        for p in paths:
            if p.num_frames != self.num_frames:
                raise WaifuError(f"the grid cells' paths have {p.num_frames} and {self.num_frames} frames; "
                                 f"give every cell the same number of keys")
        self.device = G.w_avg.device
        self.dtype = resolve_precision(precision, self.device)
        if G.img_channels not in (1, 3, 4):
            raise WaifuError(f"cannot render a {G.img_channels}-channel generator as video")
        self.cell_h, self.cell_w = G.img_height, G.img_width
        self.height, self.width = rows * self.cell_h, cols * self.cell_w
        self.sizer = BatchSizer(batch_size, self.device, self.cell_w * self.cell_h * len(self.paths))
        self.cuda = self.device.type == "cuda"
        self._copy_stream = None             # CUDA: device -> host copies beside the synthesis stream

    def _autocast(self):
        if self.dtype == torch.float32:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _upload(self, t: torch.Tensor) -> torch.Tensor:
        """Host -> device; from pinned memory on CUDA so the copy is truly asynchronous."""
        if self.cuda:
            t = t.pin_memory()
        return t.to(self.device, non_blocking=self.cuda)

    @torch.inference_mode()
    def synthesize(self, start: int, stop: int) -> torch.Tensor:
        """Frames [start, stop) as uint8 [n, H, W, 3] on the device (grid tiled)."""
        chunks = [p.chunk(start, stop) for p in self.paths]
        n = len(chunks[0])
        assert n == stop - start and all(len(c) == n for c in chunks), (start, stop, [len(c) for c in chunks])
        ws = self._upload(torch.cat([c.ws for c in chunks]))
        noise = None
        if chunks[0].noise is not None:
            noise = [self._upload(torch.cat([c.noise[i] for c in chunks])) for i in range(len(chunks[0].noise))]
        with self._autocast():
            img = self.G.synthesis(ws, noise_mode=chunks[0].noise_mode, noise=noise)
        assert img.shape == (n * len(self.paths), self.G.img_channels, self.cell_h, self.cell_w), img.shape
        u8 = to_uint8(img)
        if u8.shape[1] == 1:
            u8 = u8.expand(-1, 3, -1, -1)
        u8 = u8[:, :3]
        # [rows, cols, n, 3, h, w] -> [n, rows, h, cols, w, 3] -> [n, H, W, 3]
        u8 = u8.reshape(self.rows, self.cols, n, 3, self.cell_h, self.cell_w).permute(2, 0, 4, 1, 5, 3)
        return u8.reshape(n, self.height, self.width, 3).contiguous()

    @torch.inference_mode()
    def _to_host(self, start: int, frames: torch.Tensor) -> Batch:
        """Start the copy of a batch to the host; the Batch's `ready` waits for it (in the writer)."""
        if frames.device.type == "cpu":
            return Batch(start, frames)
        if not self.cuda:                    # mps: copies are synchronous
            return Batch(start, frames.cpu())
        if self._copy_stream is None:
            self._copy_stream = torch.cuda.Stream(self.device)
        copy = self._copy_stream
        copy.wait_stream(torch.cuda.current_stream(self.device))     # after the synthesis of this batch
        host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
        with torch.cuda.stream(copy):
            host.copy_(frames, non_blocking=True)
            done = torch.cuda.Event()
            done.record(copy)
        frames.record_stream(copy)           # keep its device memory until the copy has read it
        return Batch(start, host, done.synchronize)

    def batches(self, start: int = 0, stop: int | None = None) -> Iterator[Batch]:
        """Batches in order; the device works on the next one while the caller handles this one."""
        stop = self.num_frames if stop is None else stop
        pos = start
        while pos < stop:
            n = min(self.sizer.size, stop - pos)
            t0 = time.perf_counter()
            oom = False
            try:
                frames = self.synthesize(pos, pos + n)
                if self.cuda and self.sizer.adapt:      # time the device, not the kernel launches
                    torch.cuda.synchronize(self.device)
            except (RuntimeError, torch.OutOfMemoryError) as exc:
                if not _is_oom(exc):
                    raise
                oom = True
            if oom:                          # outside the handler: its traceback holds the batch's tensors
                if self.cuda:
                    torch.cuda.empty_cache()
                self.sizer.out_of_memory()
                continue
            self.sizer.report(n, time.perf_counter() - t0)
            batch = self._to_host(pos, frames)
            del frames
            yield batch
            pos += n


# --- the two threads ----------------------------------------------------------------------------------
class _Stop(Exception):
    pass


class WriterThread(threading.Thread):
    """Takes batches off a bounded queue and hands each frame to `handle(index, frame)`."""

    def __init__(self, handle: Callable[[int, np.ndarray], None], on_batch: Callable[[int], None] | None):
        super().__init__(name="waifu-morph-writer", daemon=True)
        self.q: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
        self.handle, self.on_batch = handle, on_batch
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self.busy_s = 0.0

    def run(self) -> None:
        try:
            while True:
                batch = self.q.get()
                if batch is None:
                    return
                arr = batch.numpy()
                t0 = time.perf_counter()
                for k in range(len(arr)):
                    self.handle(batch.start + k, arr[k])
                self.busy_s += time.perf_counter() - t0
                if self.on_batch is not None:
                    self.on_batch(len(arr))
        except BaseException as exc:     # handed to the main thread
            self.error = exc
            self.failed.set()

    def put(self, batch: Batch | None) -> None:
        while True:
            if self.failed.is_set():
                raise _Stop
            try:
                self.q.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def stop(self) -> None:
        """Unblock and end the thread after an interruption (its encoder has been aborted)."""
        self.failed.set()
        while True:
            try:
                self.q.get_nowait()
            except queue.Empty:
                break
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass
        self.join(timeout=10)


@dataclass
class StreamStats:
    frames: int = 0
    wall_s: float = 0.0
    writer_busy_s: float = 0.0
    batch_size: int = 0


def stream(source: FrameSource, handle: Callable[[int, np.ndarray], None], *, abort: Callable[[], None],
           on_batch: Callable[[int], None] | None = None) -> StreamStats:
    """Run generation (this thread) and `handle` (writer thread) over the whole clip.

    Any error or Ctrl-C calls `abort()` (which must make a blocked `handle` return, e.g. kill ffmpeg)
    before it is re-raised; the writer thread's own errors are re-raised here.
    """
    writer = WriterThread(handle, on_batch)
    t0 = time.perf_counter()
    writer.start()
    try:
        try:
            with cpu_threads(source.device):
                for batch in source.batches():
                    writer.put(batch)
                    del batch                # the queue and the writer hold the only references
            writer.put(None)
        except _Stop:
            pass
        writer.join()
    except BaseException:
        abort()
        writer.stop()
        raise
    if writer.error is not None:
        abort()
        raise writer.error
    return StreamStats(source.num_frames, time.perf_counter() - t0, writer.busy_s, source.sizer.size)


# --- results ------------------------------------------------------------------------------------------
@dataclass
class RenderResult:
    output: str                      # what was written (file, folder or pattern)
    kind: str                        # mp4 | gif | webp | frames
    frames: int
    width: int
    height: int
    fps: float
    duration: float
    bytes: int
    wall_s: float
    notes: list[str] = field(default_factory=list)
    sidecar: str | None = None
    batch_size: int = 0
    size_how: str = ""               # how the size was chosen when not given ('upscaled from 64x64 ...')

    def summary(self) -> str:
        rate = self.frames / self.wall_s if self.wall_s > 0 else math.inf
        from .budget import fmt_bytes

        how = f" ({self.size_how})" if self.size_how else ""
        return (f"wrote {self.output}  {fmt_bytes(self.bytes)}  {self.frames} frames  {self.duration:.2f} s  "
                f"{self.fps:g} fps  {self.width}x{self.height}{how}  in {self.wall_s:.1f} s ({rate:.1f} frames/s)")
