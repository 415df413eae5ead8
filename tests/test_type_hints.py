"""The public API is typed: every public function and method of the package's public names has annotations for
each parameter and its return, and mypy finds the package consistent with them."""
import inspect
import os
import shutil
import subprocess
import sys

import pytest

import scratchcnn
from scratchcnn import callbacks, datasets, initializers, losses, metrics, optimizers, plotting, schedules, zoo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC_MODULES = [scratchcnn, callbacks, datasets, initializers, losses, metrics, optimizers, plotting, schedules, zoo]


def public_callables():
    """(qualified name, function) for each public function, class constructor and public method."""
    seen = set()
    for module in PUBLIC_MODULES:
        for name in getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]:
            value = getattr(module, name, None)
            if inspect.ismodule(value) or id(value) in seen:
                continue
            seen.add(id(value))
            if inspect.isfunction(value) and value.__module__.startswith("scratchcnn"):
                yield f"{module.__name__}.{name}", value
            elif inspect.isclass(value) and value.__module__.startswith("scratchcnn"):
                for attribute, member in vars(value).items():
                    function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                    if inspect.isfunction(function) and (not attribute.startswith("_") or attribute == "__init__"):
                        yield f"{value.__module__}.{value.__name__}.{attribute}", inspect.unwrap(function)


def missing_annotations(function):
    signature = inspect.signature(function)
    missing = [name for name, parameter in signature.parameters.items()
               if name not in ("self", "cls") and parameter.annotation is inspect.Parameter.empty]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def test_every_public_function_and_method_is_annotated():
    untyped = {name: missing for name, function in public_callables() if (missing := missing_annotations(function))}
    assert untyped == {}


@pytest.mark.slow
def test_mypy_finds_the_package_consistent_with_its_hints():
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "scratchcnn"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
