"""The streaming pipeline (interpolate/render/pipeline.py): order, bounds, out-of-memory, errors, precision.

The generators here are fakes whose frame k is the number k in every pixel, so a dropped, repeated or
reordered frame shows; one small real StyleGAN2 checks the frames against G.synthesis directly.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from interpolate.errors import WaifuError
from interpolate.paths.path import Frames
from interpolate.render.pipeline import (QUEUE_BATCHES, BatchSizer, FrameSource, cpu_threads, generation_threads,
                                         resolve_precision, stream)

WAIT_S = 20       # deadlock guard for the blocking fakes (never reached when the pipeline is right)


class IndexPath:
    """LatentPath surface: frame k has ws[:, 0, 0] == k."""

    fps = 30.0

    def __init__(self, num_frames: int, num_ws: int = 2, w_dim: int = 3):
        self.num_frames, self.num_ws, self.w_dim = num_frames, num_ws, w_dim

    def chunk(self, start: int, stop: int) -> Frames:
        stop = min(stop, self.num_frames)
        ws = torch.zeros(stop - start, self.num_ws, self.w_dim)
        ws[:, 0, 0] = torch.arange(start, stop, dtype=torch.float32)
        return Frames(start, ws, None, "const")


class IndexGenerator(torch.nn.Module):
    """Frame with ws[:, 0, 0] == k comes out as uint8 (k, 255 - k, 7) in every pixel.

    `calls` logs each synthesis batch size; `on_call(n)` may raise (out of memory, a failure).
    """

    img_channels, img_height, img_width, num_ws, w_dim = 3, 4, 6, 2, 3

    def __init__(self, on_call=None):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(self.w_dim))
        self.calls: list[int] = []
        self.on_call = on_call

    def synthesis(self, ws, noise_mode="const", noise=None):
        n = ws.shape[0]
        if self.on_call is not None:
            self.on_call(n)
        self.calls.append(n)
        k = ws[:, 0, 0].view(n, 1, 1, 1)
        rgb = torch.cat([k, 255 - k, torch.full_like(k, 7)], dim=1)
        return ((rgb - 127.5) / 127.5).expand(n, 3, self.img_height, self.img_width)


def collect(source: FrameSource) -> tuple[list[int], np.ndarray]:
    """Stream the whole clip; (indices handed to the writer, frames) in the order they arrived."""
    indices, frames = [], []

    def handle(index, frame):
        indices.append(index)
        frames.append(frame.copy())

    stream(source, handle, abort=lambda: None)
    return indices, np.stack(frames)


def expected_index_frames(n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.uint8)
    px = np.stack([k, 255 - k, np.full_like(k, 7)], axis=1)
    return np.broadcast_to(px[:, None, None, :], (n, 4, 6, 3))


# --- order -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 3, 7, 23, 64])
def test_every_frame_once_in_order_across_batch_boundaries(batch_size):
    G = IndexGenerator()
    indices, frames = collect(FrameSource(G, [IndexPath(23)], batch_size=batch_size))
    assert indices == list(range(23))
    np.testing.assert_array_equal(frames, expected_index_frames(23))
    assert sum(G.calls) == 23 and max(G.calls) <= batch_size


def test_grid_cells_tile_in_place():
    """A 2x1 grid: the left cell shows path 0, the right cell path 1 (here offset by 100 frames)."""

    class Offset(IndexPath):
        def chunk(self, start, stop):
            f = super().chunk(start, stop)
            f.ws[:, 0, 0] += 100
            return f

    _, frames = collect(FrameSource(IndexGenerator(), [IndexPath(5), Offset(5)], cols=2, rows=1, batch_size=2))
    assert frames.shape == (5, 4, 12, 3)
    np.testing.assert_array_equal(frames[:, :, :6, 0], np.arange(5)[:, None, None] + np.zeros((5, 4, 6)))
    np.testing.assert_array_equal(frames[:, :, 6:, 0], np.arange(100, 105)[:, None, None] + np.zeros((5, 4, 6)))


def small_stylegan2():
    from interpolate.networks import build

    torch.manual_seed(1)
    G = build("stylegan2", z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64,
              channel_max=16, mapping_kwargs={"num_layers": 2})
    return G.eval().requires_grad_(False)


def test_streamed_frames_equal_direct_synthesis_of_the_path_ws():
    from interpolate.options import RenderOptions
    from interpolate.paths import plan_path

    G = small_stylegan2()
    path = plan_path(G, RenderOptions(keys=["1", "2", "3"], frames=5, fps=10))
    n = path.num_frames
    indices, frames = collect(FrameSource(G, [path], batch_size=3))
    with torch.inference_mode():
        img = G.synthesis(path.chunk(0, n).ws, noise_mode="const")
    direct = (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert indices == list(range(n)) and frames.shape == (n, 16, 16, 3)
    assert direct.std() > 1                  # the frames differ from each other and within
    diff = np.abs(frames.astype(int) - direct.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3     # batch size 3 vs n may round a pixel differently


# --- bounded memory ----------------------------------------------------------------------------------
def test_batches_in_flight_never_exceed_the_queue_bound():
    """A writer that waits until the generator is as far ahead as it may get: the bound is reached, never passed.

    In flight = synthesized and not yet fully written: the queue's QUEUE_BATCHES, the one the writer
    holds, and the one the generator is trying to put.
    """
    limit = QUEUE_BATCHES + 2
    made, written, peak = [0], [0], [0]
    cond = threading.Condition()

    def on_call(n):
        with cond:
            assert made[0] - written[0] < limit, "the generator ran ahead of the bound"
            made[0] += 1
            peak[0] = max(peak[0], made[0] - written[0])
            cond.notify_all()

    G = IndexGenerator(on_call)
    num_batches = 20
    source = FrameSource(G, [IndexPath(2 * num_batches)], batch_size=2)

    def handle(index, frame):
        if index % 2 == 0:                   # first frame of a batch: let the generator fill everything
            with cond:
                assert cond.wait_for(lambda: made[0] - written[0] >= limit or made[0] == num_batches, WAIT_S)
        else:
            with cond:
                written[0] += 1
                cond.notify_all()

    stream(source, handle, abort=lambda: None)
    assert peak[0] == limit and written[0] == num_batches


# --- out of memory -----------------------------------------------------------------------------------
def test_out_of_memory_halves_the_batch_and_the_frames_are_the_same():
    def oom_over_4(n):
        if n > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    G = IndexGenerator(oom_over_4)
    source = FrameSource(G, [IndexPath(19)], batch_size=16)
    indices, frames = collect(source)
    assert indices == list(range(19))
    np.testing.assert_array_equal(frames, expected_index_frames(19))
    assert source.sizer.size == 4 and G.calls == [4, 4, 4, 4, 3]


def test_out_of_memory_at_one_frame_is_a_one_line_error():
    def always(n):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(WaifuError, match="out of memory even one frame at a time"):
        collect(FrameSource(IndexGenerator(always), [IndexPath(5)], batch_size=2))


def test_other_generator_errors_propagate_and_abort_the_encoder():
    def fail_third(n):
        if len(G.calls) == 2:
            raise RuntimeError("shape mismatch somewhere")

    G = IndexGenerator(fail_third)
    aborted = []
    with pytest.raises(RuntimeError, match="shape mismatch"):
        stream(FrameSource(G, [IndexPath(20)], batch_size=2), lambda i, f: None, abort=lambda: aborted.append(1))
    assert aborted and not any(t.name == "waifu-morph-writer" and t.is_alive() for t in threading.enumerate())


# --- writer errors -----------------------------------------------------------------------------------
def test_writer_error_surfaces_as_itself_and_stops_generation():
    boom = ValueError("encoder exploded")
    calls_at_failure = []

    def handle(index, frame):
        if index == 9:
            calls_at_failure.append(len(G.calls))
            raise boom

    G = IndexGenerator()
    aborted = []
    with pytest.raises(ValueError) as info:
        stream(FrameSource(G, [IndexPath(400)], batch_size=2), handle, abort=lambda: aborted.append(1))
    assert info.value is boom and aborted
    # at most the batch being synthesized when the writer failed is finished; nothing after it
    assert len(G.calls) <= calls_at_failure[0] + 1 < 400 // 2


# --- batch size --------------------------------------------------------------------------------------
def test_batch_size_is_a_rule_of_device_and_frame_size_not_of_timings():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert BatchSizer(None, cpu, 64 * 64).size == 16
    assert BatchSizer(None, cpu, 128 * 128).size == 4
    assert BatchSizer(None, cpu, 256 * 256).size == 1
    assert BatchSizer(None, cpu, 3 * 64 * 64).size == 4          # a 3x1 grid of 64 px cells: 192x64 px
    assert BatchSizer(None, cpu, 64 * 64, weights=20_000_000).size == 1   # a big network: one at a time
    assert BatchSizer(None, cuda, 1024 * 1024).size == 16
    assert BatchSizer(None, cuda, 64 * 64).size == 64
    s = BatchSizer(None, cpu, 64 * 64)
    for n, sec in [(16, 9.0), (16, 0.01), (16, 50.0), (16, 0.2)]:   # wild timings change nothing
        s.report(n, sec)
    assert s.size == 16 and not s.adapt


def test_batch_sizer_fixed_and_bad_sizes():
    s = BatchSizer(5, torch.device("cpu"), 16)
    for _ in range(5):
        s.report(5, 0.01)
    assert s.size == 5
    with pytest.raises(WaifuError, match="--batch-size"):
        BatchSizer(0, torch.device("cpu"), 16)


# --- precision and threads ---------------------------------------------------------------------------
def test_precision_resolution():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu) == torch.float32
    assert resolve_precision("auto", cuda) == torch.float16
    assert resolve_precision("bf16", cpu) == torch.bfloat16
    assert resolve_precision("fp32", cuda) == torch.float32
    with pytest.raises(WaifuError, match="fp16 needs a GPU"):
        resolve_precision("fp16", cpu)
    with pytest.raises(WaifuError, match="unknown precision"):
        resolve_precision("fp64", cpu)
    assert FrameSource(IndexGenerator(), [IndexPath(3)]).dtype == torch.float32


def test_cpu_threads_use_every_core_and_are_restored():
    before = torch.get_num_threads()
    with cpu_threads(torch.device("cpu")):
        assert torch.get_num_threads() == generation_threads() == len(os.sched_getaffinity(0))
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_stream_matches_cpu():
    G = IndexGenerator()
    _, cpu = collect(FrameSource(G, [IndexPath(37)], batch_size=5))
    _, gpu = collect(FrameSource(IndexGenerator().cuda(), [IndexPath(37)], batch_size=5, precision="fp32"))
    np.testing.assert_array_equal(cpu, gpu)
