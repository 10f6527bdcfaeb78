"""Notebook 16's fixtures: a tiny config, and metric tables shaped like `run_all`'s with known
answers (for the analysis) or every decoding present (for the figures)."""

import numpy as np
import pandas as pd
import pytest

from nblib.config import build
from nblib.experiments import roll_the_dice as rd

TINY = dict(interactive=False, seeds=2, tasks=["sibling", "circle"], sibling_parents=2,
            sibling_children=6, graph_entities=6, graph_len=4, n_train=40, graph_train=30,
            hash_lengths=[0, 3], d_model=16, n_layers=1, n_heads=2, steps=16, warmup_steps=1,
            n_evals=2, temperatures=[1.0, 2.0], n_samples=16, n_memorization=8)
STEPS = (10, 20, 40, 80)


@pytest.fixture(scope="package")
def cfg():
    return build(rd.RollTheDiceConfig, TINY)


def _table(tl_gain=0.1, seed_gap=0.0, ntp_decline=0.2, seeds=4, noise=0.01, rng_seed=0,
           dead=()) -> pd.DataFrame:
    """Metric rows shaped like `run_all`'s: seed-conditioned creativity of teacherless exceeds
    NTP's by `tl_gain`; seed-conditioning sits `seed_gap` above the temperature frontier at its
    coherence; NTP's creativity falls by `ntp_decline` after step 20 while memorization rises.
    Tasks in `dead` are never learned (every rate 0). The teacherless run processes twice the
    NTP run's tokens per step (`train_tokens`)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for task in ("sibling", "circle"):
        live = 0.0 if task in dead else 1.0
        for seed in range(seeds):
            for objective in ("ntp", "teacherless"):
                for step in STEPS:
                    late = step > 20
                    cr = 0.4 - (ntp_decline if late and objective == "ntp" else 0)
                    cr += tl_gain if objective == "teacherless" else 0
                    cr = live * (cr + noise * rng.standard_normal())
                    tokens = step * 100 * (2 if objective == "teacherless" else 1)
                    base = dict(task=task, objective=objective, seed=seed, step=step,
                                train_tokens=tokens)
                    rows.append(dict(base, method="seed", hash_len=6, temperature=0.0,
                                     coherence=0.8 * live, creativity=cr, diversity=cr,
                                     creativity_a=cr, creativity_b=cr))
                    rows.append(dict(base, method="memorization", hash_len=-1, temperature=0.0,
                                     memorization=0.9 if late else 0.1))
                    # the frontier: creativity = 1 - coherence
                    for t, coh in ((0.0, 1.0), (1.0, 0.9), (2.0, 0.7)):
                        cr_t = live * (1 - coh - seed_gap)
                        rows.append(dict(base, method="temperature", hash_len=0, temperature=t,
                                         coherence=live * coh, creativity=cr_t,
                                         diversity=live * (1 - coh), originality=0.5,
                                         creativity_a=cr_t, creativity_b=cr_t))
    return pd.DataFrame(rows)


@pytest.fixture
def table():
    """A factory: table(tl_gain, seed_gap, ntp_decline, seeds, ...) -> metric rows."""
    return _table


@pytest.fixture(scope="package")
def metrics():
    """Every decoding at two steps (the full frontier at the last), two seeds, two tasks."""
    rows = []
    for task in ("sibling", "circle"):
        for seed in range(2):
            for objective in ("ntp", "teacherless"):
                for step in (10, 20):
                    tokens = step * 100 * (2 if objective == "teacherless" else 1)
                    base = dict(task=task, objective=objective, seed=seed, step=step,
                                train_tokens=tokens)
                    decodings = [("temperature", 0, 1.0), ("seed", 6, 0.0), ("both", 6, 1.0)]
                    if step == 20:
                        decodings += [("temperature", 0, 0.0), ("temperature", 0, 2.0),
                                      ("seed", 2, 0.0), ("both", 6, 2.0)]
                    for i, (method, h, t) in enumerate(decodings):
                        rows.append({**base, "method": method, "hash_len": h, "temperature": t,
                                     "coherence": 0.9 - 0.1 * i,
                                     "creativity": 0.1 * i + 0.01 * seed,
                                     "diversity": 0.1 * i + 0.02, "originality": 0.5,
                                     "creativity_a": 0.1 * i, "creativity_b": 0.1 * i + 0.01})
                    rows.append({**base, "method": "memorization", "hash_len": -1,
                                 "temperature": 0.0, "memorization": step / 40 + 0.1 * seed})
    return pd.DataFrame(rows)
