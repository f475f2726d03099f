"""The streaming renderer: latent path -> device batches -> uint8 frames -> encoder thread -> file.

    main thread                                   writer thread
    ws chunk -> device -> synthesis -> uint8      wait for the batch's copy, then the caller's
    (grid tiled on the device; on CUDA also       handle(index, frame): shaping unless done
    resized/padded/cropped: render/shaping.py)    (render/frames.py), captions, frame hook,
    -> host copy (non-blocking, pinned)      -->  encoder (render/encode.py)
    -> next batch                                 bounded queue: memory stays flat

On a GPU the host copy of batch i (on its own CUDA stream, into pinned memory) and the encoding of
batch i-1 overlap the synthesis of batch i+1. On a CPU both stages share the cores: generation gets
all of them (`cpu_threads`; OpenMP waits passively, see render/batching.py). The batch size follows
a fixed rule per device and frame size (render/batching.py: same command, same bytes), halved on
out-of-memory, unless it is set.
"""

from __future__ import annotations

import math
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
from .batching import BatchSizer, generation_threads, synthesis_weights  # noqa: F401  (BatchSizer re-exported)

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


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


class FrameSource:
    """uint8 frames of one or more paths (a grid), synthesized in batches on G's device."""

    def __init__(self, G, paths: Sequence, cols: int = 1, rows: int = 1, precision: str = "auto",
                 batch_size: int | None = None, span: tuple[int, int] | None = None):
        assert len(paths) == cols * rows
        self.G, self.paths, self.cols, self.rows = G, list(paths), cols, rows
        self.total = paths[0].num_frames
        for p in paths:
            if p.num_frames != self.total:
                raise WaifuError(f"the grid cells' paths have {p.num_frames} and {self.total} frames; "
                                 f"give every cell the same number of keys")
        # span: only frames [a, b) of the paths (a shard, render/shards.py), numbered from 0, each
        # synthesized in the same batch as in a render of the whole clip (so the same bits)
        self.span = span
        self.offset = span[0] if span else 0
        self.num_frames = span[1] - span[0] if span else self.total
        assert 0 <= self.offset <= self.offset + self.num_frames <= self.total, (span, self.total)
        self.device = G.w_avg.device
        self.dtype = resolve_precision(precision, self.device)
        if G.img_channels not in (1, 3, 4):
            raise WaifuError(f"cannot render a {G.img_channels}-channel generator as video")
        self.cell_h, self.cell_w = G.img_height, G.img_width
        self.height, self.width = rows * self.cell_h, cols * self.cell_w
        self.sizer = BatchSizer(batch_size, self.device, self.cell_w * self.cell_h * len(self.paths),
                                synthesis_weights(G))
        self.cuda = self.device.type == "cuda"
        self._copy_stream = None             # CUDA: device -> host copies beside the synthesis stream
        self.shaper = None                   # frames -> output frames on the device (shape_on_device)

    def shape_on_device(self, geometry) -> bool:
        """Resize/pad/crop each batch on the device before the host copy when render/shaping.py's fixed
        rule says so (CUDA); True if it will (then the caller must not shape the frames again)."""
        from .shaping import DeviceShaper, shaping_place

        assert (geometry.src_w, geometry.src_h) == (self.width, self.height), (geometry, self.width, self.height)
        if shaping_place(self.device, geometry) != "device":
            return False
        self.shaper = DeviceShaper(geometry, self.device)
        return True

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
        chunks = [p.chunk(start + self.offset, stop + self.offset) for p in self.paths]
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
            lo, hi = pos, pos + n                  # what is synthesized: with a span, the whole-clip batch
            if self.span is not None:
                size = self.sizer.size
                lo = (pos + self.offset) // size * size - self.offset
                hi = min(lo + size, self.total - self.offset)
                n = min(hi, stop) - pos
            t0 = time.perf_counter()
            oom = False
            try:
                frames = self.synthesize(lo, hi)
                if (lo, hi) != (pos, pos + n):
                    frames = frames[pos - lo:pos - lo + n].contiguous()
                if self.shaper is not None:
                    frames = self.shaper(frames)
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
    encoder: str = ""                # MP4: ffmpeg's video encoder (libx264, h264_nvenc, ...)

    def summary(self) -> str:
        rate = self.frames / self.wall_s if self.wall_s > 0 else math.inf
        from .budget import fmt_bytes

        how = f" ({self.size_how})" if self.size_how else ""
        enc = f"  {self.encoder}" if self.encoder else ""
        return (f"wrote {self.output}  {fmt_bytes(self.bytes)}  {self.frames} frames  {self.duration:.2f} s  "
                f"{self.fps:g} fps  {self.width}x{self.height}{how}{enc}  in {self.wall_s:.1f} s ({rate:.1f} frames/s)")
