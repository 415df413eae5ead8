"""scratchcnn against PyTorch (CPU, float32, same threads) on the report's networks.

    python benchmarks/bench_vs_torch.py                  # full: about 5 minutes on 2 quiet cores
    python benchmarks/bench_vs_torch.py --quick          # about a minute
    python benchmarks/bench_vs_torch.py --nets A,C --rounds 5 --json results.json
    python benchmarks/bench_vs_torch.py --only augment   # one section alone

Both libraries train the same network (weights copied from scratchcnn into an
equivalent torch nn.Sequential) on the same random data, in the same batches, with
plain SGD; timings alternate scratchcnn, torch, scratchcnn, torch... and the ratio
scratchcnn/torch of images per second is the median over the rounds. scratchcnn is
timed through its public API (`Network.train` for one epoch, `Network.predict`), so
input checks, shuffling, the loss and the metrics are all included. The "augment"
section times the `mnist` recipe's epoch with and without its on-the-fly augmentation
(scratchcnn only, real MNIST images). The figures and how to read them: docs/performance.md.

Each case also prints the page faults per image the process took during each library's
timed runs. Both allocate through glibc, whose handling of large arrays (a fresh mapping,
given back when freed, unless its thresholds have grown) depends on the whole process's
history: torch's activations of a batch of 256 D images cost it about 20 page faults per
image under glibc's defaults, none with MALLOC_MMAP_THRESHOLD_=67108864
MALLOC_TRIM_THRESHOLD_=268435456 in the environment (torch's best case; scratchcnn keeps
its inference buffers and takes almost none either way). Run both ways to see it.
"""
import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_info

import scratchcnn
from scratchcnn import losses, zoo
from scratchcnn.experiments.recipes import RECIPES
from scratchcnn.layers import ConvLayer, Dense, Flatten, PoolingLayer

SEED = 0
LEARNING_RATE = 0.01
REPORT_SECONDS = 18557  # the report's MNIST protocol: 5 h 09 min
PROTOCOL_TARGET_S = 30.0
FULL_EPOCH_RSS_TARGET_MIB = 1024.0
AUGMENT_RECIPE = "mnist"
AUGMENT_IMAGES = {"full": 4096, "quick": 512, "smoke": 128}  # real MNIST images per timing; smoke: hidden --smoke
AUGMENT_TARGET_PERCENT = 15.0                   # augmentation may slow an epoch by at most 15 %

# What --only can select; --quick runs QUICK_SECTIONS unless --only names others.
SECTIONS = ("train", "predict", "protocol", "full-epoch", "augment")
QUICK_SECTIONS = ("train", "predict", "augment")

# name -> (description, network factory, per-sample input shape)
NETS = {
    "A": ("report MNIST net (listing 10)", zoo.report_mnist_net, (1, 28, 28)),
    "B": ("report complex net (listing 9)", zoo.report_complex_net, (1, 28, 28)),
    "C": ("Keras-style MNIST convnet", zoo.mnist_convnet, (1, 28, 28)),
    "D": ("report cats/dogs net (listing 13)", zoo.report_catsdogs_net, (3, 50, 50)),
}
# Minimum scratchcnn/torch ratio of images per second, by (net, mode).
TARGETS = {(net, mode): ratio for net, ratio in {"A": 1.0, "B": 0.9, "C": 0.9, "D": 1.0}.items()
           for mode in ("train 32", "train 64")}
TARGETS.update({(net, "predict 256"): 1.3 for net in NETS})

# (mode, batch size, images per timing in full mode, in quick mode)
CASES = [("train 1", 1, 256, 32), ("train 32", 32, 1024, 128), ("train 64", 64, 1024, 128),
         ("predict 256", 256, 2048, 512)]


# -- the machine ----------------------------------------------------------------
def machine_info():
    """CPU, cores, library versions, BLAS kernel and threads, the OpenBLAS variables, the load."""
    import torch

    cpu = "unknown"
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = [entry for entry in threadpool_info() if entry["user_api"] == "blas"]
    blas = blas[0] if blas else {}
    return {
        "cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "blas": {key: blas.get(key) for key in ("internal_api", "version", "architecture", "num_threads",
                                                "threading_layer")},
        "blas_library": os.path.basename(blas.get("filepath", "?")),
        "scratchcnn_threads": scratchcnn.get_num_threads(),
        "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_mkldnn": torch.backends.mkldnn.is_available(), "torch_mkl": torch.backends.mkl.is_available(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "loadavg": load_average(),
    }


