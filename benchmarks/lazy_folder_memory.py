"""Peak memory of reading an image folder lazily (ImageFolderBatches) against loading all of it at once.

The script writes a temporary folder of synthetic JPEGs (two classes of random-noise photos,
so they compress like photos rather than like flat colour), then runs each mode in a fresh
Python process and reports that process's peak resident set size (resource.getrusage's
ru_maxrss) and time:

- eager: load_image_folder(..., split=None): every image decoded into one float32 array;
- lazy: load_image_folder(..., split=None, lazy=True) and one pass over every batch.

A third process, baseline, only imports scratchcnn and Pillow: what both pay before any image.

    python benchmarks/lazy_folder_memory.py                      # 2000 images of 128x128, batches of 32
    python benchmarks/lazy_folder_memory.py --images 500 --size 64 --batch-size 16 --json memory.json
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_folder(folder, images, size, seed=0):
    """`images` JPEGs of size x size in two class folders, a and b."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index in range(images):
        name = "ab"[index % 2]
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, name, f"{index:05d}.jpg"), quality=90)


def measure(mode, folder, size, batch_size):
    """Run in the child process: read the folder in `mode`; returns its figures."""
    start = time.perf_counter()
    from scratchcnn.datasets import load_image_folder

    samples = 0
    if mode == "eager":
        images, labels, _ = load_image_folder(folder, size=(size, size), split=None)
        samples = len(images)
    elif mode == "lazy":
        with load_image_folder(folder, size=(size, size), split=None, lazy=True, batch_size=batch_size) as batches:
            for X, y in batches:
                samples += len(X)
    else:  # baseline
        import PIL.Image  # noqa: F401
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"mode": mode, "samples": samples, "peak_rss_mib": round(peak_kib / 1024, 1),
            "seconds": round(time.perf_counter() - start, 2)}


def run_child(mode, folder, size, batch_size):
    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--folder", folder, "--size", str(size),
               "--batch-size", str(batch_size)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="images in the folder (default 2000)")
    parser.add_argument("--size", type=int, default=128, help="side of the square images, as written and as "
                                                              "loaded (default 128)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size of the lazy pass (default 32)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.folder, args.size, args.batch_size)))
        return
    with tempfile.TemporaryDirectory(prefix="lazy-folder-") as folder:
        start = time.perf_counter()
        write_folder(folder, args.images, args.size)
        print(f"Wrote {args.images} JPEGs of {args.size}x{args.size} in {time.perf_counter() - start:.1f} s; "
              f"the float32 array of all of them is {args.images * 3 * args.size ** 2 * 4 / 2**20:.0f} MiB.")
        results = [run_child(mode, folder, args.size, args.batch_size) for mode in ("baseline", "eager", "lazy")]
    for result in results:
        print(f"{result['mode']:>8}: peak RSS {result['peak_rss_mib']:7.1f} MiB, {result['seconds']:6.2f} s, "
              f"{result['samples']} images")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump({"images": args.images, "size": args.size, "batch_size": args.batch_size, "results": results},
                      file, indent=2)


if __name__ == "__main__":
    main()
