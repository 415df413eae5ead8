"""Fixtures of the serving tests (helpers in serve_helpers.py)."""
import numpy as np
import pytest
from serve_helpers import digit_network


@pytest.fixture(scope="module")
def digit_app():
    from scratchcnn.serve import create_app

    network = digit_network()
    return network, create_app(network)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
