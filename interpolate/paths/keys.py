"""Keyframes: seeds, W files and W values in memory, in order, optionally shuffled.

A key entry is a seed (17, '17'), a seed list or range ('3,17,42', '0-9'), a W file, or a W value held
in memory (numpy or torch, [w_dim], [num_ws, w_dim] or [N, num_ws, w_dim]; wrap it as
`WKey(w, label)` to name it, a bare array is labelled 'w0', 'w1', ... by its position). W files:
    .npz with key 'w' (NVIDIA's projector writes projected_w.npz, w [1, num_ws, w_dim]),
    .npy / .npz arrays of shape [w_dim] (one w for every layer), [num_ws, w_dim] or [N, num_ws, w_dim]
    (N keys, in order). Files are read with allow_pickle=False.
Seeds become z exactly as NVIDIA's scripts do and are mapped to W untruncated (psi is applied later,
in W, by the path).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import WaifuError
from ..files import NUMPY_READ_ERRORS
from ..seeds import parse_seeds, z_from_seed

W_SUFFIXES = (".npy", ".npz")


@dataclass(frozen=True, eq=False)
class WKey:
    """A W value held in memory, with the label shown for it (captions, sidecars)."""
    w: Any                      # numpy or torch: [w_dim], [num_ws, w_dim] or [N, num_ws, w_dim]
    label: str = "w"


@dataclass(frozen=True, eq=False)
class KeySource:
    """One keyframe before the network is known: a seed, (a row of) a W file, or an in-memory W."""
    seed: int | None = None
    path: str | None = None
    w: Any = None               # in-memory W (numpy array), any accepted shape
    name: str | None = None     # label of an in-memory W

    @property
    def label(self) -> str:
        if self.seed is not None:
            return str(self.seed)
        return self.name if self.w is not None else os.path.basename(self.path)

    @property
    def token(self) -> str:
        """How the sidecar records this key: the seed, the file as given, or the W's label."""
        return str(self.seed) if self.seed is not None else (self.name if self.w is not None else self.path)


@dataclass
class Key:
    label: str
    seed: int | None
    w: np.ndarray               # [num_ws, w_dim] float64 (values of float32), untruncated
    z: np.ndarray | None        # [z_dim] float64 for seed keys


def _looks_like_file(token: str) -> bool:
    return token.lower().endswith(W_SUFFIXES) or os.sep in token or os.path.isfile(token)


def _as_numpy(w) -> np.ndarray:
    if isinstance(w, torch.Tensor):
        return w.detach().float().cpu().numpy() if w.dtype in (torch.float16, torch.bfloat16) else w.detach().cpu().numpy()
    return np.asarray(w)


def parse_keys(items) -> list[KeySource]:
    """['3,17', 'proj.npz', '0-2', w_array, WKey(w, 'me')] -> KeySources in order; files are checked to exist."""
    if isinstance(items, (str, int, os.PathLike, np.ndarray, torch.Tensor, WKey)):
        items = [items]
    sources: list[KeySource] = []
    arrays = 0
    for item in items:
        if isinstance(item, (np.ndarray, torch.Tensor, WKey)):
            w, name = (item.w, str(item.label)) if isinstance(item, WKey) else (item, f"w{arrays}")
            arrays += 1
            sources.append(KeySource(w=_as_numpy(w), name=name))
            continue
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if isinstance(item, bool) or not isinstance(item, (str, int, np.integer)):
            raise WaifuError(f"a key must be a seed, a W file or a W array; got {type(item).__name__}")
        for token in str(item).split(","):
            token = token.strip()
            if not token:
                continue
            if _looks_like_file(token):
                if not os.path.isfile(token):
                    raise WaifuError(f"W file '{token}' not found; check the path (keys are seeds or .npy/.npz files)")
                sources.append(KeySource(path=token))
            else:
                sources.extend(KeySource(seed=s) for s in parse_seeds(token))
    if not sources:
        raise WaifuError("no keyframes given; pass seeds (--seeds 3,17,42) and/or W files (.npy/.npz)")
    return sources


