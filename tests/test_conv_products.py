"""benchmarks/conv_products.py: one row per convolution of the benchmark nets, with a rate and a time per image."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "conv_products.py")


@pytest.mark.slow
def test_prints_a_rate_for_every_convolution():
    result = subprocess.run([sys.executable, SCRIPT, "--repeats", "1"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["A", "B", "B", "B", "C", "C", "D"]
    for row in rows:
        gflops, product_us, winograd_us = float(row[-4]), float(row[-3]), row[-2]
        assert gflops > 0 and product_us > 0
        assert (winograd_us != "-") == ((row[0], row[2]) in {("B", "6x6"), ("D", "10x10/2")}), row
        if winograd_us != "-":
            assert float(winograd_us) > 0
