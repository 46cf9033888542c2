"""The shuffled control of any method: its map with the cells of the explained layer's grid permuted at random.

The values, and so the area a mask keeps, stay the same; only where the map points changes. The same
permutation moves every target's map of an image, so the top-1 and top-2 maps keep their correlation and the
class-sensitivity outcome. Method minus its shuffled self is what the method's placement adds over its area.
"""

from __future__ import annotations

import zlib

import numpy as np

SHUFFLE_STREAM = 0x5EED5  # keeps the control's draws apart from the other seeded streams of (seed, image)


def image_rng(seed: int, image_id: str, stream: int) -> np.random.Generator:
    """A generator seeded by (seed, image id, stream): the same draws in any shard, order or rerun."""
    return np.random.default_rng([int(seed), zlib.crc32(str(image_id).encode()), stream])


def shuffle_cells(maps: np.ndarray, grid: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``maps`` (K, H, W) with the cells of an h x w grid permuted, the same permutation for all K maps.

    When h divides H and w divides W (224 / 7, 224 / 14) every cell is a block and the h*w blocks are permuted.
    Otherwise the cells have unequal sizes and cannot swap places, so the h row bands and the w column bands are
    permuted instead (a coarser shuffle). Either way the result is a permutation of the pixels: the multiset of
    values is kept exactly."""
    maps = np.asarray(maps)
    k, height, width = maps.shape
    h, w = grid
    if height % h == 0 and width % w == 0:
        bh, bw = height // h, width // w
        blocks = maps.reshape(k, h, bh, w, bw).transpose(0, 1, 3, 2, 4).reshape(k, h * w, bh, bw)
        blocks = blocks[:, rng.permutation(h * w)]
        return blocks.reshape(k, h, w, bh, bw).transpose(0, 1, 3, 2, 4).reshape(k, height, width)
    rows = _band_order(height, h, rng)
    cols = _band_order(width, w, rng)
    return maps[:, rows][:, :, cols]


def _band_order(size: int, bands: int, rng: np.random.Generator) -> np.ndarray:
    edges = np.linspace(0, size, bands + 1).round().astype(int)
    return np.concatenate([np.arange(edges[i], edges[i + 1]) for i in rng.permutation(bands)])


def shuffled_maps(maps: np.ndarray, grid: tuple[int, int], seed: int, image_id: str) -> np.ndarray:
    """The shuffled control of one image's maps (K, S, S), seeded by (seed, image id)."""
    return shuffle_cells(maps, grid, image_rng(seed, image_id, SHUFFLE_STREAM))
