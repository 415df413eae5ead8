"""benchmarks/distributed.py: the cost model's formulas, and a short run under mpiexec."""
import pytest

from benchmark_scripts import load_script, script_path
from mpi_helpers import run_mpi

pytestmark = pytest.mark.slow  # MPI jobs in subprocesses

SERIAL = {"augment": 0.002, "optimizer": 0.001, "syncs": 8}


@pytest.fixture
def bench(monkeypatch):
    return load_script(monkeypatch, "distributed")


def test_the_ring_allreduce_costs_twice_the_message_and_two_latencies_per_neighbour(bench):
    assert bench.ring_allreduce_s(2, 1e6, 1e9, 1e-5) == pytest.approx(1e-3 + 2e-5)
    assert bench.ring_allreduce_s(32, 4e6, 1e9, 0) == pytest.approx(2 * 31 / 32 * 4e-3)


def test_efficiency_is_one_on_one_process_and_falls_with_more(bench):
    args = (0.01, SERIAL, 1.5e6, 1.25e9, 30e-6)
    assert bench.efficiency(1, 64, *args) == pytest.approx(1.0)
    values = [bench.efficiency(p, 128, *args) for p in (2, 8, 32, 128)]
    assert values == sorted(values, reverse=True) and 0 < values[-1] < values[0] < 1
    step = bench.step_s(4, 64, *args)
    assert step == pytest.approx((64 * 0.01 + 0.002) / 4 + 0.001 + bench.ring_allreduce_s(4, 1.5e6, 1.25e9, 30e-6)
                                 + 8 * 2 * 30e-6)  # 8 BatchNorm sums of log2(4) = 2 latencies each


def test_the_batch_needed_is_the_first_multiple_of_p_reaching_the_target(bench):
    args = (0.01, SERIAL, 1.5e6, 1.25e9, 30e-6)
    batch = bench.batch_needed(32, 0.8, *args)
    assert batch % 32 == 0 and bench.efficiency(32, batch, *args) >= 0.8 > bench.efficiency(32, batch - 32, *args)


def test_a_short_run_prints_every_setting_and_the_projection():
    job = run_mpi(2, script_path("distributed"), "--quick", "--nets", "A", "--rounds", "1",
                  timeout=120)
    assert job.returncode == 0, job.stderr
    table = job.stdout.split("images/s of training")[1]
    assert "A" in table and "Cost model" in job.stdout and "10 Gbit/s Ethernet" in job.stdout
