"""Shared test fixtures: PyTorch as an optional oracle, and a log of how closely we match it."""
import importlib
import json
import os

import pytest

_RELATIVE_ERRORS = pytest.StashKey[dict]()
_RELATIVE_ERRORS_FILE = pytest.StashKey[str]()


def require_torch():
    """Import torch, or skip the test; under CI=true a missing torch fails instead of silently skipping."""
    try:
        return importlib.import_module("torch")
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PyTorch is required when CI=true (it is the oracle for the engine tests): {error}",
                        pytrace=False)
        pytest.skip(f"PyTorch is not installed ({error})")


@pytest.fixture(scope="session")
def torch():
    """The torch module (see require_torch); session-scoped so hypothesis tests may use it."""
    return require_torch()


@pytest.fixture(scope="session")
def relative_errors(request, tmp_path_factory):
    """op name -> largest relative error against PyTorch seen this session; printed in the summary."""
    errors = request.config.stash.setdefault(_RELATIVE_ERRORS, {})
    yield errors
    path = tmp_path_factory.getbasetemp() / "torch_relative_errors.json"
    path.write_text(json.dumps(errors, indent=1, sort_keys=True))
    request.config.stash[_RELATIVE_ERRORS_FILE] = str(path)


def pytest_terminal_summary(terminalreporter, config):
    """Print the relative errors the `relative_errors` fixture collected, when any test used it."""
    errors = config.stash.get(_RELATIVE_ERRORS, {})
    if errors:
        terminalreporter.section("largest relative error against PyTorch")
        for op, error in sorted(errors.items()):
            terminalreporter.write_line(f"{op:<40} {error:.2e}")
        terminalreporter.write_line(f"(also written to {config.stash.get(_RELATIVE_ERRORS_FILE, '?')})")
