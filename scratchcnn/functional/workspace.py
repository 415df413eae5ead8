"""Scratch memory reused from one training step to the next.

im2col writes tens of megabytes per step. A fresh array of that size costs the
kernel's page faults on every step, more than the copy into it; a layer that keeps
one growing buffer and hands out views of its front pays them once.
"""
import math
import threading

from ..backend import xp


class Workspace:
    """Named scratch arrays: `get(name, shape, dtype)` returns an uninitialised array that later calls reuse.

    The array is a view of a buffer that only grows, so a smaller last batch of an
    epoch reuses it too. It is scratch: its contents are valid until the next `get`
    of the same name in the same thread. Each thread has its own buffers, so
    threads running the same layer on different samples never share one.
    """

    def __init__(self):
        self._local = threading.local()

    @property
    def _buffers(self):
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = {}
        return buffers

    def get(self, name, shape, dtype):
        size = math.prod(shape)
        buffers = self._buffers
        buffer = buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = xp.empty(size, dtype=dtype)
            buffers[name] = buffer
        return buffer[:size].reshape(shape)

    def clear(self):
        """Drop this thread's buffers (the memory returns to the allocator)."""
        self._buffers.clear()
