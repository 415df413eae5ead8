"""How fast NumPy's BLAS runs the matrix products inside the benchmark nets' convolutions, on one thread.

For each convolution of nets A-D this times the forward product of one cache-sized block
of im2col columns, (block positions x k*k*C) @ (k*k*C x F), with the columns already in
cache (as conv2d_forward leaves them), and prints its GFLOP/s and the time per image the
product alone needs. With PyTorch installed it also times PyTorch's whole forward of the
same layer on one thread, for the bound this sets: an im2col forward cannot be faster
than its product. For the layers scratchcnn runs by Winograd's minimal filtering instead
(functional/winograd.py: B's 6x6 layer, D's), it also times that path's products, one per
point, (block rows x k*C) @ (k*C x F) (for a narrow layer, rows of two output columns:
winograd.group_size), for the bound that path has in turn ("-" elsewhere).

    python benchmarks/conv_products.py [--repeats 30]
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from scratchcnn.functional import blocks, conv, winograd

# net, layer, input channels, input size (padded), kernel, filters; then PyTorch's layer as
# (channels, size, kernel, stride). D's 10x10 stride-2 layer runs here as what scratchcnn runs
# it as: a 5x5 stride-1 convolution over 2x2 pixel squares stacked as 12 channels.
LAYERS = [
    ("A", "conv 6x6 1->16", 1, 28, 6, 16, (1, 28, 6, 1)),
    ("B", "conv 4x4 1->16", 1, 28, 4, 16, (1, 28, 4, 1)),
    ("B", "conv 6x6 16->32", 16, 25, 6, 32, (16, 25, 6, 1)),
    ("B", "conv 8x8 32->64", 32, 10, 8, 64, (32, 10, 8, 1)),
    ("C", "conv 3x3 1->32 pad 1", 1, 30, 3, 32, (1, 30, 3, 1)),
    ("C", "conv 3x3 32->64 pad 1", 32, 16, 3, 64, (32, 16, 3, 1)),
    ("D", "conv 10x10/2 3->16 (as 5x5 over 12)", 12, 25, 5, 16, (3, 50, 10, 2)),
]


def best_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def torch_forward_seconds(filters, torch_layer, repeats, images=16):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    channels, size, k, stride = torch_layer
    layer = torch.nn.Conv2d(channels, filters, k, stride)
    x = torch.rand(images, channels, size, size)
    with torch.inference_mode():
        return best_seconds(lambda: layer(x), repeats) / images


def winograd_product_seconds(channels, size, k, filters, repeats, rng):
    """Per image: the Winograd path's products for one block, or None where the layer runs by im2col."""
    out_size = size - k + 1
    m = winograd.tile_size(k, out_size, channels)
    if m is None:
        return None
    points, tiles = m + k - 1, -(-out_size // m)
    group = winograd.group_size(out_size, filters)          # output columns per product row
    window = (group + k - 1) * channels
    per_image = points * tiles * out_size // group * window * 4
    images = blocks.image_blocks(1024, per_image)[0][1]
    rows = images * tiles * out_size // group
    columns = rng.random((points, rows, window), dtype=np.float32)
    u = rng.random((points, window, group * filters), dtype=np.float32)
    out = np.empty((points, rows, group * filters), np.float32)
    return best_seconds(lambda: np.matmul(columns, u, out=out), repeats) / images


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'net':3} {'layer':38} {'product (rows x K x F)':24} {'GFLOP/s':>8} {'product us/img':>15} "
          f"{'winograd us/img':>16} {'torch fwd us/img':>17}")
    with threadpool_limits(1):
        for net, name, channels, size, k, filters, torch_layer in LAYERS:
            positions = (size - k + 1) ** 2
            depth = k * k * channels
            images = blocks.image_blocks(1024, positions * depth * 4)[0][1]  # the forward pass's block
            columns = rng.random((images * positions, depth), dtype=np.float32)
            w_mat = rng.random((depth, filters), dtype=np.float32)
            out = np.empty((images * positions, filters), np.float32)
            seconds = best_seconds(lambda: np.matmul(columns, w_mat, out=out), args.repeats)
            gflops = 2 * columns.shape[0] * depth * filters / seconds / 1e9
            winograd_seconds = winograd_product_seconds(channels, size, k, filters, args.repeats, rng)
            winograd_text = "-" if winograd_seconds is None else f"{winograd_seconds * 1e6:.0f}"
            torch_seconds = torch_forward_seconds(filters, torch_layer, args.repeats)
            torch_text = "-" if torch_seconds is None else f"{torch_seconds * 1e6:.0f}"
            shape = f"{columns.shape[0]} x {depth} x {filters}"
            print(f"{net:3} {name:38} {shape:24} {gflops:8.1f} {seconds / images * 1e6:15.0f} {winograd_text:>16} "
                  f"{torch_text:>17}")


if __name__ == "__main__":
    main()