def load_average():
    """The 1, 5 and 15 minute load averages, as strings."""
    with open("/proc/loadavg") as file:
        return file.read().split()[:3]


def print_machine(info):
    blas = info["blas"]
    print(f"CPU: {info['cpu']}, {info['logical_cores']} logical cores ({info['usable_cores']} usable)")
    print(f"Python {info['python']}, NumPy {info['numpy']}, torch {info['torch']}")
    print(f"NumPy BLAS: {blas['internal_api']} {blas['version']} ({info['blas_library']}), kernel "
          f"{blas['architecture']}, {blas['num_threads']} threads ({blas['threading_layer']})")
    print(f"scratchcnn: {info['scratchcnn_threads']} threads (a batch is split into one shard per thread, BLAS held to "
          "one thread inside each; see scratchcnn/parallel.py)")
    print(f"torch: {info['torch_threads']} intra-op threads (set to the BLAS threads), "
          f"{info['torch_interop_threads']} inter-op; mkldnn={info['torch_mkldnn']}, mkl={info['torch_mkl']}")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        value = info[name]
        print(f"{name}: {'not set' if value is None else repr(value) + ' (set: it changes the BLAS kernel/blocking)'}")
    print(f"load average at start: {' '.join(info['loadavg'])}")
    if float(info["loadavg"][0]) > 0.5 * info["usable_cores"]:
        print(f"WARNING: the machine is busy (load {info['loadavg'][0]} on {info['usable_cores']} cores). Every number "
              "is noisy, torch's most of all: its OpenMP threads wait for each other at every operation, so a "
              "descheduled thread stalls them all (batch 1 suffers worst).")


# -- the same network in torch --------------------------------------------------
def torch_model(network):
    """The equivalent nn.Sequential with scratchcnn's weights copied in; it ends at the logits."""
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leakyrelu": nn.LeakyReLU}
    modules, last = [], len(network.layers) - 1
    for index, layer in enumerate(network.layers):
        if isinstance(layer, ConvLayer):
            module = nn.Conv2d(layer.depth, layer.num_filters, layer.filter_size, layer.stride, layer.padding)
            weight = layer.weight.value                                    # (F, C, k, k): Conv2d's layout
        elif isinstance(layer, Dense):
            module = nn.Linear(layer.input_dim, layer.output_dim)
            weight = layer.weight.value.T                                  # (in, out) -> Linear's (out, in)
        elif isinstance(layer, PoolingLayer):
            module = (nn.MaxPool2d if layer.mode == "max" else nn.AvgPool2d)(layer.size, layer.stride)
        elif isinstance(layer, Flatten):
            module = nn.Flatten()
        else:
            raise ValueError(f"No torch equivalent for {layer!r}")
        if layer.parameters():
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
                module.bias.copy_(torch.from_numpy(layer.bias.value))
        modules.append(module)
        activation = getattr(layer, "activation", "linear")
        if index == last:
            if activation not in ("softmax", "sigmoid"):
                raise ValueError(f"The last layer must end in softmax or sigmoid. Received: {activation!r}")
        elif activation != "linear":
            modules.append(activations[activation]())
    return nn.Sequential(*modules).float()


def torch_loss(network):
    """(loss on logits, logits -> the probabilities scratchcnn outputs, correct-count) for the output layer."""
    import torch.nn.functional as F

    if network.layers[-1].activation == "softmax":
        return (F.cross_entropy, lambda logits: logits.softmax(dim=1),
                lambda logits, y: int((logits.argmax(dim=1) == y).sum()))
    return (F.binary_cross_entropy_with_logits, lambda logits: logits.sigmoid(),
            lambda logits, y: int(((logits >= 0) == (y >= 0.5)).sum()))


# -- data ------------------------------------------------------------------------
def scratch_data(network, input_shape, count, seed):
    """Uniform images and random labels: (X (N, C, H, W), scratchcnn targets, class indices or None for 0/1)."""
    rng = np.random.default_rng(seed)
    X = rng.random((count, *input_shape), dtype=np.float32)
    outputs = network.output_shapes(input_shape)[-1][1][0]
    if outputs > 1:
        labels = rng.integers(0, outputs, count)
        return X, np.eye(outputs, dtype=np.float32)[labels], labels            # (N, K) one-hot
    return X, rng.integers(0, 2, (count, 1)).astype(np.float32), None          # (N, 1) 0/1


