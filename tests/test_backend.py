"""backend.py: the array-module seam every functional module goes through."""
import types

import numpy as np
import pytest

from scratchcnn import backend
from scratchcnn.backend import xp


def test_xp_is_numpy_by_default_and_use_rebinds_it():
    assert xp.module is np and xp.matmul is np.matmul and xp.float32 is np.float32
    assert backend.use("numpy") is xp and xp.matmul is np.matmul
    with pytest.raises(ValueError, match="Unknown array backend"):
        backend.use("jax")


def test_a_rebound_proxy_forwards_the_new_module_and_forgets_the_old_one():
    proxy = backend._ArrayModule(np)
    fake = types.ModuleType("fake")
    fake.matmul = lambda a, b: "fake matmul"
    proxy._bind(fake)
    assert proxy.module is fake and proxy.matmul(1, 2) == "fake matmul"
    with pytest.raises(AttributeError):
        proxy.float32  # NumPy's names are gone with NumPy
    fake.late = "made after binding"
    assert proxy.late == "made after binding"  # names the copy lacks are forwarded
