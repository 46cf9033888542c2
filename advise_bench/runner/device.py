"""CPU/GPU selection (delegated to the backend, see :mod:`advise_bench.backend`) and timing."""

from __future__ import annotations

import time

from ..backend import DEVICES, device_name, select_device

__all__ = ["DEVICES", "Timer", "device_name", "select_device"]


class Timer:
    """Wall time of a block. Callers convert results to NumPy inside the block, which waits for the device."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False
