"""benchmarks/threads_vs_processes.py: a predict shard timed alone, as one of two threads and as one of two processes."""
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "threads_vs_processes.py")


def test_every_round_times_each_setting_and_restores_the_thread_count(monkeypatch):
    monkeypatch.syspath_prepend(os.path.dirname(SCRIPT))  # it imports bench_vs_torch beside it, as when run
    spec = importlib.util.spec_from_file_location("threads_vs_processes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "threads_vs_processes", module)  # the spawned workers import it by name
    spec.loader.exec_module(module)
    from scratchcnn import parallel
    before = parallel.get_num_threads()
    times = module.rounds("A", 16, 3, passes=2)
    assert sorted(times) == ["alone", "two processes", "two threads"]
    for values in times.values():
        assert len(values) == 3 and all(value > 0 for value in values)
    assert parallel.get_num_threads() == before


def test_prints_the_three_settings():
    result = subprocess.run([sys.executable, SCRIPT, "--net", "D", "--images", "16", "--rounds", "2"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["alone", "two", "two"]
    assert rows[0].split()[-1] == "x1.00"
    for row in rows:
        assert float(row.split()[-2]) > 0