def random_data(network, input_shape, count, seed):
    """Uniform images and random labels: (X, scratchcnn targets, torch X, torch targets)."""
    import torch

    X, y, labels = scratch_data(network, input_shape, count, seed)
    y_torch = torch.from_numpy(labels if labels is not None else y)            # class indices, or (N, 1) 0/1
    return X, y, torch.from_numpy(X), y_torch


def scratch_loss(network):
    if network.layers[-1].activation == "softmax":
        return losses.categorical_crossentropy, losses.categorical_crossentropy_derivative
    return losses.bce_loss, losses.bce_loss_derivative


# -- one timing of each library -----------------------------------------------------
def time_scratch_train(network, X, y, batch_size, seed):
    loss_fn, derivative = scratch_loss(network)
    start = time.perf_counter()
    network.train(X, y, 1, LEARNING_RATE, loss_fn, derivative, log_file=None, batch_size=batch_size,
                  optimizer="sgd", shuffle=True, seed=seed, verbose=0)
    return time.perf_counter() - start


def time_torch_train(model, optimizer, loss, X, y, batch_size, seed):
    """One epoch as Network.train runs it: the same shuffled order, loss and accuracy accumulated."""
    loss_fn, _, count_correct = loss
    model.train()
    start = time.perf_counter()
    order = np.random.default_rng([seed, 0]).permutation(len(X))  # Network.train's per-epoch order
    total_loss, correct = 0.0, 0
    for begin in range(0, len(X), batch_size):
        index = order[begin:begin + batch_size]
        x_batch, y_batch = X[index], y[index]
        optimizer.zero_grad(set_to_none=True)
        logits = model(x_batch)
        batch_loss = loss_fn(logits, y_batch)
        batch_loss.backward()
        optimizer.step()
        total_loss += batch_loss.item() * len(index)
        correct += count_correct(logits.detach(), y_batch)
    return time.perf_counter() - start


def time_scratch_predict(network, X, batch_size):
    start = time.perf_counter()
    network.predict(X, batch_size=batch_size)
    return time.perf_counter() - start


def time_torch_predict(model, loss, X, batch_size):
    import torch

    _, probabilities, _ = loss
    model.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        outputs = None
        for begin in range(0, len(X), batch_size):
            out = probabilities(model(X[begin:begin + batch_size]))
            if outputs is None:
                outputs = torch.empty((len(X), *out.shape[1:]))
            outputs[begin:begin + len(out)] = out
    return time.perf_counter() - start


# -- one (net, mode) case: rounds of scratchcnn, torch, scratchcnn, torch... ----------------
def run_case(net_name, mode, batch_size, count, rounds):
    """Time one (net, mode) case: a warm-up of each library, then `rounds` of scratchcnn, torch."""
    import torch

    _, make_network, input_shape = NETS[net_name]
    network = make_network().initialize(SEED)
    model, loss = torch_model(network), torch_loss(network)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    X, y, X_torch, y_torch = random_data(network, input_shape, count, SEED)
    agreement = output_difference(network, model, loss, X[:8])
    training = mode.startswith("train")
    if training:  # each takes (images, seed); Network.train's first call with seed=SEED re-draws the copied weights
        run_scratch = lambda part, seed: time_scratch_train(network, X[part], y[part], batch_size, seed)  # noqa: E731
        run_torch = lambda part, seed: time_torch_train(  # noqa: E731
            model, optimizer, loss, X_torch[part], y_torch[part], batch_size, seed)
    else:
        run_scratch = lambda part, seed: time_scratch_predict(network, X[part], batch_size)  # noqa: E731
        run_torch = lambda part, seed: time_torch_predict(model, loss, X_torch[part], batch_size)  # noqa: E731
    warm = slice(0, min(count, 2 * batch_size if training else batch_size))
    run_scratch(warm, SEED)
    run_torch(warm, SEED)
    after_warmup = output_difference(network, model, loss, X[:8]) if training else None
    scratch_s, torch_s = [], []
    faults = {"scratch": 0, "torch": 0}  # page faults the process took during each library's timed runs
    for round_index in range(rounds):
        for library, run, times in (("scratch", run_scratch, scratch_s), ("torch", run_torch, torch_s)):
            gc.collect()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            times.append(run(slice(None), SEED + 1 + round_index))
            faults[library] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    ratios = [t / s for s, t in zip(scratch_s, torch_s)]  # images/s ratio = torch time / scratchcnn time
    return {
        "net": net_name, "mode": mode, "batch_size": batch_size, "images": count, "rounds": rounds,
        "scratch_images_per_s": count / statistics.median(scratch_s),
        "torch_images_per_s": count / statistics.median(torch_s),
        "ratio": statistics.median(ratios), "ratios": ratios, "scratch_s": scratch_s, "torch_s": torch_s,
        "max_output_difference": agreement, "max_output_difference_after_warmup": after_warmup,
        "scratch_peak_mib": scratch_peak_memory(network, X, y, batch_size, training),
        "scratch_faults_per_image": faults["scratch"] / (rounds * count),
        "torch_faults_per_image": faults["torch"] / (rounds * count),
        "target": TARGETS.get((net_name, mode)),
    }


