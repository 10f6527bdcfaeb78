"""pass@k: the probability that at least one of k samples solves a problem, estimated from n ≥ k
samples per problem with the unbiased estimator of Chen et al. 2021 (Codex, arXiv 2107.03374):

    pass@k = 1 − C(n − c, k) / C(n, k)      (c of the n samples correct)

computed as a product in log space (log1p), vectorised over problems. The plug-in 1 − (1 − c/n)^k
is biased low (1 − (1 − x)^k is concave, Jensen); it is here only so tests and notebooks can show
that.
"""

from __future__ import annotations

import numpy as np


def _counts(n, c, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n, c, k as int arrays, checked: 0 ≤ c ≤ n and 1 ≤ k ≤ n,
    else a ValueError naming the values."""
    n, c, k = (np.asarray(x) for x in (n, c, k))
    for name, x in (("n", n), ("c", c), ("k", k)):
        if x.size and not np.all(np.equal(np.mod(x, 1), 0)):
            raise ValueError(f"{name}={x.tolist()} must hold whole numbers (sample counts)")
    n, c, k = n.astype(np.int64), c.astype(np.int64), k.astype(np.int64)
    if np.any(c < 0) or np.any(c > n):
        raise ValueError("c (correct samples) must lie in [0, n]; "
                         f"got c={c.tolist()} with n={n.tolist()}")
    if np.any(k < 1):
        raise ValueError(f"k={k.tolist()} must be at least 1")
    if np.any(k > np.min(n)):
        raise ValueError(f"k={k.tolist()} exceeds the samples per problem n={np.min(n).tolist()}: "
                         "pass@k needs n ≥ k (draw more samples or lower k)")
    return n, c, k


def _grid(n, c, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast k over a leading axis: (*k.shape, *problems.shape) for each of n, c, k."""
    n, c, k = _counts(n, c, k)
    n, c = np.broadcast_arrays(n, c)  # problems
    k = k.reshape(k.shape + (1,) * n.ndim)
    return n, c, k


def pass_at_k(n, c, k) -> np.ndarray:
    """Unbiased pass@k per problem.

    n: samples per problem (int or array over problems); c: correct samples per problem (array over
    problems); k: int or 1-D array of k values. Returns an array of shape
    (*k.shape, *problems.shape): a scalar k gives one value per problem. Raises ValueError when
    k > n (never extrapolates).

    C(n − c, k) / C(n, k) = prod_{i<k} (1 − c / (n − i)), summed in log space with log1p (relative
    error ~ k·eps); a factor reaches 0 once n − c < k, and then pass@k = 1."""
    n, c, k = _grid(n, c, k)
    i = np.arange(int(k.max())).reshape((-1,) + (1,) * n.ndim)  # (k_max, 1, ...)
    with np.errstate(divide="ignore"):
        terms = np.log1p(-np.minimum(c / (n - i), 1.0))  # (k_max, *problems); n − i ≥ 1 as k ≤ n
    log_ratio = np.cumsum(terms, axis=0)  # [j]: log C(n − c, j + 1) / C(n, j + 1)
    k_shape = k.shape[:k.ndim - n.ndim]  # the k axes, without the broadcast ones
    picked = log_ratio[k.reshape(-1) - 1]  # (len(k), *problems)
    return -np.expm1(picked.reshape(k_shape + n.shape))


def pass_at_k_plugin(n, c, k) -> np.ndarray:
    """The plug-in estimate 1 − (1 − c/n)^k: biased low. For comparison only, never for results."""
    n, c, k = _grid(n, c, k)
    return 1.0 - (1.0 - c / n) ** k


def pass_at_k_exact(p, k) -> np.ndarray:
    """The true pass@k of problems whose single samples are correct with probability p:
    1 − (1 − p)^k. p: array over problems; k: int or 1-D array. Shape (*k.shape, *p.shape)."""
    p, k = np.asarray(p, float), np.asarray(k)
    if np.any((p < 0) | (p > 1)) or np.any(k < 1):
        raise ValueError("need 0 ≤ p ≤ 1 and k ≥ 1; got p in "
                         f"[{p.min()}, {p.max()}], k={k.tolist()}")
    k = k.reshape(k.shape + (1,) * p.ndim)
    with np.errstate(divide="ignore"):  # p = 1: log(0) = −inf, and the answer is 1
        return -np.expm1(k * np.log1p(-p))


def correct_counts(correct) -> tuple[int, np.ndarray]:
    """(n, c) from a (problems, n) boolean matrix of graded samples."""
    correct = np.asarray(correct, bool)
    if correct.ndim != 2 or correct.shape[1] < 1:
        raise ValueError(f"correct must be a (problems, samples) matrix, got shape {correct.shape}")
    return correct.shape[1], correct.sum(axis=1)


def pass_at_k_curve(correct, ks) -> np.ndarray:
    """Mean unbiased pass@k over problems for each k: (len(ks),).
    correct: (problems, n) booleans."""
    n, c = correct_counts(correct)
    return pass_at_k(n, c, np.asarray(ks)).mean(axis=-1)
