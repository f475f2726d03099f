"""Where a run's real images come from, by step: the procedural chibi set or the user's ImageSet.

Both give `get(step) -> (images float [B, 3, R, R] in [-1, 1], labels float [B, c_dim] or None)` and
depend on nothing but the step, so a resumed run sees exactly the images it would have seen.

  procedural  step k uses images k*B .. k*B+B-1 of data set `dataset_seed` (every image new, no
              epochs); with `workers` > 0 drawn ahead in worker processes (for GPUs)
  folder      an ImageSet (interpolate.train.folder): a permutation per epoch, x-flipped copies
              with --xflip, the dataset.json labels with --cond
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .dataset import chibi_images
from .folder import FolderBatches, ImageSet


def to_float(imgs: np.ndarray) -> torch.Tensor:
    """uint8 [B, R, R, 3] -> float [B, 3, R, R] in [-1, 1]."""
    assert imgs.ndim == 4 and imgs.shape[-1] == 3, imgs.shape
    return torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def real_batch(cfg: Any, step: int) -> torch.Tensor:
    """The procedural real images of `step`: [B, 3, R, R] float in [-1, 1]."""
    return to_float(chibi_images(cfg.dataset_seed, cfg.batch, cfg.resolution, start=step * cfg.batch))


class RealImages:
    """Procedural batches by step; with `workers` > 0, drawn ahead of time in worker processes."""

    c_dim = 0

    def __init__(self, cfg: Any, workers: int = 0, prefetch: int = 8):
        self.cfg, self.prefetch = cfg, prefetch
        self.pool = None
        if workers > 0:
            import multiprocessing

            self.pool = multiprocessing.get_context("spawn").Pool(workers)
        self.pending: dict[int, Any] = {}

    def get(self, step: int) -> tuple[torch.Tensor, None]:
        if self.pool is None:
            return real_batch(self.cfg, step), None
        cfg = self.cfg
        for s in range(step, step + self.prefetch):
            if s not in self.pending:
                self.pending[s] = self.pool.apply_async(chibi_images, (cfg.dataset_seed, cfg.batch, cfg.resolution,
                                                                       s * cfg.batch))
        for s in [s for s in self.pending if s < step]:
            del self.pending[s]
        return to_float(self.pending.pop(step).get()), None

    def random_labels(self, count: int) -> None:
        return None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None


class FolderImages:
    """Batches of the user's images by step."""

    def __init__(self, data: ImageSet, batch: int, seed: int, xflip: bool):
        self.data = data
        self.c_dim = data.c_dim
        self.batches = FolderBatches(data, batch, seed, xflip)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        imgs, labels = self.batches.get(step)
        return to_float(imgs), (torch.from_numpy(labels) if self.c_dim else None)

    def random_labels(self, count: int) -> torch.Tensor | None:
        """Labels of random data-set images (torch's generator: saved in snapshots), None if unconditional."""
        if not self.c_dim:
            return None
        idx = torch.randint(len(self.data.images), (count,)).numpy()
        return torch.from_numpy(self.batches.labels_of(idx))

    def close(self) -> None:
        pass
