"""The CPU thread policy's one setting that must precede `import torch` (so this module never imports it).

torch's OpenMP runtime reads OMP_WAIT_POLICY once, when it is loaded. With the default (spin for a
while before sleeping) an OpenMP team that shares its cores with ffmpeg and the writer thread burns
the cores its descheduled members need; PASSIVE makes waiting members sleep at once. The
`waifu-morph` entry point calls `request_passive_openmp()` first thing; a value the user set wins.
"""

from __future__ import annotations

import os


def request_passive_openmp() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless already set (no effect once torch has been imported)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                   # not Linux
        return max(1, os.cpu_count() or 1)
