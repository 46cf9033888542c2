"""Median wall time per 224x224x3 image pair of fsim_pair (FSIM + FSIMc), with skimage SSIM for scale.

Usage: python scripts/bench_fsim.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from advise_bench.metrics.fsim import fsim_pair


def _pair() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data, transform

    ref = transform.resize(data.astronaut(), (224, 224), anti_aliasing=True, preserve_range=True)
    ref = np.clip(np.round(ref), 0, 255).astype(np.uint8)
    noise = np.random.default_rng(0).normal(0.0, 10.0, ref.shape)
    dis = np.clip(ref + noise, 0, 255).astype(np.uint8)
    return ref, dis


def median_ms(fn: Callable[[], object], repeats: int = 30, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    from skimage.metrics import structural_similarity

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)

    ref, dis = _pair()

    def ssim():
        return structural_similarity(
            ref,
            dis,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )

    f, c = fsim_pair(ref, dis)
    print(f"astronaut 224x224x3 vs noise sigma=10: FSIM={f:.6f} FSIMc={c:.6f} SSIM={ssim():.6f}")
    fsim_ms = median_ms(lambda: fsim_pair(ref, dis), args.repeats)
    ssim_ms = median_ms(ssim, args.repeats)
    print(f"fsim_pair (FSIM+FSIMc): {fsim_ms:8.2f} ms/pair (median of {args.repeats})")
    print(f"skimage SSIM:           {ssim_ms:8.2f} ms/pair (median of {args.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
