"""Scratch memory reused from one training step to the next, and from one piece of predict's input to the next.

im2col writes tens of megabytes per step. A fresh array of that size costs the
kernel's page faults on every step, more than the copy into it; a layer that keeps
one growing buffer and hands out views of its front pays them once.

A layer's output is usually handed to its caller, so it is a fresh array. Inside
`transient_outputs()` (Network.predict runs every piece of its input in one) the
caller promises to be done with it once the next layer has run, and `output_array`
then lends it from the layer's workspace too: fresh outputs would cost page faults on
every piece (benchmarks/bench_vs_torch.py prints them per image). Only outputs up to
LEND_BYTES are lent: a layer keeps what it lends until the next call, so lending every
output of a deep network would hold them all at once, where fresh ones come and go one
or two at a time.
"""
import contextlib
import math
import threading

from ..backend import xp


class Workspace:
    """Named scratch arrays: `get(name, shape, dtype)` returns an uninitialised array that later calls reuse.

    The array is a view of a buffer that only grows, so a smaller last batch of an
    epoch reuses it too. It is scratch: its contents are valid until the next `get`
    of the same name in the same thread. Each thread has its own buffers, so
    threads running the same layer on different samples never share one. A `get`
    of the shape and dtype it last gave under that name returns that same view (a
    predict's pieces ask for the same arrays over and over; with two threads, the
    Python each call runs holds the GIL that the other thread may be waiting for).
    """

    def __init__(self):
        self._local = threading.local()  # .buffers: {name: buffer}, .views: {name: (shape, dtype, view)}
        self._all = []                   # every thread's buffers dict, for nbytes

    def _thread(self):
        local = self._local
        try:
            return local.buffers, local.views
        except AttributeError:
            local.buffers, local.views = {}, {}
            self._all.append(local.buffers)
            return local.buffers, local.views

    def get(self, name, shape, dtype):
        buffers, views = self._thread()
        last = views.get(name)
        if last is not None and last[0] == shape and last[1] == dtype:
            return last[2]
        size = math.prod(shape)
        buffer = buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = xp.empty(size, dtype=dtype)
            buffers[name] = buffer
        view = buffer[:size].reshape(shape)
        views[name] = (tuple(shape), dtype, view)
        return view

    def clear(self):
        """Drop every thread's buffers (the memory returns to the allocator; later calls allocate afresh)."""
        self._local, self._all = threading.local(), []

    def __getstate__(self):
        """Scratch is not state: a copy (copy.deepcopy, pickle) of a layer starts with empty buffers."""
        return {}

    def __setstate__(self, state):
        Workspace.__init__(self)

    def buffers(self):
        """Every thread's buffers (the memory behind the views get has lent)."""
        return [buffer for buffers in list(self._all) for buffer in list(buffers.values())]

    @property
    def nbytes(self):
        return sum(buffer.nbytes for buffer in self.buffers())


LEND_BYTES = 16 << 20  # larger outputs stay fresh arrays, even inside transient_outputs()

_transient = threading.local()


@contextlib.contextmanager
def transient_outputs():
    """Within this block, on this thread, each layer output is dead once the next layer has run (see output_array)."""
    before = getattr(_transient, "on", False)
    _transient.on = True
    try:
        yield
    finally:
        _transient.on = before


def scratch_array(workspace, name, shape, dtype):
    """An uninitialised scratch array: lent by `workspace` (Workspace.get), or fresh when there is none."""
    return xp.empty(shape, dtype) if workspace is None else workspace.get(name, shape, dtype)


def output_array(workspace, name, shape, dtype):
    """An uninitialised array for a layer's output: lent by `workspace` inside transient_outputs() when it is
    at most LEND_BYTES, else fresh."""
    lend = math.prod(shape) * xp.dtype(dtype).itemsize <= LEND_BYTES
    if workspace is not None and lend and getattr(_transient, "on", False):
        return workspace.get("out_" + name, shape, dtype)
    return xp.empty(shape, dtype)
