"""Checkpoint readers: one per on-disk format, all read as data, never executed.

Each reader turns a file into a `CheckpointData`: which architecture, the constructor kwargs of the
matching class in `interpolate.networks`, and a state dict whose names are that class's names. Readers
know nothing about rendering; networks know nothing about files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class CheckpointData:
    arch: str                          # 'stylegan1' | 'stylegan2' | 'stylegan3'
    init_kwargs: dict[str, Any]        # kwargs for networks.build(arch, **init_kwargs)
    state_dict: dict[str, torch.Tensor]
    format: str                        # human-readable name of the on-disk format
    meta: dict[str, Any] = field(default_factory=dict)  # anything else worth reporting (truncation defaults, training kwargs, ...)
