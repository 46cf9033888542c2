"""Update/summary accumulator for per-image metric values: mean and 95% confidence interval."""

from __future__ import annotations

import math

import numpy as np


class MeanCI:
    """Streaming mean with a Student-t 95% confidence half-width (Welford's algorithm)."""

    def __init__(self):
        self.n, self._mean, self._m2 = 0, 0.0, 0.0

    def update(self, value: float) -> None:
        if value is None or not np.isfinite(value):
            return
        self.n += 1
        delta = value - self._mean
        self._mean += delta / self.n
        self._m2 += delta * (value - self._mean)

    def summary(self) -> dict:
        if self.n == 0:
            return {"n": 0, "mean": math.nan, "ci95": math.nan}
        if self.n == 1:
            return {"n": 1, "mean": self._mean, "ci95": math.nan}
        from scipy.stats import t

        sd = math.sqrt(self._m2 / (self.n - 1))
        return {"n": self.n, "mean": self._mean, "ci95": float(t.ppf(0.975, self.n - 1) * sd / math.sqrt(self.n))}
