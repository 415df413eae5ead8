"""benchmarks/shard_timeline.py: every shard pass of a training run timed, alone (one thread) and beside another."""
import subprocess
import sys

import pytest

from benchmark_scripts import ROOT, load_script, script_path

SCRIPT = script_path("shard_timeline")


def test_one_pass_per_shard_and_step(monkeypatch):
    timeline = load_script(monkeypatch, "shard_timeline")
    alone = timeline.shard_passes("A", 16, 1, steps=3)
    beside = timeline.shard_passes("A", 32, 2, steps=3)
    assert len(alone["forward"]) == len(alone["backward"]) == 3       # one shard of 16 per step
    assert len(beside["forward"]) == len(beside["backward"]) == 6     # two shards of 16 per step
    for runs in (alone, beside):
        for wall, cpu in runs["forward"] + runs["backward"]:
            assert wall > 0 and cpu > 0


@pytest.mark.slow
def test_prints_both_passes():
    result = subprocess.run([sys.executable, SCRIPT, "--net", "D", "--batch-size", "32", "--steps", "2"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["forward", "backward"]
    for row in rows:
        assert float(row[-1].lstrip("x")) > 0
