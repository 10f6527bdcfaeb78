import numpy as np
import pytest

from nblib.experiments import latent_overfitting as lo
from nblib.experiments.latent_overfitting import analysis


def test_cross_fit_of_a_falling_curve_is_zero_and_censored():
    steps = np.arange(1, 11) * 10
    a = b = np.linspace(3, 1, 10)
    fit = analysis.cross_fit(steps, a, b)
    assert fit["rise"] == 0.0 and fit["censored"] and fit["onset"] == pytest.approx(100)


def test_cross_fit_reads_the_rise_on_the_other_half():
    steps = np.arange(1, 11) * 10
    u = np.array([5, 4, 3, 2, 1, 1.5, 2, 2.5, 3, 3.5])  # minimum at step 50
    fit = analysis.cross_fit(steps, u, u + 0.1)
    assert fit["rise"] == pytest.approx(2.5) and fit["onset"] == pytest.approx(50)
    assert not fit["censored"]
    # a noisy minimum picked on one half does not inflate the other half's rise
    b = np.array([5, 4, 3, 2, 1.2, 1.5, 2, 2.5, 3, 3.5])
    a = np.array([5, 4, 3, 2, 1.5, 1.0, 2, 2.5, 3, 3.5])
    fit = analysis.cross_fit(steps, a, b)
    assert fit["rise"] == pytest.approx(0.5 * ((3.5 - 1.5) + (3.5 - 1.5)))


def test_decide_statistics_and_invariants_on_the_tiny_run(tiny):
    cfg, res = tiny
    verdicts = lo.decide(res, cfg)
    assert list(verdicts)[0] == lo.HEADLINE and len(verdicts) == 7
    parts = verdicts[lo.HEADLINE].details["parts"]
    assert set(parts) == {"rise", "meter_documents", "meter_sentences"}
    assert parts["meter_documents"].label == "SUPPORTED"  # no document repeats, by construction
    inv = lo.invariants(res, cfg)
    assert all(inv.values()), inv
    numbers = lo.statistics(res, cfg)
    assert {"summary", "rises", "decomposition", "meter", "probe_gaps", "shuffle_effect"} <= set(
        numbers)
    excess = analysis.meter_excess(res, cfg)
    assert (excess[excess.condition == "fresh"].excess_sentences == 0).all()
    assert lo.closing_line(verdicts).startswith("rise rephrased − fresh")


def test_decomposition_covers_every_kind(tiny):
    cfg, res = tiny
    d = analysis.decomposition(res, cfg)
    assert set(d.kind) == {"all", "text", "name", "value"}
    shares = d.drop_duplicates("kind").set_index("kind").token_share
    assert shares[["text", "name", "value"]].sum() == pytest.approx(1.0)
