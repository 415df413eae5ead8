"""Batches split across threads: predict and training give the unsplit results (up to float rounding)."""
import signal
import threading
import time

import numpy as np
import pytest

from scratchcnn import network as network_module
from scratchcnn.augmentation import Augmentation
from scratchcnn.engine.passes import Passes
from scratchcnn.engine.threads import TrainingShards, replica
from scratchcnn import (Activation, BatchNorm, ConvLayer, Dense, Dropout, Flatten, MultiClassDense, Network,
                        PoolingLayer, losses, parallel)

CCE = (losses.categorical_crossentropy, losses.categorical_crossentropy_derivative)


@pytest.fixture(autouse=True)
def default_threads():
    yield
    parallel.set_num_threads(None)


@pytest.fixture
def split_sizes(monkeypatch):
    """Record the number of shards of every map_shards call."""
    sizes = []
    original = parallel.map_shards

    def recording(fn, bounds):
        sizes.append(len(bounds))
        return original(fn, bounds)

    monkeypatch.setattr(parallel, "map_shards", recording)
    return sizes


def convnet(dropout=0.0):
    layers = [ConvLayer(3, 1, 8, padding=1), PoolingLayer(), Flatten()]
    if dropout:
        layers.append(Dropout(dropout))
    layers += [Dense(8 * 6 * 6, 16), MultiClassDense(16, 4)]
    return Network(layers)


def data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 1, 12, 12), dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
    return X, y


def train(network, threads, epochs=2, batch_size=64, **options):
    parallel.set_num_threads(threads)
    X, y = data()
    history = network.train(X, y, epochs, 0.05, *CCE, log_file=None, batch_size=batch_size, verbose=0, seed=3,
                            **options)
    return history, network.get_weights()


def test_predict_split_across_two_threads_equals_one_thread(split_sizes):
    network = convnet().initialize(0)
    X, _ = data(300)
    parallel.set_num_threads(1)
    alone = network.predict(X, batch_size=256)
    parallel.set_num_threads(2)
    split = network.predict(X, batch_size=256)
    assert 2 in split_sizes  # the 256-sample batch really was split
    np.testing.assert_allclose(split, alone, rtol=1e-5, atol=1e-7)


