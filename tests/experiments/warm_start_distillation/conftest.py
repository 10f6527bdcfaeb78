"""Fixtures of notebook 01's tests: constructed results whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _kd_results(gain_at: float, slope: float, seeds: int = 3, noise: float = 0.0,
                teacher_share: float = 0.05):
    """Scratch loss 6 − 0.5·log2(C/1e9) at budgets 1..16e9 FLOPs (plus 32e9), and one KD condition
    whose loss at matched *total* compute is scratch's + gain_at + slope·log2(C/1e9)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        offset = rng.normal(0, 0.1)  # seeds differ; pairing removes it
        for c in [1e9, 2e9, 4e9, 8e9, 16e9, 32e9]:
            rows.append({"condition": "scratch", "seed": seed, "tpp": c / 1e9, "student_flops": c,
                         "total_flops": c, "loss": 6 - 0.5 * np.log2(c / 1e9) + offset})
        for c in [1e9, 2e9, 4e9, 8e9, 16e9]:
            total = c * (1 + teacher_share)
            scratch_there = 6 - 0.5 * np.log2(total / 1e9) + offset
            delta = gain_at + slope * np.log2(total / 1e9) + rng.normal(0, noise)
            rows.append({"condition": "kd", "seed": seed, "tpp": c / 1e9, "student_flops": c,
                         "total_flops": total, "loss": scratch_there + delta})
    return pd.DataFrame(rows)


@pytest.fixture
def kd_results():
    """Synthetic notebook-01 results (scratch and one distilled condition) with a known gap."""
    return _kd_results
