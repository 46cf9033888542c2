"""The report's statistics against slow reference loops, hand-computed values and scipy."""

import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from advise_bench.report import stats

PAIRED_DIFFS = np.array([0.12, -0.03, 0.25, 0.07, 0.0, 0.31, -0.11])


def _slow_bootstrap(values, n_resamples, seed, level=0.95):
    """One resample at a time, as the textbook loop: the draws must be the same as the vectorised ones."""
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(values), size=len(values))
        means.append(np.mean(values[idx]))
    return tuple(np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2]))


@pytest.mark.parametrize("block_values", [stats._BOOTSTRAP_BLOCK_VALUES, 1000])  # one block; many blocks
def test_bootstrap_ci_equals_the_slow_loop_with_the_same_seed(monkeypatch, block_values):
    monkeypatch.setattr(stats, "_BOOTSTRAP_BLOCK_VALUES", block_values)
    got = stats.bootstrap_mean_ci(PAIRED_DIFFS, n_resamples=10_000, seed=3)
    want = _slow_bootstrap(PAIRED_DIFFS, 10_000, seed=3)
    assert got == pytest.approx(want, abs=1e-12)
    assert got[0] < PAIRED_DIFFS.mean() < got[1]
    assert stats.bootstrap_mean_ci(PAIRED_DIFFS, seed=4) != got  # the seed matters


def test_bootstrap_edge_cases():
    assert np.isnan(stats.bootstrap_mean_ci(np.array([]))).all()
    assert stats.bootstrap_mean_ci(np.array([0.4])) == (0.4, 0.4)
    assert stats.bootstrap_mean_ci(np.full(5, 0.2)) == pytest.approx((0.2, 0.2))


def test_wilcoxon_exact_p_values_by_hand():
    # n = 5, all positive: W- = 0; P(W- <= 0) = 1/32 under H0, two-sided 2/32.
    assert stats.wilcoxon_p(np.array([1.0, 2, 3, 4, 5])) == pytest.approx(2 / 32)
    # W- = 2 (only the rank-2 difference is negative): subsets of {1..5} summing to <= 2 are {}, {1}, {2}.
    assert stats.wilcoxon_p(np.array([1.0, -2, 3, 4, 5])) == pytest.approx(2 * 3 / 32)
    assert stats.wilcoxon_p(np.zeros(4)) == 1.0
    assert np.isnan(stats.wilcoxon_p(np.array([])))


def _tied_or_zero_differences(n_cases: int = 90, max_n: int = 9):
    """Small samples with ties and/or zeros, where scipy runs its exact permutation test (n <= 13)."""
    rng = np.random.default_rng(5)
    for k in range(n_cases):
        n = int(rng.integers(2, max_n + 1))
        d = (rng.integers(-3, 4, n) * 0.1 if k % 3 == 0 else np.round(rng.normal(size=n), 1) if k % 3 == 1
             else np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n)))
        if np.any(d != 0):
            yield d


def test_wilcoxon_with_ties_or_zeros_is_scipys_permutation_test_to_the_bit():
    """The counted sign flips against scipy's own wilcoxon (which evaluates its statistic once per flip)."""
    cases = list(_tied_or_zero_differences())
    magnitudes = [np.abs(d[d != 0]) for d in cases]
    assert sum(len(np.unique(m)) < len(m) for m in magnitudes) > 20  # ties
    assert sum(np.any(d == 0) for d in cases) > 20  # zeros
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = [float(scipy_stats.wilcoxon(d).pvalue) for d in cases]
    got = [stats.wilcoxon_p(d) for d in cases]
    assert got == want  # exact equality, every case
    # By hand: ranks 1.5, 1.5, 3 (the zero dropped); the 8 sign flips give R+ = 0, 1.5, 1.5, 3, 3, 4.5, 4.5, 6.
    assert stats._sign_flip_p(np.array([0.1, 0.1, 0.2, 0.0])) == 2 * 1 / 8  # R+ = 6
    assert stats._sign_flip_p(np.array([0.1, -0.1, 0.2, 0.0])) == 2 * 3 / 8  # R+ = 4.5


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    got = stats.holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])
    got = stats.holm(np.array([0.5, np.nan, 0.2]))  # NaN does not count: m = 2
    assert got[0] == pytest.approx(0.5) and np.isnan(got[1]) and got[2] == pytest.approx(0.4)
    assert stats.holm(np.array([0.6, 0.7])) == pytest.approx([1.0, 1.0])  # capped at 1


def test_ranks_by_hand_best_is_one():
    values = np.array([[0.9, 0.5, 0.5], [0.1, 0.8, 0.3]])
    assert stats.ranks_within_rows(values, higher_is_better=True).tolist() == [[1, 2.5, 2.5], [3, 1, 2]]
    assert stats.ranks_within_rows(values, higher_is_better=False).tolist() == [[3, 1.5, 1.5], [1, 3, 2]]


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_friedman_matches_scipy_with_and_without_ties(higher_is_better):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4, size=(12, 5)).astype(float)  # many ties
    values[:, 0] += 1.5
    chi2, p = stats.friedman(stats.ranks_within_rows(values, higher_is_better))
    ref = scipy_stats.friedmanchisquare(*values.T)
    assert chi2 == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-9)
    continuous = rng.random((9, 4))
    chi2, p = stats.friedman(stats.ranks_within_rows(continuous, higher_is_better))
    ref = scipy_stats.friedmanchisquare(*continuous.T)
    assert chi2 == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-9)


def test_friedman_needs_three_methods_and_some_differences():
    assert np.isnan(stats.friedman(np.array([[1.0, 2.0], [2.0, 1.0]]))).all()
    assert np.isnan(stats.friedman(np.full((4, 3), 2.0))).all()  # every image ties every method


def test_kendall_tau_b_by_hand():
    # pairs of 4 items: 5 concordant, 1 discordant -> (5 - 1) / 6
    tau, _ = stats.kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4])
    assert tau == pytest.approx(4 / 6)
    # the paper's tie (LIME = Grad-CAM): 5 concordant, 0 discordant, one pair tied in y only ->
    # tau_b = (5 - 0) / sqrt((6 - 0) * (6 - 1))
    tau, _ = stats.kendall_tau_b([1, 2, 3, 4], [1, 1, 2, 3])
    assert tau == pytest.approx(5 / np.sqrt(30))
    assert stats.kendall_tau_b([0.1, 0.2, 0.2], [0.3, 0.5, 0.5])[0] == pytest.approx(1.0)  # the same tie: agree
    assert np.isnan(stats.kendall_tau_b([1.0], [2.0])[0]) and np.isnan(stats.kendall_tau_b([1, 1], [1, 2])[0])
