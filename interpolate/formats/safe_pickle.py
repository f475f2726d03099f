"""A restricted unpickler: pickles are read as data and never run code.

`pickle.Unpickler.find_class` is the only door through which a pickle can reach a callable. This
module closes it to everything except an explicit allow-list of (module, name) pairs, each mapped to a
harmless stand-in chosen by the caller (a reader in this package). A pickle that names anything else
(`os.system`, `builtins.eval`, `subprocess.Popen`, ...) raises `UnsafePickleError` before any call is
made, so loading has no side effect.

Readers build their allow-lists from the pieces below, e.g.::

    allowed = {**NUMPY_GLOBALS, **TORCH_TENSOR_GLOBALS, ("dnnlib.util", "EasyDict"): EasyDictStub}
    obj = safe_load(path_or_file, allowed)
"""

from __future__ import annotations

import collections
import io
import pickle
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

from ..errors import CheckpointError, UnsafePickleError

AllowList = Mapping[tuple[str, str], Any]


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose `find_class` consults an allow-list and nothing else."""

    def __init__(self, file: BinaryIO, allowed: AllowList, *, encoding: str = "latin1", persistent_load: Callable | None = None):
        super().__init__(file, encoding=encoding)
        self._allowed = dict(allowed)
        if persistent_load is not None:
            self.persistent_load = persistent_load  # type: ignore[assignment]

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load: the pickle asks for '{module}.{name}', which is not on waifu-morph's "
                f"allow-list of checkpoint types (nothing was executed); if this is a genuine checkpoint, "
                f"please report its origin"
            ) from None


def safe_load(file: BinaryIO | bytes, allowed: AllowList, **kwargs: Any) -> Any:
    """Unpickle `file` (a binary file object or bytes) with only `allowed` globals reachable."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        file = io.BytesIO(file)
    try:
        return RestrictedUnpickler(file, allowed, **kwargs).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the file is not a readable pickle ({type(exc).__name__}: {exc}); it may be truncated or corrupt") from None


# --- harmless stand-ins shared by the readers ----------------------------------------------------


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy.core.multiarray._reconstruct, restricted to plain ndarrays."""
    if subtype is not np.ndarray:
        raise UnsafePickleError("refused to load: the pickle rebuilds a numpy array subclass")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    """numpy.core.multiarray.scalar, restricted to non-object dtypes."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise UnsafePickleError("refused to load: the pickle holds a numpy object scalar")
    return np.frombuffer(data if data is not None else b"\0" * dtype.itemsize, dtype=dtype, count=1)[0]


def _numpy_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError("refused to load: the pickle holds a numpy object array")
    return dtype


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    """_codecs.encode as protocol-2 pickles use it for bytes: str -> bytes, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafePickleError("refused to load: unexpected use of _codecs.encode in the pickle")
    return text.encode(encoding)


# numpy 1.x writes numpy.core.*, numpy 2.x writes numpy._core.*: both spellings are accepted.
NUMPY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
    ("_codecs", "encode"): _codecs_encode,
}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    NUMPY_GLOBALS[(_core, "_reconstruct")] = _numpy_reconstruct
    NUMPY_GLOBALS[(_core, "scalar")] = _numpy_scalar

COLLECTIONS_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
}
