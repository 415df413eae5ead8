"""The array module scratchcnn computes with: NumPy.

The modules name it `xp`, the convention of array-API code, so the math reads the same
in every file. NumPy is the only one supported: the fast engine relies on NumPy's strided
views and on threadpoolctl to hold BLAS to one thread while the batch is split.
"""
import numpy as xp  # noqa: F401  (re-exported)
