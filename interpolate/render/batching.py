"""How many frames per synthesis call, and how many torch threads: fixed rules, never timings.

Same command, same machine -> same bytes. Convolutions round differently at different batch sizes
(another algorithm, another blocking), so a batch size chosen from timings made two runs of one
command differ (a GIF palette moved by up to 37 levels). The size is therefore a function of the
device and the frame size only, halved on out-of-memory (which is itself repeatable on one machine).

Rule (measured with the inference fast path; CPU seconds per frame, one thread, 2026-12, a Xeon of
the Sapphire Rapids generation; see bench/bench_official.py for the comparison with NVIDIA's code):
  CPU     small networks (<= 4M synthesis weights, e.g. chibi-64: 0.8M) are call-overhead bound:
          16 frames per call at <= 64x64 px (3.0 ms per frame against 8.4 at batch 1), 4 at <=
          128x128; every other network 1 (StyleGAN2-256: 340 ms at batch 1, 345-386 at 2-16;
          StyleGAN3-T-64: batch 16 is 13 % slower per frame than 1). Never slower than batch 1.
  GPU     as many frames as make about 2^24 pixels (16 at 1024 px), at most 64.

Threads: synthesis on a CPU uses every core the process may run on. The OpenMP team would spin-wait
for members descheduled by ffmpeg and the writer thread (that is why an older rule left a core
idle); instead the `waifu-morph` entry point asks for a passive wait policy (OMP_WAIT_POLICY=PASSIVE,
read once, when torch loads its OpenMP runtime: interpolate/openmp.py), and waiting members
sleep, leaving the cores to whoever has work (the encoder, the writer thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import WaifuError
from ..openmp import usable_cores

if TYPE_CHECKING:
    import torch

CPU_SMALL_NETWORK = 4_000_000                   # synthesis weights
CPU_RULE = ((64 * 64, 16), (128 * 128, 4))      # small networks: (max pixels per frame, batch size)
GPU_PIXELS, GPU_MAX = 1 << 24, 64


def rule_batch_size(device: torch.device, pixels_per_item: int, weights: int = 0) -> int:
    """The batch size for frames of `pixels_per_item` pixels (all grid cells together) on `device`, from a
    network with `weights` synthesis parameters."""
    pixels = max(int(pixels_per_item), 1)
    if device.type == "cpu":
        if weights > CPU_SMALL_NETWORK:
            return 1
        for limit, size in CPU_RULE:
            if pixels <= limit:
                return size
        return 1
    return max(1, min(GPU_MAX, GPU_PIXELS // pixels))


def synthesis_weights(G) -> int:
    """Parameters of G.synthesis (0 where G has no such module, e.g. a test's fake)."""
    params = getattr(getattr(G, "synthesis", None), "parameters", None)
    return sum(p.numel() for p in params()) if callable(params) else 0


class BatchSizer:
    """The batch size: `fixed` when given, else `rule_batch_size`; halves on out-of-memory."""

    adapt = False                # kept for callers that asked whether timings are wanted: they are not

    def __init__(self, fixed: int | None, device: torch.device, pixels_per_item: int, weights: int = 0):
        if fixed is not None and (int(fixed) != fixed or fixed < 1):
            raise WaifuError(f"--batch-size must be a whole number >= 1, got {fixed}")
        self.size = int(fixed) if fixed is not None else rule_batch_size(device, pixels_per_item, weights)
        self.cap = self.size

    def report(self, n: int, seconds: float) -> None:
        """Timings change nothing (see the module docstring); the hook stays for the pipeline's loop."""

    def out_of_memory(self) -> None:
        if self.size == 1:
            raise WaifuError("out of memory even one frame at a time; use --device cpu or a smaller --size/--grid")
        self.size //= 2
        self.cap = self.size


def generation_threads() -> int:
    """Torch threads for synthesis beside the encoder: every usable core (see the module docstring)."""
    return usable_cores()

