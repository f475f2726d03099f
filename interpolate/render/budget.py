"""The --max-size search: lower the width, then the frame rate, until the file fits its byte budget.

    parse_bytes('15MB') -> 15_000_000;  fmt_bytes(15_000_000) -> '15.0 MB'
    class XEncoder(SizeBudget, ...):  width, fps, notes = self.within_budget(encode, fps, 'GIF')
"""

from __future__ import annotations

import math

from ..errors import WaifuError
from .ffmpeg import fps_fraction

MIN_BUDGET_WIDTH = 64        # --max-size never shrinks a clip narrower than this
MIN_BUDGET_FPS = 8.0         # ... nor below this frame rate


def parse_bytes(text: str | int | None) -> int | None:
    """'15MB' -> 15_000_000, '800KB', '2.5 MiB', '1GB' (decimal units as upload limits use); None -> None."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return int(text)
    t = str(text).strip().upper().replace(" ", "")
    units = (("GIB", 2**30), ("MIB", 2**20), ("KIB", 2**10), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3),
             ("G", 10**9), ("M", 10**6), ("K", 10**3), ("B", 1), ("", 1))
    for unit, mult in units:
        if t.endswith(unit):
            try:
                value = float(t[: len(t) - len(unit)])
            except ValueError:
                break
            if value > 0 and math.isfinite(value):
                return int(value * mult)
            break
    raise WaifuError(f"--max-size must look like 15MB, 800KB or 2.5MiB, got '{text}'")


def fmt_bytes(n: float) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{int(n)} B"


class SizeBudget:
    """The search over (width, fps) for encoders with `settings.max_bytes`, `width`, `height`."""

    def within_budget(self, encode, fps: float, kind: str) -> tuple[int, float, list[str]]:
        """Call encode(width, fps) -> bytes, lowering width, then fps, until the file fits max_bytes.

        Returns (width, fps, notes). Width shrinks by the square root of the overshoot (at least 10 %,
        at most half) down to MIN_BUDGET_WIDTH, then fps halves (frames dropped) down to MIN_BUDGET_FPS.
        """
        budget = self.settings.max_bytes
        width, cur_fps = self.width, fps
        size = encode(width, cur_fps)
        if budget is None or size <= budget:
            return width, cur_fps, []
        first = size
        for _ in range(24):
            if width > MIN_BUDGET_WIDTH:
                factor = min(0.9, max(0.5, math.sqrt(budget / size) * 0.95))
                width = max(MIN_BUDGET_WIDTH, int(width * factor) // 2 * 2)
            elif cur_fps / 2 >= MIN_BUDGET_FPS:
                cur_fps = cur_fps / 2
            else:
                raise WaifuError(f"the {kind} stays over {fmt_bytes(budget)} ({fmt_bytes(size)}) even at "
                                 f"{width} px wide and {cur_fps:g} fps; shorten the clip (--seconds) or raise --max-size")
            size = encode(width, cur_fps)
            if size <= budget:
                break
        else:
            raise WaifuError(f"the {kind} does not fit {fmt_bytes(budget)}; shorten the clip or raise --max-size")
        changes = []
        if width != self.width:
            changes.append(f"width {self.width} -> {width} px")
        if cur_fps != fps:
            changes.append(f"fps {fps:g} -> {cur_fps:g}")
        return width, cur_fps, [f"--max-size {fmt_bytes(budget)}: {fmt_bytes(first)} was too big; "
                                f"{', '.join(changes)} gives {fmt_bytes(size)}"]

    def height_for(self, width: int) -> int:
        return max(1, round(self.height * width / self.width))

    def budget_filters(self, width: int, out_fps: float) -> list[str]:
        """ffmpeg filters that make a --max-size retry: drop frames to out_fps, then scale to width."""
        filters = []
        if out_fps != float(self.settings.fps):
            filters.append(f"fps={fps_fraction(out_fps)}")
        if width != self.width:
            filters.append(f"scale={width}:-1:flags=lanczos")
        return filters
