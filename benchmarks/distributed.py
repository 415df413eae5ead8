"""Data-parallel training on this machine, and what it projects for a cluster.

Run it as two MPI processes free to use every core (mpiexec binds each to one core otherwise),
which yield their core while they wait (Open MPI spins otherwise, which on a machine
shared with other work takes the core from the process it waits for):

    mpiexec --bind-to none --mca mpi_yield_when_idle 1 -n 2 python benchmarks/distributed.py
    mpiexec --bind-to none --mca mpi_yield_when_idle 1 -n 2 python benchmarks/distributed.py --quick --nets C,catsdogs

(as root, add --allow-run-as-root).

For each network it times one epoch of `Network.train` over random images in three
settings, interleaved round by round (the order rotating): 1 process x 1 thread, 1
process x 2 threads, and 2 processes x 1 thread (`distributed=True`); while one process
trains alone, the other sleeps (an MPI call waiting would spin on a core). Printed:
images per second (median over rounds), 2 x 1 against 1 x 2, the bytes of the gradient
all-reduce per step, its seconds per step inside training (waiting for the slower
process included) and alone, then the cost model and its projection (see `project`).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import scratchcnn
from scratchcnn import BatchNorm, zoo
from scratchcnn.distributed import connect
from scratchcnn.experiments.recipes import RECIPES

from bench_vs_torch import NETS, scratch_data, scratch_loss  # beside this script

SEED = 0
SETTINGS = ("1x1", "1x2", "2x1")  # processes x threads
# What an all-reduce costs on a network: (name, bytes per second, latency in seconds per message).
LINKS = [("10 Gbit/s Ethernet", 10e9 / 8, 30e-6), ("100 Gbit/s Ethernet", 100e9 / 8, 5e-6)]
PROCESSES = (2, 8, 32, 128)


def cases():
    """name -> (description, network builder, input shape, batch size, optimizer, learning rate, augment)."""
    table = {name: (text, build, shape, 64, "sgd", 1e-3, None) for name, (text, build, shape) in NETS.items()}
    for name, build, shape in (("mnist", lambda: zoo.mnist_convnet(dropout=0.4), (1, 28, 28)),
                               ("catsdogs", lambda: zoo.batchnorm_photo_convnet(3), (3, 64, 64))):
        recipe = RECIPES[name]
        table[name] = (f"the {name} recipe's network", build, shape, recipe.batch_size, recipe.optimizer, 1e-4,
                       recipe.augment)
    return table


def quiet_barrier(comm):
    """Wait for the other process sleeping, not spinning: Ibarrier polled every 2 ms."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(0.002)


def train_once(case, network, X, y, setting, seed):
    """Seconds of one epoch of network.train over X in `setting` (this process's part of it)."""
    _, _, _, batch_size, optimizer, learning_rate, augment = case
    processes, threads = map(int, setting.split("x"))
    scratchcnn.set_num_threads(threads)
    with threadpool_limits(threads, user_api="blas"):
        start = time.perf_counter()
        history = network.train(X, y, 1, learning_rate, *scratch_loss(network), log_file=None, batch_size=batch_size,
                                optimizer=optimizer, seed=seed, verbose=0, augment=augment,
                                distributed=processes > 1)
        seconds = time.perf_counter() - start
    if network.stop_reason is not None:
        raise RuntimeError(f"training stopped: {network.stop_reason}")
    return seconds, getattr(history, "gradient_allreduce", None)


def measure(world, name, case, images, rounds):
    """{"images_per_s": {setting: [per round]}, "allreduce": {...}} for one network, the settings interleaved."""
    _, build, shape, batch_size, *_ = case
    networks = {setting: build().initialize(SEED) for setting in SETTINGS}
    X, y, _ = scratch_data(networks["1x1"], shape, images, SEED)
    speeds, inside = {setting: [] for setting in SETTINGS}, []
    for round_index in range(-1, rounds):  # round -1 warms every setting up (scratch memory, plans, caches)
        order = SETTINGS[round_index % 3:] + SETTINGS[:round_index % 3]
        for setting in order:
            quiet_barrier(world.comm)
            if setting == "2x1" or world.rank == 0:
                part = X if round_index >= 0 else X[:2 * batch_size]
                seconds, allreduce = train_once(case, networks[setting], part, y[:len(part)], setting,
                                                SEED + 1 + round_index)
                if round_index >= 0:
                    speeds[setting].append(len(part) / seconds)
                    if allreduce:
                        inside.append(allreduce["seconds"] / allreduce["steps"])
            quiet_barrier(world.comm)
    params = networks["1x1"].count_params()
    return {"images_per_s": speeds, "allreduce_bytes": (params + 2) * 4, "params": params,
            "allreduce_s_in_training": statistics.median(inside),
            "allreduce_s_alone": allreduce_alone(world, params + 2),
            "serial_s": serial_parts(world, case, networks["1x1"], X)}


