"""The user's own images as a training set: a folder (recursively) or a zip in the dataset_tool layout.

  sources  a folder: every .png/.jpg/.jpeg/.webp below it (any depth); a .zip: every such member
           (NVIDIA's dataset_tool.py writes 00000/img00000000.png ... and a dataset.json)
  order    files sorted by their relative path (posix '/'), as NVIDIA's ImageFolderDataset does,
           so the same folder gives the same image indices on every machine
  square   'crop': the centred largest square; 'pad': the image centred on a square of its
           border's mean colour (the whole picture kept); then a Lanczos resize to `resolution`
  labels   dataset.json at the root, {"labels": [[relative path, label], ...]}: an integer class
           (one-hot, c_dim = largest class + 1) or a list of floats per image (c_dim = its length)
  bad      files PIL cannot decode are counted and skipped (the caller prints a note); a source with
           no readable image is a one-line WaifuError

Everything is decoded once, into memory, at the training resolution: N x R x R x 3 bytes (10 000
images at 128 px are 0.5 GB). A step's images are drawn without repeats within an epoch (the
permutation of epoch e comes from `default_rng([seed, e])`), so a resumed run sees exactly the
images it would have seen; with `xflip` the set is doubled by mirrored copies (index >= N), as in
NVIDIA's --mirror.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..errors import WaifuError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
SQUARE_MODES = ("crop", "pad")


@dataclass
class ImageSet:
    """Decoded images uint8 [N, R, R, 3], their labels float32 [N, c_dim] (c_dim 0 without labels)."""

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    source: str
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n, r = len(self.images), self.images.shape[1]
        assert self.images.shape == (n, r, r, 3) and self.images.dtype == np.uint8, self.images.shape
        assert self.labels.shape[0] == n and self.labels.ndim == 2, self.labels.shape

    @property
    def c_dim(self) -> int:
        return int(self.labels.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])


def _members(source: Path) -> tuple[list[str], Callable[[str], bytes]]:
    """(sorted relative names of image files, reader of one name's bytes)."""
    if source.is_dir():
        names = sorted(p.relative_to(source).as_posix() for p in source.rglob("*")
                       if p.is_file() and p.suffix.lower() in EXTENSIONS)
        return names, lambda name: (source / name).read_bytes()
    if source.is_file() and zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        names = sorted(n for n in archive.namelist() if Path(n).suffix.lower() in EXTENSIONS and not n.endswith("/"))
        return names, archive.read
    if source.is_file():
        raise WaifuError(f"--data {source}: not a folder or a zip file; pass a folder of images or a dataset_tool zip")
    raise WaifuError(f"--data {source}: no such folder or zip file")


def _read_json(source: Path) -> dict | None:
    try:
        if source.is_dir():
            path = source / "dataset.json"
            return json.loads(path.read_text()) if path.is_file() else None
        with zipfile.ZipFile(source) as archive:
            return json.loads(archive.read("dataset.json")) if "dataset.json" in archive.namelist() else None
    except (ValueError, OSError) as exc:
        raise WaifuError(f"--data {source}: dataset.json is not readable JSON ({exc})") from None


def to_square(img: Image.Image, resolution: int, mode: str = "crop") -> np.ndarray:
    """A PIL image -> uint8 [R, R, 3]: centre-cropped or padded to a square, then Lanczos-resized."""
    img = img.convert("RGB")
    w, h = img.size
    if mode == "crop":
        s = min(w, h)
        img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    elif mode == "pad":
        s = max(w, h)
        a = np.asarray(img)
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).mean(axis=0)
        canvas = Image.new("RGB", (s, s), tuple(int(round(v)) for v in border))
        canvas.paste(img, ((s - w) // 2, (s - h) // 2))
        img = canvas
    else:
        raise WaifuError(f"--square {mode}: use crop or pad")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.LANCZOS)
    out = np.asarray(img, dtype=np.uint8)
    assert out.shape == (resolution, resolution, 3), out.shape
    return out


def _labels(meta: dict | None, names: list[str], source: Path) -> np.ndarray:
    """float32 [N, c_dim] from dataset.json, for the images `names` (in order)."""
    raw = None if meta is None else meta.get("labels")
    if raw is None:
        raise WaifuError(f"--cond: {source} has no labels (a dataset.json with \"labels\": [[file, class], ...] at its root)")
    try:
        table = {str(name): value for name, value in raw}
    except (TypeError, ValueError):
        raise WaifuError(f"--cond: {source}/dataset.json 'labels' is not a list of [file, label] pairs") from None
    missing = [n for n in names if n not in table]
    if missing:
        raise WaifuError(f"--cond: {source}/dataset.json has no label for {missing[0]} ({len(missing)} images unlabelled)")
    values = [table[n] for n in names]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        ints = np.asarray(values, dtype=np.int64)
        if ints.min() < 0:
            raise WaifuError(f"--cond: {source}/dataset.json has a negative class {int(ints.min())}")
        onehot = np.zeros((len(ints), int(ints.max()) + 1), np.float32)
        onehot[np.arange(len(ints)), ints] = 1
        return onehot
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 2:
        raise WaifuError(f"--cond: {source}/dataset.json labels must be all integers (classes) or all equal-length lists of numbers")
    return arr


def load_image_set(source: Path, resolution: int, square: str = "crop", cond: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> ImageSet:
    """Read, square and resize every image of `source`; see the module docstring."""
    source = Path(source)
    if square not in SQUARE_MODES:
        raise WaifuError(f"--square {square}: use crop or pad")
    names, read = _members(source)
    if not names:
        raise WaifuError(f"--data {source}: no .png, .jpg or .webp images in it; point --data at a folder of pictures")
    images, kept, skipped = [], [], []
    for i, name in enumerate(names):
        try:
            with Image.open(io.BytesIO(read(name))) as img:
                images.append(to_square(img, resolution, square))
            kept.append(name)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            skipped.append(name)
        if progress is not None:
            progress(i + 1, len(names))
    if not kept:
        raise WaifuError(f"--data {source}: none of its {len(names)} image files could be read (e.g. {skipped[0]})")
    labels = _labels(_read_json(source), kept, source) if cond else np.zeros((len(kept), 0), np.float32)
    return ImageSet(np.stack(images), labels, kept, str(source), skipped)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


class FolderBatches:
    """Real batches of an ImageSet by step: (uint8 [B, R, R, 3], labels float32 [B, c_dim])."""

    def __init__(self, data: ImageSet, batch: int, seed: int, xflip: bool = False):
        self.data, self.batch, self.seed, self.xflip = data, batch, seed, xflip
        self.n = len(data.images) * (2 if xflip else 1)
        self._orders: dict[int, np.ndarray] = {}

    def indices(self, step: int) -> np.ndarray:
        out = np.empty(self.batch, np.int64)
        for j in range(self.batch):
            i = step * self.batch + j
            epoch = i // self.n
            if epoch not in self._orders:
                self._orders = {epoch: epoch_order(self.seed, epoch, self.n)}
            out[j] = self._orders[epoch][i % self.n]
        return out

    def get(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.indices(step)
        n = len(self.data.images)
        imgs = self.data.images[idx % n]
        flip = idx >= n
        if flip.any():
            imgs = imgs.copy()
            imgs[flip] = imgs[flip][:, :, ::-1]
        return imgs, self.data.labels[idx % n]

    def labels_of(self, index: np.ndarray) -> np.ndarray:
        """Labels of images `index` (the trainer conditions G on random data-set labels, as NVIDIA's loop)."""
        return self.data.labels[np.asarray(index) % len(self.data.images)]