def record_pieces(network, monkeypatch, X, delay=0.0, delay_worker=0.0):
    """Make the inference passes log (thread, first sample, samples) of each piece of X they run, after
    sleeping `delay` seconds (plus `delay_worker` on a worker thread, not the calling one). Sleeping gives
    up the GIL: with pieces this small, NumPy keeps it, and one thread could otherwise run them all."""
    pieces = []
    original = Passes.forward
    caller = threading.get_ident()

    def recording(passes, x, training, timings=None):
        thread = threading.get_ident()
        time.sleep(delay + (delay_worker if thread != caller else 0.0))
        pieces.append((thread, (x.ctypes.data - X.ctypes.data) // X[0].nbytes, len(x)))
        return original(passes, x, training, timings)

    monkeypatch.setattr(Passes, "forward", recording)
    return pieces, caller


def test_predict_threads_take_pieces_of_a_share_of_a_batch_each_sample_once(split_sizes, monkeypatch):
    """1000 samples at batch 256 on two threads: pieces of 128 samples (about a batch in flight, as before),
    every sample in exactly one piece, both threads at work, the threads meeting once; the outputs those of
    one thread."""
    network = convnet().initialize(0)
    X, _ = data(1000)
    parallel.set_num_threads(1)
    alone = network.predict(X, batch_size=256)
    pieces, _ = record_pieces(network, monkeypatch, X, delay=0.01)
    parallel.set_num_threads(2)
    split_sizes.clear()
    split = network.predict(X, batch_size=256)
    assert split_sizes == [2]  # the threads meet once, not after every batch
    assert sorted((first, size) for _, first, size in pieces) == [(start, min(128, 1000 - start))
                                                                   for start in range(0, 1000, 128)]
    assert len({thread for thread, _, _ in pieces}) == 2
    np.testing.assert_allclose(split, alone, rtol=1e-5, atol=1e-7)


def test_predict_a_slow_thread_takes_fewer_pieces(monkeypatch):
    """The pieces go to whichever thread is free: a worker slowed down (here by 0.2 s a piece) leaves most
    of them to the other thread instead of holding up the end with half of X."""
    network = convnet().initialize(0)
    X, _ = data(1000)
    pieces, caller = record_pieces(network, monkeypatch, X, delay_worker=0.2)
    parallel.set_num_threads(2)
    network.predict(X, batch_size=256)
    on_caller = sum(size for thread, _, size in pieces if thread == caller)
    assert on_caller > 1000 - on_caller and sum(size for _, _, size in pieces) == 1000


def test_predict_stops_at_the_piece_holding_nan_on_every_thread(monkeypatch):
    """A NaN in the first piece: a ValueError naming X, and neither thread runs on through the other pieces
    (each piece here takes 0.05 s; the check comes before it, so the thread that finds the NaN runs none)."""
    network = convnet().initialize(0)
    X, _ = data(2000)
    X[5, 0, 3, 3] = np.nan
    pieces, _ = record_pieces(network, monkeypatch, X, delay=0.05)
    parallel.set_num_threads(2)
    with pytest.raises(ValueError, match="NaN or inf in X"):
        network.predict(X, batch_size=64)
    assert len(pieces) <= 1  # of 63 pieces of 32: at most the one the other thread had begun


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_training_split_across_two_threads_follows_the_unsplit_run(split_sizes, dropout):
    history_1, weights_1 = train(convnet(dropout), threads=1)
    assert set(split_sizes) <= {1}
    history_2, weights_2 = train(convnet(dropout), threads=2)
    assert 2 in split_sizes  # batches of 64 ran as two shards of 32
    # Same dropout masks and the same steps: only the rounding of the shard gradients' sum differs.
    np.testing.assert_allclose(history_2.history["loss"], history_1.history["loss"], rtol=1e-4)
    for split, alone in zip(weights_2, weights_1):
        np.testing.assert_allclose(split, alone, rtol=1e-3, atol=1e-5)


class MeetingCounter:
    """Counts the training steps that met the threads (TrainingShards.run with more than one shard)."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = TrainingShards.run

        def run(shards, batch_size, bounds, work):
            if len(bounds) > 1:
                self.calls.append("step")
            return original(shards, batch_size, bounds, work)

        monkeypatch.setattr(TrainingShards, "run", run)


@pytest.mark.parametrize("loss", [CCE, (losses.mse_loss, losses.mse_loss_derivative)])
def test_a_split_step_meets_the_threads_once(monkeypatch, split_sizes, loss):
    """Each shard runs its forward pass, its rows' share of the loss and its backward pass in one meeting, for a
    fused loss (softmax + cross-entropy) as for one whose gradient is taken on the outputs (MSE)."""
    meetings = MeetingCounter(monkeypatch)
    parallel.set_num_threads(2)
    X, y = data()  # 160 samples: batches of 64, 64 and 32
    convnet().train(X, y, 1, 0.05, *loss, log_file=None, batch_size=64, verbose=0, seed=3)
    assert meetings.calls == ["step", "step"]  # the batch of 32 (4608 input values) is not worth splitting
    assert split_sizes == [2, 2, 2]  # and the check of X for NaN, split too


def test_a_user_loss_function_trains_on_one_thread(monkeypatch):
    """A loss of the user's may not be a mean over samples, so its gradient is never taken on a shard's rows."""
    meetings = MeetingCounter(monkeypatch)
    parallel.set_num_threads(2)
    X, y = data()
    convnet().train(X, y, 1, 0.05, lambda t, p: losses.mse_loss(t, p), losses.mse_loss_derivative, log_file=None,
                    batch_size=64, verbose=0, seed=3)
    assert meetings.calls == []


def test_training_with_a_loss_that_does_not_fuse_split_across_threads_follows_the_unsplit_run():
    runs = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        X, y = data()
        network = convnet()
        history = network.train(X, y, 2, 0.05, losses.mse_loss, losses.mse_loss_derivative, log_file=None,
                                batch_size=64, verbose=0, seed=3)
        runs.append((history.history["loss"], network.get_weights()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-4)
    for split, alone in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(split, alone, rtol=1e-3, atol=1e-5)


def test_augmented_training_split_across_threads_follows_the_unsplit_run():
    """The batch is augmented whole on the calling thread (one generator, as unsplit), then split."""
    augment = Augmentation(crop_padding=2, horizontal_flip=True)
    history_1, weights_1 = train(convnet(), threads=1, augment=augment)
    history_2, weights_2 = train(convnet(), threads=2, augment=augment)
    np.testing.assert_allclose(history_2.history["loss"], history_1.history["loss"], rtol=1e-4)
    for split, alone in zip(weights_2, weights_1):
        np.testing.assert_allclose(split, alone, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_nan_loss_in_a_split_step_stops_before_the_update(threads, recwarn):
    """A NaN weight makes every output NaN: the step stops before the update, with the stop warning alone,
    and the weights are put back."""
    network = convnet().initialize(0)
    weights = network.get_weights()
    weights[0][0, 0, 1, 1] = np.nan
    network.set_weights(weights)
    network.trained = True  # as if loaded: the seed does not draw new weights
    history, after = train(network, threads=threads, epochs=1)
    assert history.epoch == [] and "epoch 1, batch 1" in network.stop_reason
    assert [str(w.message) for w in recwarn] == [network.stop_reason]
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(after, weights))


def test_training_split_across_threads_is_reproducible():
    _, first = train(convnet(0.4), threads=2)
    _, second = train(convnet(0.4), threads=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def conv_bn_net():
    """BatchNorm after a convolution (statistics over N, H, W) and after a dense layer (over N)."""
    return Network([ConvLayer(3, 1, 8, padding=1, activation=None), BatchNorm(8), Activation("relu"), PoolingLayer(),
                    Flatten(), Dense(8 * 6 * 6, 16, activation=None), BatchNorm(16), Activation("relu"),
                    MultiClassDense(16, 4)])


def test_batchnorm_split_across_threads_uses_the_whole_batch_statistics(split_sizes):
    """As SyncBatchNorm: the shards sum their statistics, so the run follows the unsplit one."""
    history_1, weights_1 = train(conv_bn_net(), threads=1)
    history_2, weights_2 = train(conv_bn_net(), threads=2)
    assert 2 in split_sizes
    np.testing.assert_allclose(history_2.history["loss"], history_1.history["loss"], rtol=1e-4)
    for split, alone in zip(weights_2, weights_1):  # weights, biases and running statistics
        np.testing.assert_allclose(split, alone, rtol=1e-3, atol=1e-5)
    # Per-shard statistics would differ: the shards' own means are not the batch's.
    X, _ = data()
    layer = conv_bn_net().initialize(0).layers[0]
    z = layer.forward(X[:64])
    assert not np.allclose(z[:32].mean(axis=(0, 2, 3)), z.mean(axis=(0, 2, 3)), rtol=1e-3)


class FailsOffTheMainThread(Flatten):
    @Flatten.entry
    def forward(self, x, training=False, *, plan):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("this shard failed")
        return Flatten.forward(self, x, training, plan=plan)


def test_a_failing_shard_stops_the_others_waiting_at_batchnorm_and_its_error_surfaces():
    """Shard 0 waits in BatchNorm for shard 1's statistics; shard 1 fails first: no hang, its error is raised."""
    network = Network([ConvLayer(3, 1, 8, padding=1), FailsOffTheMainThread(), BatchNorm(8 * 12 * 12),
                       MultiClassDense(8 * 12 * 12, 4)])
    parallel.set_num_threads(2)
    X, y = data()
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the split step hung"))
    signal.alarm(30)
    try:
        with pytest.raises(RuntimeError, match="this shard failed"):
            network.train(X, y, 1, 0.05, *CCE, log_file=None, batch_size=64, verbose=0, seed=0)
        # and the layers are left usable: a whole-batch forward does not wait for shards that are gone
        assert network.forward(X[:64], training=True).shape == (64, 4)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_per_sample_training_is_never_split(monkeypatch):
    meetings = MeetingCounter(monkeypatch)
    _, weights_1 = train(convnet(), threads=1, epochs=1, batch_size=1)
    _, weights_2 = train(convnet(), threads=2, epochs=1, batch_size=1)
    assert meetings.calls == []
    assert all(np.array_equal(a, b) for a, b in zip(weights_1, weights_2))


def test_weights_replaced_between_runs_reach_every_thread():
    """set_weights binds new arrays; the next split step must use them, not the replicas' old ones."""
    results = []
    for threads in (1, 2):
        network = convnet().initialize(0)
        train(network, threads, epochs=1)
        network.set_weights([w * 0.5 for w in network.get_weights()])
        results.append(train(network, threads, epochs=1)[1])
    for split, alone in zip(results[1], results[0]):
        np.testing.assert_allclose(split, alone, rtol=1e-3, atol=1e-5)


def test_a_replica_shares_the_parameter_values_and_keeps_its_own_gradients():
    layer = Dense(5, 3, activation="linear").astype(np.float32)
    layer.reset_parameters(np.random.default_rng(0))
    twin = replica(layer)
    assert twin.weight is not layer.weight and twin.weight.value is layer.weight.value
    before = layer.weight.grad.copy()
    twin.forward(np.ones((4, 5), np.float32), training=True)
    twin.backward(np.ones((4, 3), np.float32))
    assert np.array_equal(layer.weight.grad, before) and not np.array_equal(twin.weight.grad, before)


def test_predict_keeps_its_buffers_for_the_next_call_until_free_scratch_and_training_keeps_its_own(
        monkeypatch):
    network = convnet().initialize(0)
    X, y = data()
    parallel.set_num_threads(1)  # one thread, so every call runs on the same buffers
    network.predict(X, batch_size=128)
    conv, pool = network._plan(X.shape[1:]).layers[:2]
    kept = conv.workspace(False).nbytes
    assert kept > 0 and pool.workspace(False).nbytes > 0
    network.predict(X, batch_size=128)
    assert conv.workspace(False).nbytes == kept  # reused, not grown
    network.free_scratch()
    assert network._plans == {}
    monkeypatch.setattr(network_module, "PREDICT_KEEP_BYTES", kept - 1)  # a layer holding more is let go of
    network.predict(X, batch_size=128)
    conv, pool = network._plan(X.shape[1:]).layers[:2]
    assert conv.workspace(False).nbytes == 0 and 0 < pool.workspace(False).nbytes < kept
    parallel.set_num_threads(2)
    network.train(X, y, 1, 0.05, *CCE, log_file=None, batch_size=64, verbose=0, seed=0)
    shards = network._plan(X.shape[1:], "train", 2)
    assert shards.passes[0].plan.layers[0].workspace(True).nbytes > 0  # reused by the next step and epoch


def test_two_replicas_run_one_after_the_other_on_one_thread_keep_their_own_columns():
    """A worker thread may take two shards' forward passes in a row; each backward must still see its own input."""
    rng = np.random.default_rng(3)
    layer = ConvLayer(3, 2, 4).astype(np.float32)
    layer.reset_parameters(rng)
    first, second = replica(layer), replica(layer)
    x1, x2 = (rng.normal(size=(3, 2, 8, 8)).astype(np.float32) for _ in range(2))
    upstream = np.ones((3, 4, 6, 6), np.float32)
    alone = replica(layer)
    alone.forward(x1, training=True)
    alone.backward(upstream)
    first.forward(x1, training=True)
    second.forward(x2, training=True)  # same thread, before first's backward
    first.backward(upstream)
    np.testing.assert_array_equal(first.weight.grad, alone.weight.grad)


def test_a_network_copied_after_predict_and_training_starts_with_empty_scratch_and_predicts_alike():
    """The plans hold per-thread buffers (threading.local): copy.deepcopy and pickle leave them behind."""
    import copy
    import pickle

    network = convnet().initialize(0)
    X, y = data()
    parallel.set_num_threads(2)
    network.train(X, y, 1, 0.05, *CCE, log_file=None, batch_size=64, verbose=0, seed=0)
    expected = network.predict(X, batch_size=64)
    assert network._plan(X.shape[1:]).layers[0].workspace(False).nbytes > 0
    for twin in (copy.deepcopy(network), pickle.loads(pickle.dumps(network))):
        assert twin._plans == {}
        np.testing.assert_array_equal(twin.predict(X, batch_size=64), expected)
