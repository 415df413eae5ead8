"""Workspace: scratch arrays reused from call to call, growing when needed, one set per thread; and layer outputs
lent from it inside transient_outputs() (predict)."""
import threading

import numpy as np

from scratchcnn.functional.workspace import Workspace, output_array, transient_outputs


def test_the_same_request_gets_the_same_memory_and_a_smaller_one_reuses_it():
    workspace = Workspace()
    a = workspace.get("cols", (64, 300), np.float32)
    assert a.shape == (64, 300) and a.dtype == np.float32
    b = workspace.get("cols", (64, 300), np.float32)
    assert np.shares_memory(a, b)
    smaller = workspace.get("cols", (10, 300), np.float32)  # e.g. the last, smaller batch of an epoch
    assert smaller.shape == (10, 300) and np.shares_memory(a, smaller)


def test_a_larger_request_or_another_dtype_gets_new_memory():
    workspace = Workspace()
    a = workspace.get("cols", (8, 8), np.float32)
    larger = workspace.get("cols", (16, 8), np.float32)
    assert larger.shape == (16, 8) and not np.shares_memory(a, larger)
    wide = workspace.get("cols", (16, 8), np.float64)
    assert wide.dtype == np.float64 and not np.shares_memory(larger, wide)


def test_names_do_not_share_memory():
    workspace = Workspace()
    assert not np.shares_memory(workspace.get("cols", (4, 4), np.float32), workspace.get("dcols", (4, 4), np.float32))


def test_each_thread_has_its_own_buffers():
    workspace = Workspace()
    mine = workspace.get("cols", (32, 32), np.float32)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(workspace.get("cols", (32, 32), np.float32)))
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])
    assert np.shares_memory(mine, workspace.get("cols", (32, 32), np.float32))


def test_clear_drops_every_threads_buffers():
    workspace = Workspace()
    a = workspace.get("cols", (4, 4), np.float32)
    thread = threading.Thread(target=lambda: workspace.get("cols", (1000,), np.float32))
    thread.start()
    thread.join()
    assert workspace.nbytes == (16 + 1000) * 4
    workspace.clear()
    assert workspace.nbytes == 0
    assert not np.shares_memory(a, workspace.get("cols", (4, 4), np.float32))


def test_outputs_are_fresh_outside_transient_outputs_and_lent_inside_it():
    workspace = Workspace()
    first = output_array(workspace, "conv", (4, 8), np.float32)
    assert not np.shares_memory(first, output_array(workspace, "conv", (4, 8), np.float32))
    with transient_outputs():
        lent = output_array(workspace, "conv", (4, 8), np.float32)
        assert np.shares_memory(lent, output_array(workspace, "conv", (4, 8), np.float32))
        assert not np.shares_memory(lent, workspace.get("conv", (4, 8), np.float32))  # its own name
        assert output_array(None, "conv", (2,), np.float32).shape == (2,)  # no workspace: fresh
    assert not np.shares_memory(lent, output_array(workspace, "conv", (4, 8), np.float32))


def test_transient_outputs_is_this_threads_alone_and_nests():
    workspace = Workspace()
    seen = []
    with transient_outputs():
        with transient_outputs():
            pass
        inner_done = output_array(workspace, "out", (3,), np.float32)
        assert np.shares_memory(inner_done, output_array(workspace, "out", (3,), np.float32))  # still on
        thread = threading.Thread(target=lambda: seen.append([output_array(workspace, "out", (3,), np.float32)
                                                              for _ in range(2)]))
        thread.start()
        thread.join()
    assert not np.shares_memory(*seen[0])  # the other thread was not inside the block


def test_outputs_past_lend_bytes_stay_fresh_inside_transient_outputs(monkeypatch):
    """A layer keeps what it lends until the next call: large outputs are not lent, so a deep network's
    predict does not hold every layer's output at once."""
    from scratchcnn.functional import workspace as module

    monkeypatch.setattr(module, "LEND_BYTES", 64)
    workspace = Workspace()
    with transient_outputs():
        small = output_array(workspace, "out", (16,), np.float32)              # 64 bytes: lent
        assert np.shares_memory(small, output_array(workspace, "out", (16,), np.float32))
        large = output_array(workspace, "big", (17,), np.float32)              # 68 bytes: fresh
        assert not np.shares_memory(large, output_array(workspace, "big", (17,), np.float32))
    assert workspace.nbytes == 64
