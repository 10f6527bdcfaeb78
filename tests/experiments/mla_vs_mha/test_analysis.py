import numpy as np
import pandas as pd
import pytest

from nblib.config import build
from nblib.experiments import mla_vs_mha as mla
from nblib.experiments.mla_vs_mha import analysis
from nblib.stats import LABELS

from .conftest import TINY


def _table(diffs: dict[str, list[float]], base: float = 3.0) -> pd.DataFrame:
    """Test losses per seed: MHA at `base` + seed noise, each other variant at MHA + its diff."""
    rows = []
    n = len(next(iter(diffs.values())))
    for seed in range(n):
        mha = base + 0.05 * seed
        rows.append(dict(variant="mha", seed=seed, lr=1e-3, test_loss=mha))
        for v, d in diffs.items():
            rows.append(dict(variant=v, seed=seed, lr=1e-3, test_loss=mha + d[seed]))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("diffs,label", [
    ([0.001, -0.002, 0.0, 0.002, -0.001], LABELS[0]),
    ([0.10, 0.12, 0.09, 0.11, 0.13], LABELS[1]),
    ([-0.10, -0.12, -0.09, -0.11, -0.13], LABELS[1]),
    ([0.0, 0.05, -0.03, 0.04, 0.01], LABELS[2]),
])
def test_equivalence_is_a_tost_on_the_90_percent_interval(diffs, label):
    v = analysis.equivalence(_table({"x": diffs}), "x", "mha", 0.02, "claim")
    assert v.label == label and v.estimate.level == 0.90
    assert v.estimate.value == pytest.approx(np.mean(diffs))


def test_share_of_a_control_that_reproduces_half():
    t = _table({"mla_r6": [0.10, 0.12, 0.08, 0.11, 0.09],
                "mqa": [0.05, 0.06, 0.04, 0.055, 0.045]})
    e = analysis.share(t, "mqa", "mla_r6")
    assert e.value == pytest.approx(0.5) and e.low <= 0.5 <= e.high


def test_mechanism_verdicts_need_a_difference_to_apportion():
    cfg = build(mla.MLAConfig, {**TINY, "seeds": 5})
    noise = [0.02, -0.03, 0.01, -0.01, 0.015]
    t = _table({"mla_r6": noise, "mqa": noise, "mha_mla_heads": noise})
    out = analysis.mechanism_verdicts(t, cfg, "SUPPORTED")
    assert out and all(v.label == LABELS[2] and "reason" in v.details for v in out.values())
    t = _table({"mla_r6": [0.10, 0.12, 0.08, 0.11, 0.09], "mqa": [0.10, 0.12, 0.08, 0.11, 0.09],
                "mha_mla_heads": [0.0, 0.001, -0.001, 0.0, 0.0]})
    out = analysis.mechanism_verdicts(t, cfg, "SUPPORTED")
    assert out["share_mqa"].label == LABELS[0] and out["share_mha_mla_heads"].label == LABELS[1]


@pytest.mark.parametrize("ablations,middle", [
    (["headrope_nonorm"], None), (["headrope_nonorm", "headrope"], "mla_r16_headrope"),
    (["headrope_nonorm", "nonorm"], "mla_r16_nonorm")])
def test_decomposition_steps_add_up_to_the_headline(ablations, middle):
    cfg = build(mla.MLAConfig, {**TINY, "seeds": 5, "mla_ablations": ablations})
    path = analysis.decomposition_path(cfg)
    chain = [path[0][1]] + [b for _, _, b in path]
    assert chain[0] == "mha" and chain[-1] == "mla_r6" and chain[2] == "mla_r16_headrope_nonorm"
    assert all(a == chain[i] for i, (_, a, _) in enumerate(path))  # each step starts where the
    assert (middle in chain) == (middle is not None)  # last one ended
    rng = np.random.default_rng(0)
    t = _table({v: list(rng.normal(0.05, 0.02, 5)) for v in chain[1:]})
    d = analysis.decomposition(t, cfg)
    total = analysis.paired_difference(t, "mla_r6", "mha").value
    assert d.value.sum() == pytest.approx(total) and (d.n == 5).all()


def test_ranking_stability():
    rows = []
    for seed in range(3):
        for step, order in ((20, ["c", "b", "a"]), (50, ["a", "b", "c"]), (98, ["c", "b", "a"]),
                            (100, ["a", "b", "c"])):
            for i, v in enumerate(order):
                rows.append(dict(variant=v, seed=seed, step=step, val_loss=3 + 0.1 * i))
    stable = analysis.ranking_stability(pd.DataFrame(rows))
    assert stable["steps"] == [50, 100] and stable["tau_mean"] == pytest.approx(1.0)
    flipped = pd.DataFrame(rows)
    late = flipped.step == 100
    flipped.loc[late, "val_loss"] = 4 - flipped.loc[late, "val_loss"]
    assert analysis.ranking_stability(flipped)["tau_mean"] == pytest.approx(-1.0)


def test_decide_and_invariants_on_the_tiny_run(tiny):
    cfg, res = tiny
    verdicts = mla.decide(res.table, cfg)
    assert list(verdicts)[:2] == [analysis.CALIBRATION, mla.HEADLINE]
    assert "mla_beats_gqa_at_equal_cache" in verdicts
    assert all(v.label in LABELS for v in verdicts.values())
    data = mla.load_data(cfg)
    inv = mla.invariants(res, cfg, data.unigram_loss)
    assert all(inv.values()), inv
    numbers = mla.statistics(res, cfg, data.unigram_loss)
    assert numbers["seed_spread"]["paired_difference_sd"] >= 0
    assert numbers["unigram_test_loss"] == data.unigram_loss
    assert mla.closing_line(verdicts).startswith("L_mla − L_mha")


def test_invariants_catch_an_unmatched_model(tiny):
    cfg, res = tiny
    worse = res.table.assign(test_loss=res.table.test_loss + 10.0)
    broken = type(res)(**{**res.__dict__, "table": worse})
    inv = mla.invariants(broken, cfg, mla.load_data(cfg).unigram_loss)
    assert not inv["every_variant_beats_the_unigram"]
    assert not inv["full_rank_truncation_is_the_trained_mha"]


def test_lr_table_marks_a_rate_at_the_edge():
    t = pd.DataFrame(dict(variant=["a"] * 3 + ["b"] * 3, lr=[1, 2, 3] * 2,
                          val_loss=[3.0, 2.9, 2.8, 3.0, 2.8, 2.9],
                          selected=[False, False, True, False, True, False]))
    edge = analysis.lr_table(t).set_index(["variant", "lr"]).at_edge
    assert edge[("a", 3)] and not edge[("b", 2)] and edge.sum() == 1
