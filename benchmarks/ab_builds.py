"""Two builds of scratchcnn, timed against each other on one network: interleaved rounds, median ratio.

    python benchmarks/ab_builds.py 801ff20 HEAD --net D --mode train --batch-size 32
    python benchmarks/ab_builds.py HEAD~1 HEAD --net B --mode predict --rounds 9

On a noisy machine two runs of the same build can differ by a third, so comparing a
change against the build before it needs both timed in turns (A B A B ...). Each
revision is checked out into a temporary git worktree; every round starts one fresh
Python process per build, which imports that build, warms up on one pass, times the
next, and prints images per second. Printed: each build's median images/s and the
median over rounds of the per-round ratio B/A (above 1: B is faster). Same random
data, weights and thread count for both.

With --in-process, one fresh process imports both builds (copied in as the packages
scratchcnn_a and scratchcnn_b), warms each up, and times them in turns, the first
alternating from round to round: the steady state of a process that calls the library
again and again, as bench_vs_torch.py does. The two can disagree: a fresh process's
second pass still pays for memory the allocator has not yet kept (page faults).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

# The network, data and one timed pass of a build imported as module `sc`; argv = [net, mode, batch_size, images,
# seed, ...].
SETUP = """
import importlib, json, sys, time
import numpy as np
net_name, mode, batch_size, images, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def setup(sc):
    zoo, losses = (importlib.import_module(sc.__name__ + "." + name) for name in ("zoo", "losses"))
    factory, shape = {"A": (zoo.report_mnist_net, (1, 28, 28)), "B": (zoo.report_complex_net, (1, 28, 28)),
                      "C": (zoo.mnist_convnet, (1, 28, 28)), "D": (zoo.report_catsdogs_net, (3, 50, 50))}[net_name]
    network = factory().initialize(seed)
    rng = np.random.default_rng(seed)
    X = rng.random((images, *shape), dtype=np.float32)
    if net_name == "D":
        y, loss = rng.integers(0, 2, (images, 1)).astype(np.float32), (losses.bce_loss, losses.bce_loss_derivative)
    else:
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, images)]
        loss = (losses.categorical_crossentropy, losses.categorical_crossentropy_derivative)

    def timed_pass():
        start = time.perf_counter()
        if mode == "train":
            network.train(X, y, 1, 0.01, *loss, log_file=None, batch_size=batch_size, verbose=0, seed=seed)
        else:
            network.predict(X, batch_size=batch_size)
        return images / (time.perf_counter() - start)

    timed_pass()  # warm-up
    return timed_pass
"""

# Runs inside each build's process: argv as SETUP's.
CHILD = SETUP + """
import scratchcnn
speed = setup(scratchcnn)()
print(json.dumps({"images_per_s": speed, "module": scratchcnn.__file__}))
"""

# Both builds in one process, as the packages scratchcnn_a and scratchcnn_b under argv[7]; argv[6]: rounds.
IN_PROCESS_CHILD = SETUP + """
rounds, root = int(sys.argv[6]), sys.argv[7]
sys.path.insert(0, root)
builds = [importlib.import_module(name) for name in ("scratchcnn_a", "scratchcnn_b")]
passes = [setup(build) for build in builds]
speeds = [[], []]
for round_index in range(rounds):
    for which in ((0, 1) if round_index % 2 == 0 else (1, 0)):  # who goes first alternates
        speeds[which].append(passes[which]())
print(json.dumps({"a": speeds[0], "b": speeds[1], "modules": [build.network.__file__ for build in builds]}))
"""


def worktree(label, revision, parent):
    """Check `revision` out into the folder `label` under parent; its path."""
    path = os.path.join(parent, label)
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", path, revision], check=True)
    return path


def time_build(path, args):
    env = dict(os.environ, PYTHONPATH=path)  # this build's scratchcnn first on the path
    result = subprocess.run([sys.executable, "-c", CHILD, args.net, args.mode, str(args.batch_size), str(args.images),
                             str(args.seed)], env=env, cwd=path, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"the build in {path} failed to run:\n{result.stderr[-2000:]}")
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    if not os.path.realpath(timing["module"]).startswith(os.path.realpath(path)):  # an installed copy won
        raise RuntimeError(f"expected scratchcnn from {path}, but the child imported {timing['module']}")
    return timing["images_per_s"]


def time_in_one_process(paths, args):
    """{"a": [...], "b": [...]} images/s: both builds imported into one fresh process, timed in turns."""
    with tempfile.TemporaryDirectory() as root:
        for label, path in zip("ab", paths):
            shutil.copytree(os.path.join(path, "scratchcnn"), os.path.join(root, "scratchcnn_" + label))
        result = subprocess.run([sys.executable, "-c", IN_PROCESS_CHILD, args.net, args.mode, str(args.batch_size),
                                 str(args.images), str(args.seed), str(args.rounds), root],
                                cwd=root, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"the builds failed to run in one process:\n{result.stderr[-2000:]}")
        timing = json.loads(result.stdout.strip().splitlines()[-1])
        for label, module in zip("ab", timing["modules"]):
            if not os.path.realpath(module).startswith(os.path.join(os.path.realpath(root), "scratchcnn_" + label)):
                raise RuntimeError(f"expected build {label} from {root}, but the child imported {module}")
    return {"a": timing["a"], "b": timing["b"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", help="git revision of build A (the baseline)")
    parser.add_argument("b", help="git revision of build B")
    parser.add_argument("--net", choices="ABCD", default="D")
    parser.add_argument("--mode", choices=("train", "predict"), default="train")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=1024, help="images per timed pass (default 1024)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-process", action="store_true",
                        help="import both builds into one process and time them in turns there (steady state: "
                             "warm caches, buffers and allocator), instead of a fresh process per build and round")
    args = parser.parse_args()
    if args.rounds < 1 or args.images < 1 or args.batch_size < 1:
        parser.error(f"--rounds, --images and --batch-size expect positive integers. Received: rounds={args.rounds}, "
                     f"images={args.images}, batch_size={args.batch_size}")
    for revision in (args.a, args.b):
        if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                          capture_output=True).returncode:
            parser.error(f"expected a git revision of this repository (a commit, branch or tag). Received: {revision!r}")
    with tempfile.TemporaryDirectory() as parent:
        paths = []
        try:
            for label, revision in (("a", args.a), ("b", args.b)):
                paths.append(worktree(label, revision, parent))
            if args.in_process:
                speeds = time_in_one_process(paths, args)
            else:
                speeds = {"a": [], "b": []}
                for _ in range(args.rounds):
                    for key, path in zip("ab", paths):
                        speeds[key].append(time_build(path, args))
        finally:
            for path in paths:
                subprocess.run(["git", "worktree", "remove", "--force", path], check=False)
    ratios = [b / a for a, b in zip(speeds["a"], speeds["b"])]
    print(f"net {args.net}, {args.mode}, batch {args.batch_size}, {args.images} images, {args.rounds} rounds"
          + (", both builds in one process" if args.in_process else ", a fresh process per build and round"))
    print(f"A {args.a}: {statistics.median(speeds['a']):.0f} img/s   B {args.b}: {statistics.median(speeds['b']):.0f} "
          f"img/s   B/A {statistics.median(ratios):.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
