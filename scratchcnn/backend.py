"""The one seam between scratchcnn's math and its array library.

Every functional and layer module reaches NumPy through ``xp`` below, so a
NumPy-compatible array library (CuPy) can later be swapped in with ``use``.
"""
import importlib

import numpy


class _ArrayModule:
    """Forwards attribute access to the array module in use (NumPy by default).

    The module's names are copied into the instance, so `xp.matmul` is a dictionary lookup
    (predict's pieces reach NumPy through here hundreds of times each); `__getattr__`
    forwards whatever the copy lacks (names a module makes on first use).
    """

    def __init__(self, module):
        self._bind(module)

    def _bind(self, module):
        self.__dict__.clear()
        self.__dict__.update({name: value for name, value in vars(module).items() if not name.startswith("__")})
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
    xp._bind(importlib.import_module(name))
    return xp
