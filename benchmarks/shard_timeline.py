"""What a training shard costs alone and beside another: the second core's yield, layer work only.

A training step splits its batch into one shard per thread (scratchcnn/engine/threads.py). This
trains one of the benchmark nets twice on the same random data: on one thread at half the
batch size (one shard of B/2 images per step), then on two threads at batch B (two shards
of B/2 running at once), with BLAS on one thread throughout, and prints each shard's
forward and backward pass, median over the steps: wall time and the thread's CPU time.
If the second core were free, a shard would cost the same in both runs. Where it costs
more CPU time beside another, the two threads are slowing each other down (shared caches,
memory bandwidth, or a host that puts both virtual cores on one physical core); where its
wall time exceeds its CPU time, the thread was waiting (the GIL, or the host).

    python benchmarks/shard_timeline.py --net D --batch-size 32 --steps 20
"""
import argparse
import statistics
import threading
import time

from threadpoolctl import threadpool_limits

from scratchcnn import parallel
from scratchcnn.engine.passes import Passes

from bench_vs_torch import NETS, scratch_data, scratch_loss  # beside this script


def shard_passes(net_name, batch_size, threads, steps, seed=0):
    """{("forward" | "backward"): [(wall s, CPU s), ...]} for every shard pass of `steps` training steps."""
    _, make_network, shape = NETS[net_name]
    network = make_network().initialize(seed)
    X, y, _ = scratch_data(network, shape, batch_size * steps, seed)
    loss = scratch_loss(network)
    passes = {"forward": [], "backward": []}
    lock = threading.Lock()

    def timed(kind, fn):
        def run(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            result = fn(*args, **kwargs)
            with lock:
                passes[kind].append((time.perf_counter() - wall, time.thread_time() - cpu))
            return result
        return run

    originals = (Passes.forward, Passes.backward)  # every shard's passes run through these
    parallel.set_num_threads(threads)
    try:
        with threadpool_limits(1):
            network.train(X[:batch_size], y[:batch_size], 1, 0.01, *loss, log_file=None, batch_size=batch_size,
                          verbose=0, seed=seed)  # warm-up: buffers, thread start
            Passes.forward, Passes.backward = timed("forward", originals[0]), timed("backward", originals[1])
            network.train(X, y, 1, 0.01, *loss, log_file=None, batch_size=batch_size, verbose=0, seed=seed)
    finally:
        Passes.forward, Passes.backward = originals
        parallel.set_num_threads(None)
    return passes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", choices=sorted(NETS), default="D")
    parser.add_argument("--batch-size", type=int, default=32, help="the two-thread batch; one thread gets half")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    shard = args.batch_size // 2
    print(f"net {args.net}: shards of {shard} images, {args.steps} steps, BLAS on one thread; "
          "median ms per shard pass (wall / CPU)")
    alone = shard_passes(args.net, shard, 1, args.steps)
    beside = shard_passes(args.net, args.batch_size, 2, args.steps)
    for kind in ("forward", "backward"):
        (wall_1, cpu_1), (wall_2, cpu_2) = ([statistics.median(t[i] for t in runs[kind]) * 1e3 for i in (0, 1)]
                                            for runs in (alone, beside))
        print(f"  {kind:8s} alone {wall_1:7.2f} / {cpu_1:7.2f}   beside another {wall_2:7.2f} / {cpu_2:7.2f}   "
              f"CPU x{cpu_2 / cpu_1:.2f}")


if __name__ == "__main__":
    main()