def output_difference(network, model, loss, X):
    """Largest |scratchcnn - torch| over the output probabilities of a few images (the models must agree)."""
    import torch

    _, probabilities, _ = loss
    with torch.inference_mode():
        theirs = probabilities(model.eval()(torch.from_numpy(X))).numpy()
    return float(np.abs(network.predict(X) - theirs).max())


def scratch_peak_memory(network, X, y, batch_size, training):
    """Peak NumPy memory (MiB) allocated during one untimed epoch or predict; the data itself is not counted.

    NumPy reports its buffers to tracemalloc; torch's allocator does not, so this is scratchcnn-only.
    Inference keeps its scratch buffers from one predict to the next: they are let go of first,
    so the peak counts them.
    """
    subset = slice(0, min(len(X), 2 * batch_size))
    network.free_scratch()
    tracemalloc.start()
    try:
        if training:
            time_scratch_train(network, X[subset], y[subset], batch_size, SEED)
        else:
            time_scratch_predict(network, X[subset], batch_size)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# -- the report's protocol and a full MNIST epoch ---------------------------------------
def report_protocol():
    """load_mnist(30) -> 210 training images, listing 10, 100 epochs of per-sample SGD at lr 0.0003, validating each."""
    from scratchcnn.datasets import load_mnist

    start = time.perf_counter()
    train_x, train_y, test_x, test_y, val_x, val_y = load_mnist(30)
    network = zoo.report_mnist_net()
    loaded = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:  # the report wrote a training log; so do we
        network.train(train_x, train_y, 100, 0.0003, losses.categorical_crossentropy,
                      losses.categorical_crossentropy_derivative, log_file=os.path.join(folder, "log.txt"),
                      val_X=val_x, val_y=val_y, batch_size=1, seed=SEED, verbose=0)
    trained = time.perf_counter()
    _, _, accuracy = network.evaluate(test_x, test_y, losses.categorical_crossentropy)
    end = time.perf_counter()
    return {"wall_s": end - start, "load_s": loaded - start, "train_s": trained - loaded, "test_accuracy": accuracy,
            "train_images": len(train_x), "report_s": REPORT_SECONDS, "speedup": REPORT_SECONDS / (end - start),
            "target_s": PROTOCOL_TARGET_S}


def full_epoch_child():
    """Run in a subprocess: one Adam epoch of net C at batch 64 over the 60 000 MNIST images; print JSON.

    Only loading and the epoch run here (no evaluation), so its peak resident memory is theirs.
    """
    from scratchcnn.datasets import mnist

    start = time.perf_counter()
    (x_train, y_train), _ = mnist.load_data()
    X = x_train[:, None].astype(np.float32)                                # (60000, 1, 28, 28): one float copy
    X /= 255
    del x_train
    network = zoo.mnist_convnet()
    loaded = time.perf_counter()
    loaded_rss_kib = own_peak_rss_kib()
    history = network.train(X, y_train, 1, 1e-3, losses.categorical_crossentropy,
                            losses.categorical_crossentropy_derivative, log_file=None, batch_size=64,
                            optimizer="adam", seed=SEED, verbose=0)
    trained = time.perf_counter()
    print(json.dumps({"load_s": loaded - start, "train_s": trained - loaded, "images": len(X),
                      "train_accuracy": history.history["accuracy"][-1],
                      "peak_rss_after_loading_mib": loaded_rss_kib / 1024, "peak_rss_mib": own_peak_rss_kib() / 1024}))


