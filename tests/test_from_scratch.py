"""scratchcnn is written from scratch on NumPy: importing any of its modules imports no deep-learning framework."""
import subprocess
import sys

import numpy as np

from scratchcnn.backend import xp


def test_the_array_module_is_numpy():
    assert xp is np


def test_no_module_of_the_package_imports_a_deep_learning_framework():
    code = (
        "import pkgutil, sys, importlib, scratchcnn\n"
        "for info in pkgutil.walk_packages(scratchcnn.__path__, 'scratchcnn.'):\n"
        "    if info.name.split('.')[-1] not in ('__main__',):\n"
        "        try:\n"
        "            importlib.import_module(info.name)\n"
        "        except ImportError:\n"
        "            pass  # an optional extra that is not installed\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'jax', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
