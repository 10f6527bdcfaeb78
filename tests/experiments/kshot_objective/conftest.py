"""Notebook 04's fixtures: a tiny config, and synthetic pass@k curves with known answers (a sharp
model against a spread one: the curves cross; two identical models; a uniformly better one)."""

import numpy as np
import pandas as pd
import pytest

from nblib.config import build
from nblib.eval.passk import pass_at_k_exact
from nblib.experiments import kshot_objective as ko

TINY = dict(interactive=False, seeds=1, ks=[1, 4], modulus=7, n_children=4, sibling_train=30,
            d_model=16, n_heads=2, steps=30, warmup_steps=5, batch_size=16, eval_problems=6,
            samples=8, pass_ks=[1, 2, 8], ntp_temperatures=[2.0], theory_zipf=[1.0],
            theory_ks=[1, 4], workers=1)
PASS_KS = [1, 2, 4, 8, 16, 32, 64]


@pytest.fixture(scope="package")
def cfg():
    return build(ko.KshotConfig, TINY)


def model_p(kind: str, rng, n_problems: int = 200) -> np.ndarray:
    """Per-problem success probabilities: 'sharp' is right with p ≈ 1 on 40% of the problems and
    hopeless on the rest; 'spread' is right with p ≈ 0.25 everywhere; 'better' beats both."""
    if kind == "sharp":
        return np.where(rng.random(n_problems) < 0.4, 0.95, 0.001)
    if kind == "spread":
        return np.clip(rng.normal(0.25, 0.05, n_problems), 0.01, 1)
    return np.clip(rng.normal(0.9, 0.02, n_problems), 0, 1)


def _synthetic(kinds: dict[int, str], seeds: int = 4, tasks=("modular",)
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, per_problem) shaped like `run_all`'s, from exact pass@k of known models."""
    rows, problems = [], []
    for task in tasks:
        for seed in range(seeds):
            for k, kind in kinds.items():
                p = model_p(kind, np.random.default_rng(seed))  # the same problems for every model
                temps = [1.0, 2.0] if k == 1 else [1.0]
                for t in temps:
                    q = p if t == 1.0 else p ** 0.8  # a hotter sampler: more mass off the top
                    curve = pass_at_k_exact(q, PASS_KS).mean(-1)
                    rows += [{"task": task, "k": k, "seed": seed, "temperature": t, "pass_k": kk,
                              "pass": v, "pass_valid": v, "pass_exact": v, "final_loss": 0.1}
                             for kk, v in zip(PASS_KS, curve, strict=True)]
                problems += [{"task": task, "k": k, "seed": seed, "problem": i,
                              "top1": max(x, 1 - x), "entropy": 0.5, "correct": int(64 * x),
                              "top1_correct": x > 0.5} for i, x in enumerate(p)]
    return pd.DataFrame(rows), pd.DataFrame(problems)


@pytest.fixture
def synthetic():
    """A factory: synthetic({k: kind}, seeds=4, tasks=("modular",)) -> (curves, per_problem)."""
    return _synthetic
