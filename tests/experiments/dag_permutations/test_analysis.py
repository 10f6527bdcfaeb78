import numpy as np
import pytest

from nblib.experiments import dag_permutations as dp
from nblib.experiments.dag_permutations import analysis
from nblib.experiments.dag_permutations.experiment import TRUE_EDGES


def test_cross_fit_min_reads_each_halfs_minimum_on_the_other():
    a = np.array([3.0, 1.0, 2.0])
    b = np.array([3.0, 2.5, 1.5])
    assert analysis.cross_fit_min(a, b) == pytest.approx(0.5 * (2.5 + 2.0))


def _lift_with(edges, n=6, strong=3.0):
    lift = -np.ones((n, n))
    for i in range(n):
        lift[i, :i] = 1.0
        lift[i, i] = 5.0
    for j, i in edges:
        lift[i, j] = strong
    return lift.tolist()


def test_a_dag_holding_the_true_edges_always_respects_the_true_dag():
    full = analysis.doc_statistics(_lift_with(TRUE_EDGES), 1.25, True)
    assert full["recall"] == 1.0 and full["precision"] == 1.0 and full["share_true"] == 1.0
    assert full["log10_sorts"] == pytest.approx(np.log10(analysis.N_TRUE_SORTS))
    none = analysis.doc_statistics(_lift_with([]), 1.25, True)  # every lift alike: no edge
    assert none["edges"] == 0 and none["share_true"] == pytest.approx(60 / 720)


def test_decide_statistics_and_invariants_on_the_tiny_run(tiny):
    cfg, res = tiny
    verdicts = dp.decide(res, cfg)
    assert list(verdicts)[0] == dp.HEADLINE and len(verdicts) == 7
    inv = dp.invariants(res, cfg)
    # 30 steps on three 128-token excerpts need not learn anything (the smoke profile checks it)
    assert all(v for k, v in inv.items() if k != "training_lowers_the_validation_loss"), inv
    numbers = dp.statistics(res, cfg)
    assert {"summary", "endpoints", "contrasts", "dags"} <= set(numbers)
    table = analysis.dag_table(cfg)
    assert set(table.threshold) == set(cfg.sweep)
    assert (table[table.corpus == "bios"].share_true >= 60 / 720 - 1e-12).all()
    assert dp.closing_line(verdicts).startswith("bios val loss at the minimum")
