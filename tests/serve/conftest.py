"""Fixtures of the serving tests (helpers in serve_helpers.py); skipped without the serve extra."""
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from serve_helpers import digit_network  # noqa: E402


@pytest.fixture(scope="module")
def digit_app():
    from scratchcnn.serve import create_app

    network = digit_network()
    return network, create_app(network)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
