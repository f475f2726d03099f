"""The restricted unpickler refuses every callable outside its allow-list, with no side effect."""

import os
import pickle

import numpy as np
import pytest

from interpolate.errors import CheckpointError, UnsafePickleError
from interpolate.formats.safe_pickle import NUMPY_GLOBALS, safe_load


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"G_ema": _Evil(marker)})
    with pytest.raises(UnsafePickleError, match="system"):
        safe_load(payload, NUMPY_GLOBALS)
    assert not marker.exists()


def test_numpy_arrays_of_both_numpy_spellings_load():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = pickle.dumps({"a": arr, "s": np.float32(1.5)}, protocol=2)
    out = safe_load(data, NUMPY_GLOBALS)
    np.testing.assert_array_equal(out["a"], arr)
    assert out["s"] == np.float32(1.5)
    # a numpy-1.x style pickle names numpy.core.multiarray; swap the spelling in place
    other = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if b"numpy._core" in data else data.replace(b"numpy.core.multiarray", b"numpy._core.multiarray")
    assert other != data
    np.testing.assert_array_equal(safe_load(other, NUMPY_GLOBALS)["a"], arr)


def test_object_arrays_are_refused():
    data = pickle.dumps(np.array([1, "x"], dtype=object))
    with pytest.raises(UnsafePickleError):
        safe_load(data, NUMPY_GLOBALS)


def test_truncated_pickle_is_a_checkpoint_error():
    data = pickle.dumps({"a": np.zeros(100)})
    with pytest.raises(CheckpointError):
        safe_load(data[: len(data) // 2], NUMPY_GLOBALS)
