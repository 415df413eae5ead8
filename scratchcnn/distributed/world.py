"""The processes of an MPI job as training sees them: which rows are whose, sums, agreements, the end of the job.

mpi4py is imported here, and only when distributed work is asked for (`connect`): the
rest of scratchcnn needs nothing but NumPy.

A collective call (a sum, a gather) waits until every process of the job makes it. So a
process that fails on its own must never leave the others waiting for it:

- where processes could fail apart from each other (checking their arguments, writing
  a checkpoint on process 0, a prediction on their rows), they meet in an `Agreement`:
  each runs the block, then they exchange what went wrong, and every one of them raises
  the same DistributedError, naming the processes that failed and why;
- anywhere else (inside a training step, between collective calls) an error on one
  process is the end of the job: `abort` prints it and calls MPI_Abort, which ends
  every process within seconds. So does an uncaught exception in the user's script,
  once `connect` has been called (it installs a sys.excepthook that aborts).
"""
from __future__ import annotations

import os
import sys
import traceback
import zlib

import numpy as np

from .. import parallel

INSTALL = 'pip install "scratchcnn[distributed]"'

_job = None  # the World of MPI.COMM_WORLD, made once: it installs the excepthook and measures the cores


class DistributedError(RuntimeError):
    """Raised on every process of the job at once: one or more of them failed where they agree (see Agreement)."""


