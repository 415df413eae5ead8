"""Data-parallel training on MPI (mpi4py): `network.train(..., distributed=True)` under `mpiexec -n N`.

    world.py      the processes of the job: rows per process, sums, agreements, ending the job on an error
    training.py   the step's rows split over the processes, one all-reduce of the gradients, callbacks on rank 0

Install with `pip install "scratchcnn[distributed]"`; docs/distributed.md says how to run it.
"""
from .world import INSTALL, DistributedError, World, connect

__all__ = ["INSTALL", "DistributedError", "World", "connect", "abort"]


def abort(code=1):
    """End every process of the MPI job now (a command-line error on one process: the others may be waiting)."""
    world = connect(True)
    if world.size > 1:
        world.comm.Abort(code)
