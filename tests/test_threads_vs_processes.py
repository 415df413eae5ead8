"""benchmarks/threads_vs_processes.py: a predict shard timed alone, as one of two threads and as one of two processes."""
import subprocess
import sys

import pytest

from benchmark_scripts import ROOT, load_script, script_path

SCRIPT = script_path("threads_vs_processes")


@pytest.mark.slow
def test_every_round_times_each_setting_and_restores_the_thread_count(monkeypatch):
    module = load_script(monkeypatch, "threads_vs_processes")
    from scratchcnn import parallel
    before = parallel.get_num_threads()
    times = module.rounds("A", 16, 3, passes=2)
    assert sorted(times) == ["alone", "two processes", "two threads"]
    for values in times.values():
        assert len(values) == 3 and all(value > 0 for value in values)
    assert parallel.get_num_threads() == before


@pytest.mark.slow
def test_prints_the_three_settings():
    result = subprocess.run([sys.executable, SCRIPT, "--net", "D", "--images", "16", "--rounds", "2"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["alone", "two", "two"]
    assert rows[0].split()[-1] == "x1.00"
    for row in rows:
        assert float(row.split()[-2]) > 0
