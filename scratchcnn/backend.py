"""The one seam between scratchcnn's math and its array library.

Every functional and layer module reaches NumPy through ``xp`` below, so a
NumPy-compatible array library (CuPy) can later be swapped in with ``use``.
"""
import importlib

import numpy


class _ArrayModule:
    """Forwards attribute access to the array module in use (NumPy by default)."""

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def __repr__(self):
        return f"<scratchcnn array backend: {self.module.__name__}>"


xp = _ArrayModule(numpy)


def use(name):
    """Switch the array module: ``use('numpy')`` or ``use('cupy')``."""
    if name not in ("numpy", "cupy"):
        raise ValueError(f"Unknown array backend, expected 'numpy' or 'cupy'. Received: name={name!r}")
    xp.module = importlib.import_module(name)
    return xp
