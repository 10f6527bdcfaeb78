"""Notebook 04's fixtures: a tiny config, synthetic pass@k curves with known answers (a sharp
model against a spread one: the curves cross; two identical models; a uniformly better one), and
synthetic exact trajectories of models with known answer probabilities."""

import numpy as np
import pandas as pd
import pytest
import torch

from nblib.config import build
from nblib.eval.passk import pass_at_k_exact
from nblib.experiments import kshot_objective as ko
from nblib.experiments.kshot_objective import experiment as ex

TINY = dict(interactive=False, seeds=1, ks=[1, 4], label_smoothing=[0.2], modulus=7,
            n_children=4, sibling_train=30, d_model=16, n_heads=2, steps=30, warmup_steps=5,
            batch_size=16, n_evals=3, eval_problems=6, samples=8, pass_ks=[1, 2, 4, 8],
            ntp_temperatures=[2.0], theory_zipf=[1.0], theory_ks=[1, 4], workers=1)
PASS_KS = [1, 2, 4, 8, 16, 32, 64]
VOCAB = 10  # answers of the synthetic one-answer task (chance 1/VOCAB)


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
                              "pass": v, "pass_valid": v, "pass_exact": v, "final_loss": 0.1,
                              "pass_chance": 1 - (1 - 1 / VOCAB) ** kk}
                             for kk, v in zip(PASS_KS, curve, strict=True)]
                problems += [{"task": task, "k": k, "seed": seed, "problem": i,
                              "top1": max(x, 1 - x), "entropy": 0.5, "correct": int(64 * x),
                              "top1_correct": x > 0.5} for i, x in enumerate(p)]
    return pd.DataFrame(rows), pd.DataFrame(problems)


@pytest.fixture
def synthetic():
    """A factory: synthetic({k: kind}, seeds=4, tasks=("modular",)) -> (curves, per_problem)."""
    return _synthetic



def _trajectory(models: dict, seeds: int = 4, steps=(10, 20)) -> pd.DataFrame:
    """A trajectory table shaped like `run_all`'s for {name: (k, smoothing, p)}, where p(seed) is
    the (P,) probability of each problem's right answer (the rest spread evenly over the wrong
    ones), the same at every step; built by the experiment's own `transform_rows`."""
    rows = []
    for seed in range(seeds):
        for name, (k, smoothing, p_of) in models.items():
            p = p_of(seed)  # (P,)
            wrong = np.repeat(((1 - p) / (VOCAB - 1))[:, None], VOCAB - 1, 1)  # (P, VOCAB − 1)
            dist = torch.tensor(np.c_[p, wrong])  # (P, VOCAB), answer 0 is right
            right = torch.zeros_like(dist, dtype=torch.bool)
            right[:, 0] = True
            chance = np.full(len(p), 1 / VOCAB)
            for step in steps:
                for r in ex.transform_rows(dist, right, chance, PASS_KS, step):
                    rows += [{"task": "modular", "model": name, "k": k, "smoothing": smoothing,
                              "seed": seed, "step": step, "sampling": r["sampling"],
                              "setting": r["setting"], "pass_k": int(kk), "pass": v}
                             for kk, v in r["pass"].items()]
    return pd.DataFrame(rows)


def kind_p(kind: str):
    """p(seed) of a `model_p` kind on the same problems for every model of a seed."""
    return lambda seed: model_p(kind, np.random.default_rng(seed))


@pytest.fixture
def trajectory():
    """A factory: trajectory({name: (k, smoothing, p_of_seed)}, seeds=4) -> trajectory table."""
    return _trajectory
