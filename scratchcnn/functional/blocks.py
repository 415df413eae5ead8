"""How the fast convolutions walk a batch: in blocks of images whose scratch columns fit in a core's caches.

Both conv.py (im2col) and winograd.py (transformed tiles) write a block's columns and
multiply them at once, while they are still in cache; between a training step's forward
and backward passes they keep the whole matrix only while it is small (KEEP_BYTES).
"""
BLOCK_BYTES = 2 << 20  # columns per block of images: about the size of a core's caches
KEEP_BYTES = 8 << 20   # training: a whole im2col matrix (Winograd: its transformed tiles) up to this size is kept
                       # for the backward pass; larger ones are copied again from the input, a block at a time


def image_blocks(num_images, bytes_per_image):
    """[(start, stop), ...] over the images, each block's columns about BLOCK_BYTES (at least one image)."""
    step = max(1, BLOCK_BYTES // max(1, bytes_per_image))
    return [(start, min(num_images, start + step)) for start in range(0, num_images, step)]