def mpi():
    """The mpi4py MPI module, or an ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"Distributed training needs mpi4py and an MPI library: {INSTALL}. ({error})") from None
    return MPI


def connect(distributed=True):
    """The World that `distributed` names: True -> every process of the job (MPI.COMM_WORLD); an mpi4py
    communicator -> its processes; a World -> itself; False or None -> None (not distributed)."""
    global _job
    if distributed is None or distributed is False:
        return None
    if isinstance(distributed, World):
        return distributed
    if distributed is True:
        if _job is None:
            _job = World(mpi().COMM_WORLD)
            _abort_on_uncaught_exceptions(_job)
        return _job
    if not hasattr(distributed, "Allreduce"):
        raise ValueError(f"Received an invalid value for distributed, expected True, False or an mpi4py "
                         f"communicator. Received: distributed={distributed!r}")
    return World(distributed)


class World:
    """The processes of one MPI communicator: `rank` of `size`, and the few collective calls training makes."""

    def __init__(self, comm):
        self.mpi = mpi()
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.cores = _cores_share(self.mpi, comm)

    @property
    def threads(self):
        """Threads this process uses: set_num_threads's value if it was called, else its share of the cores."""
        return parallel.chosen_num_threads() or self.cores

    def rows(self, count):
        """(start, stop): this process's share of `count` rows, rows [count*r//P, count*(r+1)//P) on process r of P."""
        return count * self.rank // self.size, count * (self.rank + 1) // self.size

    def broadcast(self, value):
        """Process 0's value (any picklable object), on every process."""
        return self.comm.bcast(value, root=0)

    def sum(self, array):
        """A new array: `array` summed over the processes (every one gets the same result)."""
        total = np.array(array, copy=True, order="C")
        self.comm.Allreduce(self.mpi.IN_PLACE, total, op=self.mpi.SUM)
        return total

    def sum_in_place(self, buffer):
        """Replace the contiguous array `buffer` by its sum over the processes."""
        self.comm.Allreduce(self.mpi.IN_PLACE, buffer, op=self.mpi.SUM)

    def gather(self, value):
        """[value of process 0, value of process 1, ...] on every process (small picklable objects)."""
        return self.comm.allgather(value)

    def agree(self, what):
        """`with world.agree("Writing the model"):` -- see Agreement."""
        return Agreement(self, what)

    def check_same(self, what, values):
        """DistributedError on every process unless `values` (a dict of picklable fingerprints) is the same on all."""
        every = self.gather(values)
        differ = {key: [rank for rank, other in enumerate(every) if other.get(key) != values_0]
                  for key, values_0 in every[0].items()}
        differ = {key: ranks for key, ranks in differ.items() if ranks}
        if differ:
            listed = "; ".join(f"{key} (processes {', '.join(map(str, ranks))} differ from process 0)"
                               for key, ranks in differ.items())
            raise DistributedError(f"{what}: the processes of the MPI job differ in {listed}. Every process must run "
                                   "the same script with the same arguments, data, seed and model file.")

    def gather_rows(self, X, compute, sample_shape, dtype):
        """compute(X[rows]) on each process's rows of X, gathered: (len(X), *sample_shape) on every process."""
        start, stop = self.rows(len(X))
        with self.agree("Computing the outputs of every process's rows"):
            with parallel.limited_threads(self.threads):
                part = compute(X[start:stop]) if stop > start else np.empty((0, *sample_shape), dtype=dtype)
            part = np.ascontiguousarray(part, dtype=dtype)
        outputs = np.empty((len(X), *sample_shape), dtype=dtype)
        per_row = int(np.prod(sample_shape, dtype=np.int64))
        counts = [(len(X) * (r + 1) // self.size - len(X) * r // self.size) * per_row for r in range(self.size)]
        self.comm.Allgatherv(part, [outputs, counts])
        return outputs

    def abort(self, error, code=1):
        """End every process of the job (MPI_Abort) after printing `error`; alone in the job, raise it instead."""
        if self.size == 1:
            raise error
        lines = traceback.format_exception(type(error), error, error.__traceback__)
        sys.stderr.write("".join(lines) + f"scratchcnn: process {self.rank} of {self.size} failed with the error "
                                          "above; ending every process of the MPI job.\n")
        _flush()
        self.comm.Abort(code)


class Agreement:
    """`with world.agree(what) as agreement:` every process runs the block, then they meet and exchange its outcome.

    If the block raised on any process, every process raises one DistributedError naming
    each failed process and its error (chained to its own error where it failed), so none
    is left waiting in a collective call. Set `agreement.value` inside the block to share
    it: after the block, `agreement.values` holds every process's value, by rank.
    """

    def __init__(self, world, what):
        self.world, self.what, self.value, self.values = world, what, None, None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is not None and not issubclass(kind, Exception):
            return False  # KeyboardInterrupt, SystemExit: the caller ends the job
        outcome = None if error is None else f"{type(error).__name__}: {error}"
        outcomes = self.world.gather((outcome, self.value))
        failed = [(rank, text) for rank, (text, _) in enumerate(outcomes) if text is not None]
        if not failed:
            self.values = [value for _, value in outcomes]
            return False
        ranks: dict[str, list[str]] = {}  # error text -> the processes that raised it
        for rank, text in failed:
            ranks.setdefault(text, []).append(str(rank))
        listed = "; ".join(f"process{'es' if len(who) > 1 else ''} {', '.join(who)}: {text}"
                           for text, who in ranks.items())
        raise DistributedError(f"{self.what} failed on {len(failed)} of {self.world.size} processes -- "
                               f"{listed}") from error


def checksum(arrays):
    """A CRC-32 of the arrays' shapes, dtypes and bytes: equal on two processes when the arrays are bit-identical."""
    crc = 0
    for array in arrays:
        array = np.ascontiguousarray(array)
        crc = zlib.crc32(f"{array.shape}{array.dtype.str}".encode(), crc)
        crc = zlib.crc32(array.reshape(-1).view(np.uint8).data, crc)  # the bytes, not a copy
    return crc


def _cores_share(MPI, comm):
    """This process's CPUs shared out among the processes of the job on this machine that may run on them
    (mpiexec binds each process to its own cores, or leaves them all free to use every core)."""
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        mine = os.sched_getaffinity(0)
        sharing = sum(1 for cpus in local.allgather(sorted(mine)) if mine & set(cpus))
    finally:
        local.Free()
    return max(1, len(mine) // sharing)


def _abort_on_uncaught_exceptions(world):
    """An uncaught exception on one process would leave the others waiting in a collective call: print it as
    Python does, then end the job."""
    previous = sys.excepthook

    def excepthook(kind, error, trace):
        previous(kind, error, trace)
        if world.size > 1:
            sys.stderr.write(f"scratchcnn: process {world.rank} of {world.size} stopped on the uncaught error above; "
                             "ending every process of the MPI job.\n")
            _flush()
            world.comm.Abort(1)

    sys.excepthook = excepthook


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