def key_record(items) -> list:
    """The keys as the sidecar records them: seeds and files as given, in-memory W values by label."""
    if isinstance(items, (str, int, os.PathLike, np.ndarray, torch.Tensor, WKey)):
        items = [items]
    out, arrays = [], 0
    for item in items:
        if isinstance(item, WKey):
            out.append(str(item.label))
        elif isinstance(item, (np.ndarray, torch.Tensor)):
            out.append(f"w{arrays}")
        else:
            out.append(os.fspath(item) if isinstance(item, os.PathLike) else item)
        arrays += isinstance(item, (np.ndarray, torch.Tensor, WKey))
    return out


def shuffle_keys(sources: list, shuffle_seed: int | None) -> list:
    """Permute keys reproducibly (numpy RandomState(shuffle_seed)); None leaves the order alone."""
    if shuffle_seed is None:
        return list(sources)
    order = np.random.RandomState(int(shuffle_seed)).permutation(len(sources))
    return [sources[i] for i in order]


def read_w_file(path: str, num_ws: int, w_dim: int) -> np.ndarray:
    """Read a W file -> [N, num_ws, w_dim] float64; one-line errors for every way it can be wrong."""
    name = os.path.basename(path)
    _check_numpy_file(path, name)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            arr = data
        else:
            with data:
                names = list(data.keys())
                if "w" in names:
                    arr = data["w"]
                elif len(names) == 1:
                    arr = data[names[0]]
                else:
                    raise WaifuError(f"W file '{name}' holds arrays {names} but no 'w'; save the latent as key 'w' "
                                     f"(np.savez(path, w=w), as NVIDIA's projector does)")
    except WaifuError:
        raise
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise WaifuError(f"W file '{name}' contains Python objects, which are never loaded; "
                             f"save a plain float array (np.save / np.savez with w=...)") from None
        raise WaifuError(f"W file '{name}' cannot be read as .npy/.npz ({err}); re-save it with numpy") from None
    except NUMPY_READ_ERRORS as err:
        raise WaifuError(f"W file '{name}' cannot be read as .npy/.npz ({type(err).__name__}); re-save it with numpy") from None
    return _w_rows(np.asarray(arr), name, num_ws, w_dim)



NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
HOW_TO_SAVE = "save it with numpy: np.save('w.npy', w) or np.savez('w.npz', w=w), w of shape [num_ws, w_dim]"


