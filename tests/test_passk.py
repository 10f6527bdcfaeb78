"""nblib.eval.passk: the unbiased estimator against brute force over all k-subsets, its
unbiasedness (exact expectation over binomial draws), the plug-in's low bias, and bad input."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from nblib.eval.passk import (
    correct_counts,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_exact,
    pass_at_k_plugin,
)


def brute_force(n: int, c: int, k: int) -> float:
    """Share of the k-subsets of n samples (the first c correct) holding a correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10])
def test_matches_enumeration_of_all_k_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_matches_the_human_eval_product_form_at_large_n():
    n, ks = 200, np.array([1, 4, 16, 64, 200])
    c = np.arange(n + 1)
    got = pass_at_k(n, c, ks)  # (k, problems)
    assert got.shape == (len(ks), n + 1)
    for i, k in enumerate(ks):
        for cc in c:
            want = 1.0 if n - cc < k else 1.0 - np.prod(1.0 - k / np.arange(n - cc + 1, n + 1))
            assert got[i, cc] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_vectorised_over_problems_with_their_own_n():
    n, c = np.array([10, 20, 64]), np.array([3, 0, 64])
    got = pass_at_k(n, c, 4)
    assert got.shape == (3,)
    assert got[0] == pytest.approx(brute_force(10, 3, 4)) and got[1] == 0.0 and got[2] == 1.0
    assert pass_at_k(n, c, [1, 2]).shape == (2, 3)


def test_unbiased_where_the_plugin_is_biased_low():
    """Exact expectation over c ~ Binomial(n, p): the estimator equals 1 − (1 − p)^k, the plug-in is
    below it (1 − (1 − x)^k is concave) for every 1 < k ≤ n and 0 < p < 1."""
    n, c = 16, np.arange(17)
    for p in (0.02, 0.1, 0.3, 0.7):
        w = stats.binom.pmf(c, n, p)
        for k in (2, 4, 8, 16):
            truth = pass_at_k_exact(p, k)
            assert (w * pass_at_k(n, c, k)).sum() == pytest.approx(truth, abs=1e-12)
            assert (w * pass_at_k_plugin(n, c, k)).sum() < truth - 1e-6
        # k = 1: the same
        assert (w * pass_at_k_plugin(n, c, 1)).sum() == pytest.approx(pass_at_k_exact(p, 1))


def test_curve_from_graded_samples_is_monotone_in_k():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, size=50)  # per-problem success probability
    correct = rng.random((50, 64)) < p[:, None]
    n, c = correct_counts(correct)
    assert n == 64 and (c == correct.sum(1)).all()
    ks = [1, 2, 4, 8, 16, 32, 64]
    curve = pass_at_k_curve(correct, ks)
    assert np.all(np.diff(curve) > 0) and 0 <= curve[0] and curve[-1] <= 1
    assert curve[0] == pytest.approx(correct.mean())  # pass@1 is the plain success rate


def test_stable_for_large_n_and_rare_successes():
    got = pass_at_k(10_000, 1, 1)
    assert got == pytest.approx(1e-4, rel=1e-9)
    assert pass_at_k(10_000, 1, 5000) == pytest.approx(0.5, rel=1e-9)
    assert math.isfinite(float(pass_at_k(10**6, 3, 17)))


@pytest.mark.parametrize("args, message", [
    ((4, 2, 5), "exceeds the samples per problem"),
    ((4, 5, 1), "must lie in"),
    ((4, -1, 1), "must lie in"),
    ((4, 2, 0), "at least 1"),
    ((4, 1.5, 1), "whole numbers"),
])
def test_bad_input_is_refused_with_the_values(args, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(*args)
    with pytest.raises(ValueError, match="matrix"):
        correct_counts(np.ones(5, bool))
