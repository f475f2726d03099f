"""Shared fixtures."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Small networks gain nothing from threads, and on a busy 2-core machine OpenMP threads wait on
    each other; use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