def _check_numpy_file(path: str, name: str) -> None:
    """A W file must be a .npy array or an .npz archive (a zip of .npy): name what it is otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as err:
        raise WaifuError(f"W file '{name}' cannot be opened ({err.strerror or err}); check the path") from None
    if head.startswith(NPY_MAGIC):
        return
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            raise WaifuError(f"W file '{name}' is a damaged .npz (zip) archive; save it again") from None
        if any(n.endswith("data.pkl") for n in names):
            raise WaifuError(f"W file '{name}' is a PyTorch file (torch.save), which is never unpickled; {HOW_TO_SAVE}")
        return
    raise WaifuError(f"W file '{name}' is not a .npy/.npz array (keys are seeds or numpy W files); {HOW_TO_SAVE}")


def _w_rows(arr: np.ndarray, name: str, num_ws: int, w_dim: int, what: str = "W file") -> np.ndarray:
    """Any accepted W shape -> rows [N, num_ws, w_dim] float64 (values of float32), checked."""
    want = f"[{w_dim}], [{num_ws}, {w_dim}] or [1, {num_ws}, {w_dim}]"
    if not np.issubdtype(arr.dtype, np.floating):
        raise WaifuError(f"{what} '{name}' has dtype {arr.dtype}; it must hold floats of shape {want}")
    if arr.ndim == 1 and arr.shape[0] == w_dim:
        rows = np.broadcast_to(arr, (1, num_ws, w_dim))
    elif arr.ndim == 2 and arr.shape == (num_ws, w_dim):
        rows = arr[None]
    elif arr.ndim == 3 and arr.shape[1:] == (num_ws, w_dim) and arr.shape[0] >= 1:
        rows = arr
    else:
        raise WaifuError(f"{what} '{name}' has shape {list(arr.shape)} but this model needs {want}; "
                         f"project the image again with this checkpoint")
    if not np.all(np.isfinite(rows)):
        raise WaifuError(f"{what} '{name}' contains NaN or infinite values; re-project or re-save it")
    # W is float32 in the network: round through it so file keys and mapped keys behave alike
    return rows.astype(np.float32).astype(np.float64)


def expand_files(sources: list[KeySource], num_ws: int, w_dim: int) -> list[tuple[KeySource, np.ndarray | None, str]]:
    """KeySources -> (source, w rows or None for seeds, label), one entry per key (files may hold N rows)."""
    out = []
    for src in sources:
        if src.seed is not None:
            out.append((src, None, src.label))
        else:
            rows = (read_w_file(src.path, num_ws, w_dim) if src.w is None
                    else _w_rows(src.w, src.label, num_ws, w_dim, what="W key"))
            for r in range(rows.shape[0]):
                out.append((src, rows[r], src.label if rows.shape[0] == 1 else f"{src.label}[{r}]"))
    return out


def class_vector(G, n: int, class_idx: int | None) -> torch.Tensor | None:
    """The conditioning input: None for unconditional models, a one-hot [n, c_dim] otherwise."""
    if not G.c_dim:
        if class_idx is not None:
            raise WaifuError(f"--class-idx {class_idx} given, but this model is unconditional (no classes); drop --class-idx")
        return None
    if class_idx is None:
        raise WaifuError(f"this model is conditional ({G.c_dim} classes); pick one with --class-idx N")
    if not 0 <= class_idx < G.c_dim:
        raise WaifuError(f"--class-idx {class_idx} is out of range; this model has classes 0-{G.c_dim - 1}")
    c = torch.zeros(n, G.c_dim, device=G.w_avg.device)
    c[:, class_idx] = 1
    return c


@torch.no_grad()
def map_z(G, z: np.ndarray, class_idx: int | None = None) -> np.ndarray:
    """z [n, z_dim] -> untruncated W [n, num_ws, w_dim] float64 (values of the float32 mapping)."""
    z_t = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(G.w_avg.device)
    ws = G.mapping(z_t, class_vector(G, z_t.shape[0], class_idx), truncation_psi=1.0)
    assert ws.shape == (z_t.shape[0], G.num_ws, G.w_dim), f"mapping returned {tuple(ws.shape)}"
    return ws.detach().float().cpu().numpy().astype(np.float64)


def load_keys(G, items, shuffle_seed: int | None = None, class_idx: int | None = None) -> list[Key]:
    """Parse, shuffle and resolve keyframes for generator G (seeds mapped to W one by one)."""
    return resolve_entries(G, shuffle_keys(expand_files(parse_keys(items), G.num_ws, G.w_dim), shuffle_seed), class_idx)


def resolve_entries(G, entries, class_idx: int | None) -> list[Key]:
    """expand_files entries -> Keys (seeds mapped to W one by one)."""
    return [resolve_entry(G, src, rows, label, class_idx) for src, rows, label in entries]


def resolve_entry(G, src: KeySource, rows: np.ndarray | None, label: str, class_idx: int | None) -> Key:
    if src.seed is not None:
        z = z_from_seed(src.seed, G.z_dim)
        return Key(label=label, seed=src.seed, w=map_z(G, z, class_idx)[0], z=z[0])
    return Key(label=label, seed=None, w=rows, z=None)


def base_entry(G, base):
    """--base SEED|FILE (or an in-memory W) -> its one expand_files entry (it must hold exactly one w)."""
    sources = parse_keys([str(base)] if isinstance(base, (int, str)) else [base])
    entries = expand_files(sources, G.num_ws, G.w_dim)
    if len(entries) != 1:
        shown = base if isinstance(base, (str, int)) else sources[0].token
        raise WaifuError(f"--base must be one seed or one w, got {len(entries)} from '{shown}'; "
                         f"pass a single seed (--base 7) or a W file holding one w")
    return entries[0]


def load_base(G, base, class_idx: int | None = None) -> Key:
    """--base SEED|FILE (or an in-memory W) -> one Key."""
    return resolve_entry(G, *base_entry(G, base), class_idx)
