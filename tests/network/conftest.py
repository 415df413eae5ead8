"""Network tests: the `slow` marker for the multi-seed convergence runs.

Tests marked slow are skipped unless selected explicitly, e.g. `pytest -m slow tests/network`.
"""
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: multi-seed convergence runs (minutes); run with -m slow")


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return  # the user chose by marker: -m slow runs them, -m "not slow" deselects them
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