def own_peak_rss_kib():
    """This process's peak resident memory in KiB: VmHWM of its own address space on Linux.

    Not getrusage's ru_maxrss: a child started by fork/vfork + exec inherits the parent's
    high-water mark through the exec, so a child of a large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def full_epoch():
    """The full-MNIST epoch in a fresh interpreter, so its peak RSS is scratchcnn's alone (no torch)."""
    command = [sys.executable, os.path.abspath(__file__), "--full-epoch-child"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    details = json.loads(result.stdout.strip().splitlines()[-1])  # its peak_rss_mib is the child's own
    details.update(wall_s=wall, images_per_s=details["images"] / details["train_s"],
                   target_mib=FULL_EPOCH_RSS_TARGET_MIB)
    return details


# -- augmentation overhead: the mnist recipe's epoch without and with on-the-fly augmentation ---------
def mnist_images(count):
    """The first `count` MNIST training images as float32 (N, 1, 28, 28) in [0, 1], and their labels (N,)."""
    from scratchcnn.datasets import mnist

    (x_train, y_train), _ = mnist.load_data()
    X = x_train[:count, None].astype(np.float32)                           # (N, 1, 28, 28)
    X /= 255
    return X, y_train[:count]


def time_recipe_epoch(recipe, X, y, augment):
    """One epoch of `recipe`'s training on X, on a freshly built network (seed SEED); network building is untimed."""
    network = recipe.build(None)
    loss = getattr(losses, recipe.loss)
    derivative = getattr(losses, recipe.loss + "_derivative")
    gc.collect()
    start = time.perf_counter()
    network.train(X, y, 1, recipe.learning_rate, loss, derivative, log_file=None, batch_size=recipe.batch_size,
                  optimizer=recipe.optimizer, seed=SEED, verbose=0, augment=augment)
    return time.perf_counter() - start


def time_augment_alone(augment, X, batch_size):
    """The augmentation alone over one epoch's batches (no training): its direct cost, steadier than a difference."""
    rng = np.random.default_rng(SEED)
    start = time.perf_counter()
    for begin in range(0, len(X), batch_size):
        augment(X[begin:begin + batch_size], rng)
    return time.perf_counter() - start


def augment_overhead(count, rounds):
    """Rounds of (plain epoch, augmented epoch) of the mnist recipe on `count` real images; the median slowdown."""
    recipe = RECIPES[AUGMENT_RECIPE]
    if recipe.augment is None:
        raise ValueError(f"The {AUGMENT_RECIPE!r} recipe has no augmentation to time.")
    X, y = mnist_images(count)
    warm = slice(0, 2 * recipe.batch_size)
    for augment in (None, recipe.augment):                                 # untimed warm-up of each
        time_recipe_epoch(recipe, X[warm], y[warm], augment)
    plain_s, augmented_s = [], []
    for _ in range(rounds):
        plain_s.append(time_recipe_epoch(recipe, X, y, None))
        augmented_s.append(time_recipe_epoch(recipe, X, y, recipe.augment))
    slowdowns = [100 * (augmented / plain - 1) for plain, augmented in zip(plain_s, augmented_s)]
    alone_s = statistics.median(time_augment_alone(recipe.augment, X, recipe.batch_size) for _ in range(rounds))
    return {
        "recipe": AUGMENT_RECIPE, "augment": repr(recipe.augment), "optimizer": recipe.optimizer,
        "learning_rate": recipe.learning_rate, "batch_size": recipe.batch_size, "images": count, "rounds": rounds,
        "plain_images_per_s": count / statistics.median(plain_s),
        "augmented_images_per_s": count / statistics.median(augmented_s),
        "slowdown_percent": statistics.median(slowdowns), "slowdowns_percent": slowdowns,
        "plain_s": plain_s, "augmented_s": augmented_s, "augment_alone_s": alone_s,
        "augment_alone_percent": 100 * alone_s / statistics.median(plain_s),
        "target_percent": AUGMENT_TARGET_PERCENT,
    }


def run_augment_overhead(count, rounds):
    """The augmentation-overhead section: time it, print it, return it."""
    recipe = RECIPES[AUGMENT_RECIPE]
    print(f"\naugmentation overhead: the {AUGMENT_RECIPE} recipe (net C, dropout 0.4, {recipe.optimizer} "
          f"lr {recipe.learning_rate:g}, batch {recipe.batch_size}), one epoch on {count} MNIST training images, "
          f"augment=None vs augment={recipe.augment!r}, {rounds} round(s)...", flush=True)
    result = augment_overhead(count, rounds)
    met = result["slowdown_percent"] <= AUGMENT_TARGET_PERCENT
    print(f"  plain {result['plain_images_per_s']:.1f} img/s   augmented {result['augmented_images_per_s']:.1f} img/s"
          f"   slowdown {result['slowdown_percent']:+.1f} % (median; rounds: "
          f"{', '.join(f'{s:+.1f}' for s in result['slowdowns_percent'])})   target <= "
          f"{AUGMENT_TARGET_PERCENT:.0f} %   met? {'yes' if met else 'NO'}")
    print(f"  the augmentation alone: {1000 * result['augment_alone_s']:.1f} ms per epoch "
          f"({result['augment_alone_percent']:.1f} % of a plain epoch)", flush=True)
    return result


# -- output ----------------------------------------------------------------------------
def print_case(result):
    agree = result["max_output_difference"]
    after = result["max_output_difference_after_warmup"]
    print(f"  {result['net']} {result['mode']:<11} scratchcnn {result['scratch_images_per_s']:9.1f} img/s   "
          f"torch {result['torch_images_per_s']:9.1f} img/s   ratio {result['ratio']:.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in result['ratios'])})   scratchcnn peak "
          f"{result['scratch_peak_mib']:.1f} MiB   |diff| {agree:.1e}"
          + (f" ({after:.1e} after a warm-up epoch)" if after is not None else "")
          + f"   page faults per image: scratchcnn {result['scratch_faults_per_image']:.2f}, "
            f"torch {result['torch_faults_per_image']:.2f}", flush=True)


def final_table(cases, protocol, epoch, augment):
    header = ("net", "batch", "scratchcnn img/s", "torch img/s", "ratio (median)", "target", "met?")
    rows = []
    for case in cases:
        target = case["target"]
        rows.append((case["net"], case["mode"], f"{case['scratch_images_per_s']:.1f}",
                     f"{case['torch_images_per_s']:.1f}", f"{case['ratio']:.2f}x",
                     "-" if target is None else f">= {target:.1f}x",
                     "-" if target is None else ("yes" if case["ratio"] >= target else "NO")))
    if protocol:
        rows.append(("A", "report protocol", f"{protocol['wall_s']:.1f} s", f"(report: {REPORT_SECONDS} s)",
                     f"{protocol['speedup']:.0f}x faster", f"<= {PROTOCOL_TARGET_S:.0f} s",
                     "yes" if protocol["wall_s"] <= PROTOCOL_TARGET_S else "NO"))
    if epoch:
        rows.append(("C", "MNIST epoch 64", f"{epoch['images_per_s']:.1f}", "-",
                     f"{epoch['peak_rss_mib']:.0f} MiB RSS", f"<= {FULL_EPOCH_RSS_TARGET_MIB:.0f} MiB",
                     "yes" if epoch["peak_rss_mib"] <= FULL_EPOCH_RSS_TARGET_MIB else "NO"))
    if augment:
        rows.append(("C", f"augment {augment['batch_size']} (recipe)",
                     f"{augment['augmented_images_per_s']:.1f} (plain {augment['plain_images_per_s']:.1f})", "-",
                     f"slowdown {augment['slowdown_percent']:+.1f} %", f"<= {AUGMENT_TARGET_PERCENT:.0f} %",
                     "yes" if augment["slowdown_percent"] <= AUGMENT_TARGET_PERCENT else "NO"))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda cells: " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths))  # noqa: E731
    print("\n" + line(header))
    print("-+-".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def run_protocol():
    """The report's protocol section: time it, print it, return it."""
    print("\nthe report's MNIST protocol (210 images, 100 epochs, per-sample SGD, validating each epoch)...",
          flush=True)
    protocol = report_protocol()
    print(f"  {protocol['wall_s']:.1f} s (load {protocol['load_s']:.1f} s, train {protocol['train_s']:.1f} s), "
          f"test accuracy {protocol['test_accuracy']:.3f}; the report took {REPORT_SECONDS} s (5 h 09 min)")
    return protocol


def run_full_epoch():
    """The full-MNIST epoch section: run it, print it, return it."""
    print("\na full-MNIST epoch of net C, batch 64, Adam, in a subprocess...", flush=True)
    epoch = full_epoch()
    print(f"  {epoch['train_s']:.1f} s training ({epoch['images_per_s']:.0f} img/s), {epoch['wall_s']:.1f} s "
          f"with start-up and loading; peak RSS {epoch['peak_rss_mib']:.0f} MiB "
          f"({epoch['peak_rss_after_loading_mib']:.0f} MiB once MNIST was loaded); "
          f"training accuracy over the epoch {epoch['train_accuracy']:.3f}")
    return epoch


def run_cases(nets, sections, quick, rounds):
    """The per-net train/predict cases that `sections` selects; prints each line and returns them."""
    selected = [case for case in CASES if case[0].split()[0] in sections]
    cases = []
    for net_name in nets if selected else ():
        print(f"net {net_name}: {NETS[net_name][0]}", flush=True)
        for mode, batch_size, full_count, quick_count in selected:
            result = run_case(net_name, mode, batch_size, quick_count if quick else full_count, rounds)
            print_case(result)
            cases.append(result)
    return cases


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images, 2 rounds, no protocol or full epoch")
    parser.add_argument("--only", metavar="SECTIONS",
                        help=f"comma-separated subset of {','.join(SECTIONS)}: run only those (protocol and "
                             "full-epoch run even with --quick when named here)")
    parser.add_argument("--nets", default="A,B,C,D", help="comma-separated subset of A,B,C,D")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per case (default 5, quick 2)")
    parser.add_argument("--json", metavar="PATH", help="also write every number to PATH as JSON")
    parser.add_argument("--full-epoch-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # --quick, augment on 128 images
    args = parser.parse_args(argv)
    args.quick = args.quick or args.smoke
    args.nets = [name.strip().upper() for name in args.nets.split(",") if name.strip()]
    unknown = [name for name in args.nets if name not in NETS]
    if unknown or not args.nets:
        parser.error(f"--nets expects names among A,B,C,D. Received: {unknown or args.nets}")
    args.rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    if args.only is None:
        args.sections = list(QUICK_SECTIONS if args.quick else SECTIONS)
    else:
        args.sections = [name.strip().lower() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in args.sections if name not in SECTIONS]
        if unknown or not args.sections:
            parser.error(f"--only expects names among {','.join(SECTIONS)}. Received: {unknown or args.sections}")
    if args.rounds < 1:
        parser.error(f"--rounds expects a positive integer. Received: {args.rounds}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.full_epoch_child:
        return full_epoch_child()
    import torch

    blas_threads = next((e["num_threads"] for e in threadpool_info() if e["user_api"] == "blas"), os.cpu_count())
    torch.set_num_threads(blas_threads)
    torch.manual_seed(SEED)
    info = machine_info()
    print_machine(info)
    sections = args.sections
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    mode = f"\nmode: {size}, sections {','.join(sections)}, {args.rounds} round(s)"
    if "train" in sections or "predict" in sections:
        mode += f"; nets {','.join(args.nets)}, plain SGD lr={LEARNING_RATE}, float32, random data"
    print(mode + "\n")
    started = time.perf_counter()
    cases = run_cases(args.nets, sections, args.quick, args.rounds)
    protocol = run_protocol() if "protocol" in sections else None
    epoch = run_full_epoch() if "full-epoch" in sections else None
    augment = (run_augment_overhead(AUGMENT_IMAGES[size], args.rounds)
               if "augment" in sections else None)
    final_table(cases, protocol, epoch, augment)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process's peak RSS (scratchcnn and torch together): {peak_mib:.0f} MiB; "
          f"total {time.perf_counter() - started:.0f} s; load average now {' '.join(load_average())}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"machine": info, "quick": args.quick, "rounds": args.rounds, "sections": sections,
                       "cases": cases, "report_protocol": protocol, "full_epoch": epoch,
                       "augment_overhead": augment, "peak_rss_mib": peak_mib}, file, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
