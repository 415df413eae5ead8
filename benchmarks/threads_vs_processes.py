"""What two inference shards cost each other: as two threads of one process, and as two processes.

`Network.predict` splits a batch into one shard per thread (scratchcnn/parallel.py). Each
shard here is `predict` on one thread, BLAS on one thread, over the same random images;
a round times it alone, then two at once as threads of this process (they share the GIL:
every NumPy call gives it up and takes it back), then two at once as processes (spawned
before the timing, each with its own network and images; nothing shared but the machine). Printed: microseconds per image per
shard, median over the rounds, and each pair's slowdown against alone. Threads slower
than processes is the price of the GIL; processes slower than alone is the machine's
(shared caches, memory bandwidth, the host).

    python benchmarks/threads_vs_processes.py --net D --images 128 --rounds 7
"""
import argparse
import multiprocessing
import statistics
import threading
import time

from threadpoolctl import threadpool_limits

from scratchcnn import parallel

from bench_vs_torch import NETS, scratch_data  # beside this script


def make_shard(net_name, images, passes, seed=0):
    """A function that runs `predict` `passes` times over `images` random images of the net (warmed up)."""
    _, make_network, shape = NETS[net_name]
    network = make_network().initialize(seed)
    X = scratch_data(network, shape, images, seed)[0]

    def shard():
        for _ in range(passes):
            network.predict(X, batch_size=images)

    shard()
    return shard


def _process(net_name, images, passes, start, done, stop):
    """Worker process: its own shard (one thread, BLAS on one thread), run each time the parent opens `start`."""
    parallel.set_num_threads(1)
    with threadpool_limits(1):
        shard = make_shard(net_name, images, passes)
        done.wait()  # ready
        while True:
            start.wait()
            if stop.is_set():
                return
            shard()
            done.wait()


def rounds(net_name, images, count, passes=4):
    """{"alone" | "two threads" | "two processes": [seconds, ...]}, `count` interleaved rounds, each setting
    timed over `passes` back-to-back predict calls per shard (the first after a pause runs from cold caches).

    Each shard runs on one thread (set_num_threads(1)) with BLAS on one thread, in the
    worker processes too.
    """
    parallel.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return _rounds(net_name, images, count, passes)
    finally:
        parallel.set_num_threads(None)


def _rounds(net_name, images, count, passes):
    # Spawned, not forked: each worker builds its own network and images, sharing no pages with this process
    # (a forked child shares them copy-on-write until one side writes).
    context = multiprocessing.get_context("spawn")
    start, done, stop = context.Barrier(3), context.Barrier(3), context.Event()
    workers = [context.Process(target=_process, args=(net_name, images, passes, start, done, stop), daemon=True)
               for _ in range(2)]
    for worker in workers:
        worker.start()
    shards = [make_shard(net_name, images, passes), make_shard(net_name, images, passes)]
    done.wait(timeout=300)  # the workers have built theirs (BrokenBarrierError if one failed to)
    times = {"alone": [], "two threads": [], "two processes": []}
    try:
        for _ in range(count):
            begin = time.perf_counter()
            shards[0]()
            times["alone"].append(time.perf_counter() - begin)
            threads = [threading.Thread(target=shard) for shard in shards]
            begin = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            times["two threads"].append(time.perf_counter() - begin)
            start.wait()
            begin = time.perf_counter()
            done.wait()
            times["two processes"].append(time.perf_counter() - begin)
    finally:
        stop.set()
        start.wait(timeout=10)  # lets the workers through to see `stop`
        for worker in workers:
            worker.join(timeout=10)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", choices=sorted(NETS), default="D")
    parser.add_argument("--images", type=int, default=128, help="images per shard (predict's 256 make two of 128)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--passes", type=int, default=4, help="predict calls per shard, back to back, per timing")
    args = parser.parse_args(argv)
    times = rounds(args.net, args.images, args.rounds, args.passes)
    alone = statistics.median(times["alone"])
    print(f"net {args.net}: predict on shards of {args.images} images, {args.passes} passes, {args.rounds} rounds; "
          "median us per image per shard")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:13s} {median / (args.images * args.passes) * 1e6:8.1f}   x{median / alone:.2f}")


if __name__ == "__main__":
    main()
