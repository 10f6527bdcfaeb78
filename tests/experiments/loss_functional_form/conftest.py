"""Fixtures of notebook 03's tests: synthetic (N, D, loss) grids with a known law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SCALING_TRUTH = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.37)


def _scaling_grid(flatten: float = 0.0, seeds: int = 3, noise: float = 0.003):
    """Chinchilla losses over 4 sizes x 6 budgets; `flatten` adds flatten * log2(tpp / 64) nats
    above 64 tokens per parameter (the loss falls more slowly than the law there)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in (3e4, 6e4, 1.2e5, 2.4e5):
        for seed in range(seeds):
            for tpp in (8, 16, 32, 64, 128, 256):
                d = n * tpp
                t = SCALING_TRUTH
                loss = t["E"] + t["A"] / n ** t["alpha"] + t["B"] / d ** t["beta"]
                loss += flatten * max(0.0, np.log2(tpp / 64))
                rows.append({"N": n, "seed": seed, "tpp": float(tpp), "D": d,
                             "loss": loss * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


@pytest.fixture
def scaling_grid():
    """Synthetic (N, D, loss) points with a known law, for the notebook-03 analysis and view
    tests."""
    return _scaling_grid
