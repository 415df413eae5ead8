"""benchmarks/shard_timeline.py: every shard pass of a training run timed, alone (one thread) and beside another."""
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "shard_timeline.py")


def load_script(monkeypatch):
    monkeypatch.syspath_prepend(os.path.dirname(SCRIPT))  # it imports bench_vs_torch beside it, as when run
    spec = importlib.util.spec_from_file_location("shard_timeline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_pass_per_shard_and_step(monkeypatch):
    timeline = load_script(monkeypatch)
    alone = timeline.shard_passes("A", 16, 1, steps=3)
    beside = timeline.shard_passes("A", 32, 2, steps=3)
    assert len(alone["forward"]) == len(alone["backward"]) == 3       # one shard of 16 per step
    assert len(beside["forward"]) == len(beside["backward"]) == 6     # two shards of 16 per step
    for runs in (alone, beside):
        for wall, cpu in runs["forward"] + runs["backward"]:
            assert wall > 0 and cpu > 0


def test_prints_both_passes():
    result = subprocess.run([sys.executable, SCRIPT, "--net", "D", "--batch-size", "32", "--steps", "2"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["forward", "backward"]
    for row in rows:
        assert float(row[-1].lstrip("x")) > 0
