"""Noise inputs per frame: const, none, random (fresh per frame, reproducible) or smooth (drifting).

`smooth` gives every noise input a field that drifts continuously and stays N(0, 1) per pixel:

    n(t) = sum_j [cos(w_j t + phase_j) A_j + sin(w_j t + phase_j) B_j] / sqrt(J)

with A_j, B_j independent N(0, 1) fields, so cos^2 + sin^2 = 1 keeps the variance at exactly 1 at every
t. The base rate is `drift` cycles per second; the J components run at incommensurate multiples of it
(1, golden ratio, its square). When the path loops, every component makes a whole number of cycles
over the loop, so the noise loops with it.

Every frame's noise is a function of (seed, frame index) only, never of how frames are batched, so
chunked renders and replays are bit for bit identical.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import WaifuError

NOISE_MODES = ("const", "random", "none", "smooth")
SMOOTH_RATIOS = (1.0, (1 + 5 ** 0.5) / 2, ((1 + 5 ** 0.5) / 2) ** 2)


class NoiseSchedule:
    def __init__(self, mode: str, seed: int, shapes, fps: float, num_frames: int, loop: bool,
                 drift: float = 0.25):
        if mode not in NOISE_MODES:
            raise WaifuError(f"unknown noise mode '{mode}'; use one of {', '.join(NOISE_MODES)}")
        self.mode = mode
        self.seed = int(seed)
        self.shapes = tuple(tuple(int(x) for x in s) for s in shapes)
        self.fps = float(fps)
        self.num_frames = int(num_frames)
        self.loop = bool(loop)
        self.drift = float(drift)
        self._fields: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.omegas = self._omegas() if mode == "smooth" else ()

    @property
    def synthesis_mode(self) -> str:
        """The noise_mode to hand to G.synthesis (ignored by it whenever explicit noise is given)."""
        return {"const": "const", "none": "none", "random": "random", "smooth": "const"}[self.mode]

    @property
    def explicit(self) -> bool:
        return self.mode in ("random", "smooth") and len(self.shapes) > 0

    def _omegas(self) -> tuple[float, ...]:
        """Angular speed of each smooth component, in radians per frame."""
        per_frame = [self.drift * r / self.fps for r in SMOOTH_RATIOS]   # cycles per frame
        if not self.loop or self.drift == 0:
            return tuple(2 * math.pi * c for c in per_frame)
        cycles, used = [], 0
        for c in per_frame:   # whole, distinct cycle counts over the loop
            k = max(int(round(c * self.num_frames)), used + 1)
            cycles.append(k)
            used = k
        return tuple(2 * math.pi * k / self.num_frames for k in cycles)

    def _smooth_fields(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._fields is None:
            gen = torch.Generator().manual_seed(self.seed)
            J = len(SMOOTH_RATIOS)
            self._phases = (torch.rand(J, generator=gen, dtype=torch.float64) * 2 * math.pi).tolist()
            self._fields = [(torch.randn(J, 1, h, w, generator=gen), torch.randn(J, 1, h, w, generator=gen))
                            for h, w in self.shapes]
        return self._fields

    def frame(self, index: int) -> list[torch.Tensor]:
        """Noise tensors [1, 1, H, W] of one frame (for the explicit modes)."""
        if self.mode == "random":
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, int(index)]).generate_state(1)[0]))
            return [torch.randn(1, 1, h, w, generator=gen) for h, w in self.shapes]
        fields = self._smooth_fields()
        J = len(self.omegas)
        angles = [w * float(index) + p for w, p in zip(self.omegas, self._phases)]
        cos = [math.cos(a) / math.sqrt(J) for a in angles]
        sin = [math.sin(a) / math.sqrt(J) for a in angles]
        out = []
        for A, B in fields:
            acc = torch.zeros_like(A[0])
            for j in range(J):
                acc = acc + A[j] * cos[j]
                acc = acc + B[j] * sin[j]
            out.append(acc[None])
        return out

    def frames(self, start: int, stop: int) -> list[torch.Tensor] | None:
        """Noise for frames [start, stop): a list (one per noise input) of [n, 1, H, W], or None."""
        if not self.explicit:
            return None
        per_frame = [self.frame(i) for i in range(start, stop)]
        return [torch.cat([f[k] for f in per_frame]) for k in range(len(self.shapes))]

    def params(self) -> dict:
        return {"mode": self.mode, "seed": self.seed, "shapes": [list(s) for s in self.shapes],
                "fps": self.fps, "num_frames": self.num_frames, "loop": self.loop, "drift": self.drift}

    @classmethod
    def from_params(cls, p: dict) -> "NoiseSchedule":
        return cls(p["mode"], p["seed"], p["shapes"], p["fps"], p["num_frames"], p["loop"], p["drift"])
