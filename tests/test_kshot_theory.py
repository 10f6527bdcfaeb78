"""nblib.experiments.kshot_theory: the minimiser of the expected k-shot loss is q for k = 1 (a proper
scoring rule), flatter than q for k > 1 (improper, under-confident, order kept), satisfies its
stationarity condition, and is not a temperature scaling of q."""

import numpy as np
import pytest
import torch

from nblib.experiments import kshot_theory as theory
from nblib.train.objectives import kshot_loss


def test_expected_loss_is_the_objective_averaged_over_targets():
    q = theory.zipf(5, 1.0)
    p = theory.zipf(5, 0.5)
    logits = torch.log(torch.tensor(p)).expand(5, 5)[None]  # (1, 5 targets, 5 classes): the same p each time
    targets = torch.arange(5)[None]  # (1, 5)
    per_class = [float(kshot_loss(logits[:, [y]], targets[:, [y]], 4)) for y in range(5)]
    assert float(theory.expected_kshot_loss(p, q, 4)) == pytest.approx(float(np.dot(q, per_class)), rel=1e-6)


def test_k1_is_proper():
    q = theory.zipf(6, 1.5)
    assert np.allclose(theory.kshot_minimiser(q, 1), q, atol=1e-7)


@pytest.mark.parametrize("k", [2, 4, 16, 64])
def test_k_above_1_is_improper_flatter_and_keeps_order(k):
    q = theory.zipf(8, 1.0)
    p = theory.kshot_minimiser(q, k)
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert float(theory.expected_kshot_loss(p, q, k)) < float(theory.expected_kshot_loss(q, q, k)) - 1e-6
    assert theory.entropy(p) > theory.entropy(q) and p.max() < q.max()  # under-confident on the top class
    assert np.all(np.diff(p) < 0)  # q is sorted descending, and so is p*
    assert theory.stationarity_spread(p, q, k) < 1e-5


def test_flattening_grows_with_k_and_zero_classes_stay_zero():
    q = np.array([0.6, 0.3, 0.1, 0.0])
    tops = [theory.kshot_minimiser(q, k).max() for k in (1, 2, 4, 16)]
    assert np.all(np.diff(tops) < 0)
    assert theory.kshot_minimiser(q, 16)[3] == 0.0


def test_no_single_temperature_reproduces_the_minimiser():
    table, found = theory.minimiser_table(8, [0.5, 2.0, 3.0], [1, 4, 16])
    kshot = table[table.k > 1]
    assert (kshot.best_temperature > 1).all()  # hotter than q helps the k-shot objective ...
    assert (kshot.temperature_excess > 1e-6).all()  # ... but never reaches the optimum (beyond solver error)
    for _, g in kshot.groupby("k"):  # and the best temperature depends on the target
        assert g.best_temperature.max() / g.best_temperature.min() > 1.1
    k1 = table[table.k == 1]
    assert np.allclose(k1.best_temperature, 1.0, atol=1e-3) and (k1.top1_p - k1.top1_q).abs().max() < 1e-6
    assert set(found) == {(e, k) for e in (0.5, 2.0, 3.0) for k in (1, 4, 16)}


def test_temperature_scaling_is_a_power():
    q = np.array([0.5, 0.25, 0.25])
    assert np.allclose(theory.temperature_scaled(q, 1.0), q)
    assert np.allclose(theory.temperature_scaled(q, 0.5), np.array([0.25, 1 / 16, 1 / 16]) / (0.25 + 2 / 16))


@pytest.mark.parametrize("q, message", [
    ([0.5, 0.6], "probability vector"), ([1.0], "probability vector"), ([-0.1, 1.1], "probability vector")])
def test_bad_targets_are_refused(q, message):
    with pytest.raises(ValueError, match=message):
        theory.kshot_minimiser(q, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        theory.zipf(1, 1.0)