def allreduce_alone(world, values, repeats=30):
    """Median seconds of one all-reduce of `values` float32 (both processes ready: no waiting for the other)."""
    buffer = np.ones(values, dtype=np.float32)
    times = []
    for _ in range(repeats):
        world.comm.Barrier()
        start = time.perf_counter()
        world.sum_in_place(buffer)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def serial_parts(world, case, network, X):
    """{"augment": s, "optimizer": s}: the parts of a step every process does whole, on one thread (process 0).

    Augmenting a batch splits over the processes too (each augments its rows), but the
    optimiser's step over every parameter does not.
    """
    _, _, _, batch_size, _, _, augment = case
    result = None
    if world.rank == 0:
        with threadpool_limits(1, user_api="blas"):
            rng = np.random.default_rng(SEED)
            augment_s = min(_seconds(lambda: augment(X[:batch_size], rng)) for _ in range(5)) if augment else 0.0
            optimizer_s = min(_seconds(network.optimizer.step) for _ in range(5))
        syncs = 4 * sum(isinstance(layer, BatchNorm) for layer in network.layers)
        result = {"augment": augment_s, "optimizer": optimizer_s, "syncs": syncs}
    quiet_barrier(world.comm)
    return world.broadcast(result)


def _seconds(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def ring_allreduce_s(processes, nbytes, bandwidth, latency):
    """A ring all-reduce: 2 (p - 1) / p * bytes / bandwidth + 2 (p - 1) * latency."""
    return 2 * (processes - 1) / processes * nbytes / bandwidth + 2 * (processes - 1) * latency


def small_allreduce_s(processes, latency):
    """An all-reduce of a few numbers (BatchNorm's statistics), by recursive doubling: ceil(log2 p) * latency."""
    return math.ceil(math.log2(processes)) * latency


def step_s(processes, batch_size, per_image, serial, nbytes, bandwidth, latency):
    """One step of batch_size images on `processes` processes of one core each: its compute split, its
    augmentation split, its optimiser step whole, then the all-reduces (none on one process): the gradients',
    and serial["syncs"] small ones (4 per BatchNorm layer: count, mean and variance forward, two sums backward)."""
    allreduce = 0.0
    if processes > 1:
        allreduce = ring_allreduce_s(processes, nbytes, bandwidth, latency)
        allreduce += serial.get("syncs", 0) * small_allreduce_s(processes, latency)
    return (batch_size * per_image + serial["augment"]) / processes + serial["optimizer"] + allreduce


def efficiency(processes, batch_size, per_image, serial, nbytes, bandwidth, latency):
    one = step_s(1, batch_size, per_image, serial, nbytes, bandwidth, latency)
    return one / (processes * step_s(processes, batch_size, per_image, serial, nbytes, bandwidth, latency))


def per_image_s(result, batch_size):
    """Seconds of compute per image on one core: the 1 x 1 step less what the model counts apart."""
    step = batch_size / statistics.median(result["images_per_s"]["1x1"])
    serial = result["serial_s"]
    return (step - serial["augment"] - serial["optimizer"]) / batch_size


def batch_needed(processes, target, per_image, serial, nbytes, bandwidth, latency, largest=1 << 16):
    """The smallest global batch (a multiple of `processes`) projected at `target` efficiency, or None."""
    batch = processes
    while batch <= largest:
        if efficiency(processes, batch, per_image, serial, nbytes, bandwidth, latency) >= target:
            return batch
        batch += processes
    return None


def report(results, table):
    print("\nimages/s of training, median over rounds (1 x 2: one process on two threads; 2 x 1: two processes "
          "on one thread each)")
    print(f"{'net':<10}{'batch':>6}{'1 x 1':>9}{'1 x 2':>9}{'2 x 1':>9}{'2x1/1x2':>9}{'params':>10}"
          f"{'all-reduce':>12}{'in step':>10}{'alone':>9}")
    for name, result in results.items():
        speeds = {setting: statistics.median(values) for setting, values in result["images_per_s"].items()}
        print(f"{name:<10}{table[name][3]:>6}{speeds['1x1']:>9.1f}{speeds['1x2']:>9.1f}{speeds['2x1']:>9.1f}"
              f"{speeds['2x1'] / speeds['1x2']:>9.2f}{result['params']:>10,}{result['allreduce_bytes'] / 1e6:>10.2f}MB"
              f"{result['allreduce_s_in_training'] * 1e3:>8.2f}ms{result['allreduce_s_alone'] * 1e3:>7.2f}ms")


def project(results, table):
    """The cost model: the measured compute per image on one core, the parts of a step that do not split, and a
    ring all-reduce over the stated links; efficiency = T(1) / (p T(p)) at each model's global batch."""
    print("\nCost model (p processes of one core each, global batch B, per step):")
    print("  T(p) = (B * c + a) / p + o + [p > 1] * (2 (p - 1) / p * bytes / bandwidth + 2 (p - 1) * latency"
          " + s * ceil(log2 p) * latency)")
    print("  c: compute per image on one core (1 x 1 less a and o); a: augmenting B images; o: the optimiser step;")
    print("  s: small all-reduces per step (BatchNorm's statistics, 4 per BatchNorm layer); bytes: the gradients")
    print("  efficiency(p) = T(1) / (p * T(p));  links: " + "; ".join(
        f"{link} {bandwidth * 8 / 1e9:.0f} Gbit/s, {latency * 1e6:.0f} us" for link, bandwidth, latency in LINKS))
    header = "".join(f"{'p=' + str(p):>8}" for p in PROCESSES)
    print(f"{'net':<10}{'B':>5}{'c ms':>8}{'a ms':>7}{'o ms':>7}{'s':>4}  {'link':<20}{header}  batch for 80 % at p=32")
    projections = {}
    for name, result in results.items():
        batch_size, serial = table[name][3], result["serial_s"]
        per_image = per_image_s(result, batch_size)
        for link, bandwidth, latency in LINKS:
            args = (per_image, serial, result["allreduce_bytes"], bandwidth, latency)
            values = [efficiency(p, max(batch_size, p), *args) for p in PROCESSES]
            needed = batch_needed(32, 0.8, *args)
            projections[(name, link)] = {"efficiency": dict(zip(PROCESSES, values)), "batch_for_80_at_32": needed}
            cells = "".join(f"{value * 100:>7.0f}%" for value in values)
            print(f"{name:<10}{batch_size:>5}{per_image * 1e3:>8.2f}{serial['augment'] * 1e3:>7.2f}"
                  f"{serial['optimizer'] * 1e3:>7.2f}{serial['syncs']:>4}  {link:<20}{cells}  {needed or 'none'}")
    print("  (p above B: one image per process, B = p)")
    return projections


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", default="A,B,C,D,mnist,catsdogs", help="comma-separated: A, B, C, D, mnist, catsdogs")
    parser.add_argument("--quick", action="store_true", help="fewer images and rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per setting (default 3, quick 2)")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    args = parser.parse_args()
    world = connect(True)
    if world.size != 2:
        sys.exit("Run as two processes: mpiexec --bind-to none --mca mpi_yield_when_idle 1 -n 2 "
                 "python benchmarks/distributed.py")
    if min(world.gather(len(os.sched_getaffinity(0)))) < 2:
        sys.exit("Each process needs two cores for the 1 x 2 setting: run mpiexec with --bind-to none")
    table, rounds = cases(), args.rounds or (2 if args.quick else 3)
    results = {}
    for name in args.nets.split(","):
        steps = (3 if args.quick else 8) if name == "catsdogs" else (8 if args.quick else 32)
        images = steps * table[name][3]
        results[name] = measure(world, name, table[name], images, rounds)
        if world.rank == 0:
            print(f"{name}: {images} images per timing, {rounds} rounds", flush=True)
    if world.rank == 0:
        report(results, table)
        projections = project(results, table)
        if args.json:
            with open(args.json, "w") as file:
                json.dump({"results": results, "projections": {f"{name} / {link}": value for (name, link), value
                                                               in projections.items()}}, file, indent=1)


if __name__ == "__main__":
    main()
