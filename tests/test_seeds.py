import numpy as np
import pytest

from interpolate.errors import WaifuError
from interpolate.seeds import parse_seeds, z_from_seed


def test_lists_and_ranges():
    assert parse_seeds("3,17,42") == [3, 17, 42]
    assert parse_seeds("0-3,9") == [0, 1, 2, 3, 9]
    assert parse_seeds(" 5 ") == [5]


@pytest.mark.parametrize("bad", ["a", "1,b", "3-x", "", "9-2", "1.5"])
def test_bad_seeds_are_one_line_errors(bad):
    with pytest.raises(WaifuError) as e:
        parse_seeds(bad)
    assert "\n" not in str(e.value)


def test_z_matches_numpy_randomstate():
    # NVIDIA's scripts: np.random.RandomState(seed).randn(1, z_dim)
    z = z_from_seed(42, 512)
    assert z.shape == (1, 512)
    assert z[0, 0] == pytest.approx(0.4967141530112327)  # first N(0,1) draw of RandomState(42)
    np.testing.assert_array_equal(z, np.random.RandomState(42).randn(1, 512))
