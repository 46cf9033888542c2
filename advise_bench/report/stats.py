"""The report's statistics, as small functions over NumPy arrays.

* paired differences: seeded percentile bootstrap CI of the mean, Wilcoxon signed-rank p-value, Holm's
  step-down correction;
* several methods on the same images: mean ranks and Friedman's test;
* our ordering of methods against the paper's: Kendall's tau-b (the paper ties some methods).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
# Resampled indices drawn per block, to bound memory (resamples x images) on a 3,000-image run.
_BOOTSTRAP_BLOCK_VALUES = 2_000_000
# Every comparison of a block of a report resamples the same n images with the same seed: the resamples are drawn
# once and kept as counts (240 MB for 10,000 resamples of 3,000 images) up to this many values, else drawn per call.
_CACHED_COUNT_VALUES = 30_000_000


def _index_blocks(n: int, n_resamples: int, seed: int):
    """The resamples' indices, block by block, as ``rng.integers(0, n, (block, n))`` from one seeded generator."""
    block = max(1, _BOOTSTRAP_BLOCK_VALUES // n)
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, block):
        yield rng.integers(0, n, size=(min(n_resamples, start + block) - start, n))


def _counts(indices: np.ndarray, n: int) -> np.ndarray:
    """(resamples, n): how many times each resample draws each value."""
    k = len(indices)
    flat = (np.arange(k)[:, None] * n + indices).ravel()
    return np.bincount(flat, minlength=k * n).reshape(k, n).astype(np.float64)


@functools.lru_cache(maxsize=3)
def _resample_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """Every resample's counts (read-only, cached), from the draws of :func:`_index_blocks`."""
    counts = np.concatenate([_counts(b, n) for b in _index_blocks(n, n_resamples, seed)])
    counts.flags.writeable = False
    return counts


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``.

    Resample b draws ``rng.integers(0, n, n)`` from ``numpy.random.default_rng(seed)`` in order, as a plain loop
    over resamples with the same seed would (up to the rounding of the sums): each resample's mean is its counts
    of the values times the values, over n, one matrix product for all resamples.
    """
    values = np.asarray(values, np.float64)
    n = len(values)
    if n == 0:
        return (np.nan, np.nan)
    if n * n_resamples <= _CACHED_COUNT_VALUES:
        means = _resample_counts(n, n_resamples, seed) @ values / n
    else:
        means = np.concatenate([_counts(b, n) @ values / n for b in _index_blocks(n, n_resamples, seed)])
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


# scipy's ``wilcoxon`` tests up to this many differences with ties or zeros by an exact permutation test over
# every sign flip; it evaluates its statistic once per flip (2**13 calls, ~0.2 s), so we count them in one go.
_SIGN_FLIP_MAX_N = 13


def _sign_flip_p(d: np.ndarray) -> float:
    """scipy's exact two-sided permutation p-value of the signed-rank sum, all 2**n sign flips at once.

    The statistic is R+, the sum of the ranks of |d| (zeros dropped, ties averaged) of the positive differences;
    flipping the sign of d_i moves its rank to the other side, a zero's flip changes nothing. As in
    ``scipy.stats.permutation_test`` (exact, so no +1): p = 2 min(P(R+ <= r), P(R+ >= r)) with a relative tolerance
    of 100 eps on r, clipped to 1. Every sum is a multiple of 1/2 far below 2**53, so the order of summation
    cannot change a comparison: the counts, and so the p-value, are scipy's to the bit (tests/test_report_stats.py)."""
    n = len(d)
    ranks = np.zeros(n)
    nonzero = d != 0
    ranks[nonzero] = _scipy_stats().rankdata(np.abs(d[nonzero]), method="average")
    observed = float(ranks[d > 0].sum())
    flips = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # 1: d_i keeps its sign
    positive = np.where(flips == 1, d > 0, d < 0)
    null = positive.astype(np.float64) @ ranks
    gamma = abs(np.finfo(np.float64).eps * 100 * observed)
    less = np.count_nonzero(null <= observed + gamma) / 2**n
    greater = np.count_nonzero(null >= observed - gamma) / 2**n
    return float(np.clip(min(less, greater) * 2, 0.0, 1.0))


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped, scipy's default).

    1.0 when every difference is zero (no evidence of a difference); NaN with no pairs. scipy's own choice of
    test (exact, exact permutation or normal approximation), with its permutation test counted in one go."""
    d = np.asarray(differences, np.float64)
    if len(d) == 0:
        return np.nan
    nonzero = d != 0
    if not np.any(nonzero):
        return 1.0
    magnitudes = np.abs(d[nonzero])
    if len(d) <= _SIGN_FLIP_MAX_N and (not np.all(nonzero) or len(np.unique(magnitudes)) < len(magnitudes)):
        return _sign_flip_p(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that the normal approximation is rough for small n
        return float(_scipy_stats().wilcoxon(d).pvalue)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given); NaNs stay NaN and do not count in m."""
    p = np.asarray(pvalues, np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def ranks_within_rows(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Rank of each method (column) on each image (row): 1 = best, ties share their average rank."""
    oriented = -np.asarray(values, np.float64) if higher_is_better else np.asarray(values, np.float64)
    return _scipy_stats().rankdata(oriented, axis=1, method="average")


def friedman(ranks: np.ndarray) -> tuple[float, float]:
    """Friedman's chi-square (tie-corrected) and p-value from an (images x methods) array of within-row ranks."""
    r = np.asarray(ranks, np.float64)
    n, k = r.shape
    if n < 2 or k < 3:
        return (np.nan, np.nan)
    rank_sums = r.sum(axis=0)
    statistic = 12.0 / (n * k * (k + 1)) * np.sum(rank_sums**2) - 3.0 * n * (k + 1)
    ties = 0.0
    for row in r:  # a tie of t methods on one image shrinks the variance by (t^3 - t)
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0:  # every image ties every method: nothing to test
        return (np.nan, np.nan)
    statistic /= correction
    return float(statistic), float(_scipy_stats().chi2.sf(statistic, k - 1))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b of two orderings (ties in either one allowed) and its two-sided p-value."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return (np.nan, np.nan)
    res = _scipy_stats().kendalltau(x[keep], y[keep], variant="b")
    return float(res.statistic), float(res.pvalue)


def _scipy_stats():
    """scipy.stats, imported when a test is computed: importing it loads scipy's optimisers too (scipy's own
    imports), which a report that only renders, or a command's start-up, does not need."""
    from scipy import stats

    return stats
