"""The trainer's files: the snapshot it resumes from and the model it exports.

  SNAPSHOT_FORMAT   the tag a training snapshot carries (`Trainer.state()` writes it)
  load_snapshot     read a run's snapshot.pt with torch.load(weights_only=True), checked for that tag;
                    a missing or foreign file is a one-line WaifuError
  write_model       the generator as a waifu-morph native checkpoint, written atomically

The snapshot's contents and the export (w_avg re-measured on G_ema) are the trainer's (trainer.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import WaifuError
from ..files import atomic_path
from ..formats.native import save_native

SNAPSHOT_FORMAT = "waifu-morph-train-snapshot"


def write_model(path: Path, G: torch.nn.Module, init_kwargs: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the generator as a waifu-morph native checkpoint (loadable with weights_only=True)."""
    with atomic_path(path) as tmp:
        save_native(tmp, arch="stylegan2", init_kwargs=init_kwargs, state_dict=G.state_dict(), meta=meta)


def load_snapshot(path: Path) -> dict[str, Any]:
    """The state dict a run saved to `path` (on the CPU), checked to be a training snapshot."""
    path = Path(path)
    if not path.is_file():
        raise WaifuError(f"no training snapshot at {path}; pass the snapshot.pt of a run folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise WaifuError(f"{path} is not a readable training snapshot ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
        raise WaifuError(f"{path} is not a waifu-morph training snapshot (for a model file use 'waifu-morph info')")
    return state

