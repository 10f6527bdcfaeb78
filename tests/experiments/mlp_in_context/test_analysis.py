import numpy as np
import pandas as pd
import pytest

from nblib.config import build, replace
from nblib.experiments import mlp_in_context as icl
from nblib.experiments.mlp_in_context import analysis
from nblib.stats import LABELS

from .conftest import TINY


def _pairs(deltas_by_L: dict[int, list[float]], mlp_excess: float = 0.5) -> pd.DataFrame:
    """A results table where, per seed, MSE_mlp / ridge − 1 = mlp_excess + slope-free noise and
    the transformer's excess is mlp_excess − delta."""
    rows = []
    for L, deltas in deltas_by_L.items():
        for seed, d in enumerate(deltas):
            ridge = 0.1
            rows.append(dict(model="mlp", pool_size=None, context_len=L, seed=seed, steps=100,
                             mse_true=ridge * (1 + mlp_excess), ridge_true=ridge))
            rows.append(dict(model="transformer", pool_size=None, context_len=L, seed=seed,
                             steps=50, mse_true=ridge * (1 + mlp_excess - d), ridge_true=ridge))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("deltas,label", [
    ([0.01, -0.02, 0.0, 0.02, -0.01], LABELS[0]),  # tight inside ±0.1: equivalent
    ([0.30, 0.32, 0.29, 0.31, 0.33], LABELS[1]),  # the MLP clearly behind
    ([-0.30, -0.32, -0.29, -0.31, -0.33], LABELS[1]),  # the MLP clearly ahead: not equal either
    ([0.0, 0.2, -0.1, 0.15, 0.05], LABELS[2]),  # straddles the margin
])
def test_equivalence_is_a_tost_on_the_90_percent_interval(deltas, label):
    cfg = build(icl.ICLConfig, dict(TINY, margin=0.1))
    v = icl.equivalence(_pairs({6: deltas}), cfg, 6)
    assert v.label == label and v.threshold == 0.1 and v.estimate.level == 0.90
    assert v.estimate.value == pytest.approx(np.mean(deltas))
    assert v.details["ci95"].level == 0.95 and v.details["ci95"].low <= v.estimate.low
    if label == LABELS[1]:
        assert v.details["significantly_better"] == ("transformer" if deltas[0] > 0 else "mlp")


def test_equivalence_with_one_seed_is_inconclusive():
    cfg = build(icl.ICLConfig, dict(TINY, seeds=1))
    assert icl.equivalence(_pairs({6: [0.0]}), cfg, 6).label == LABELS[2]


def test_excess_slopes_per_doubling_of_L():
    rows = []
    for seed in range(3):
        for L in (4, 8, 16):
            for net, slope in (("mlp", 0.2), ("transformer", 0.05)):
                ridge = 0.1
                excess = 0.1 + slope * np.log2(L) + 0.01 * seed
                rows.append(dict(model=net, pool_size=None, context_len=L, seed=seed,
                                 mse_true=ridge * (1 + excess), ridge_true=ridge))
    s = icl.excess_slopes(pd.DataFrame(rows), [4, 8, 16])
    assert s["mlp"].value == pytest.approx(0.2) and s["transformer"].value == pytest.approx(0.05)
    assert s["difference"].value == pytest.approx(0.15) and s["difference"].n == 3


def test_transition_verdict_reads_the_largest_separated_pool():
    cfg = build(icl.ICLConfig, dict(TINY, separation=1.25))
    rows = []
    for seed in range(3):
        for k, dmmse, mlp in ((1, 1.2, 1.25), (8, 0.3, 0.2 + 0.01 * seed), (64, 0.105, 0.11)):
            rows.append(dict(model="mlp", pool_size=k, context_len=6, seed=seed, mse_true=mlp,
                             mse_pool=mlp, dmmse_true=dmmse, ridge_true=0.1))
        rows.append(dict(model="mlp", pool_size=None, context_len=6, seed=seed, mse_true=0.11,
                         mse_pool=0.11, dmmse_true=None, ridge_true=0.1))
    table = pd.DataFrame(rows)
    v = analysis.transition_verdict(table, cfg)
    assert v.details["separated_k"] == 8 and v.label == LABELS[0]  # 0.2 < 0.3
    assert analysis.transition_verdict(table, replace(cfg, separation=50.0)).label == LABELS[2]


def test_decide_statistics_invariants_and_text(tiny):
    cfg, res = tiny
    verdicts = icl.decide(res.table, cfg, res.lrs)
    assert list(verdicts) == [icl.HEADLINE, "equivalent_at_L4", "mlp_excess_grows_with_L",
                              "mlp_excess_grows_faster", "icl_beyond_pool",
                              "small_mlp_learns_in_context"]
    assert all(v.label in LABELS for v in verdicts.values())
    head = verdicts[icl.HEADLINE]
    assert head.threshold == cfg.margin and head.details["learning_rates"]["mlp"] == \
        res.lrs["mlp", 6]
    assert icl.decide(res.table, replace(cfg, margin=0.5))[icl.HEADLINE].threshold == 0.5
    assert "headline delta" in icl.closing_line(verdicts)
    numbers = icl.statistics(res.table, cfg, res.models)
    assert {"relative_excess", "excess_slope_per_doubling", "small_mlp_structure",
            "mlp_vs_transformer", "vs_dmmse_by_k"} <= set(numbers)
    assert set(numbers["relative_excess"]) == {"mlp_L4", "mlp_L6", "transformer_L4",
                                               "transformer_L6"}
    structure = numbers["small_mlp_structure"]
    assert structure["share_query_x"].n == 2 and structure["share_query_x"].low <= \
        structure["share_query_x"].value
    assert len(numbers["mlp_vs_transformer"]) == 2
    assert "relative excess over ridge" in icl.statistics_text(numbers, cfg)
    inv = icl.invariants(res.table, res.tuning, cfg)
    assert inv["all_mse_finite_positive"] and inv["ridge_beats_context_free"]
    assert inv["same_training_flops_within_a_step"] and inv["test_runs_use_the_selected_rates"]
    assert inv["tuning_seed_is_not_a_test_seed"]
    lr = icl.lr_table(res.tuning)
    assert lr.selected.sum() == 4 and lr.at_edge[lr.selected].all()  # two rates: both are ends
    assert list(icl.summary_table(res.table).columns) == ["lr", "steps", "mse_true", "mse_pool",
                                                          "ridge_true", "flops", "train_s"]
    assert list(icl.score_summary(icl.icl_score(res.table, 6)).index) == [1.0, 8.0]


def test_invariant_catches_unequal_budgets(tiny):
    cfg, res = tiny
    broken = res.table.copy()
    broken.loc[broken.model == "transformer", "flops"] *= 2
    assert not icl.invariants(broken, res.tuning, cfg)["same_training_flops_within_a_step"]


def test_first_layer_table_one_row_per_seed(tiny):
    cfg, res = tiny
    table = icl.first_layer_table(res.models, cfg)
    assert list(table.seed) == cfg.seed_list and "context_row_similarity" in table
    model = res.models[icl.Condition("small_mlp", None, 6, 0, cfg.small_mlp_lr)]
    s = icl.first_layer_structure(model, cfg.dim, 6)
    shares = [v for k, v in s.items() if k.startswith("share")]
    assert sum(shares) == pytest.approx(1.0) and -1 <= s["context_row_similarity"] <= 1
    assert icl.first_layer_structure(model.first_layer(), cfg.dim, 6) == \
        table.iloc[0].drop("seed").to_dict()
    est = icl.structure_estimates(table, cfg)
    even = cfg.dim / (6 * (cfg.dim + 1))
    assert est["query_x_share_over_even"].value == pytest.approx(table.share_query_x.mean() / even)


def test_transition_k_interpolates_in_log_k():
    scores = pd.DataFrame(dict(pool_size=[4, 16, 64] * 2, seed=[0] * 3 + [1] * 3,
                               icl_score=[0.0, 0.25, 0.75, 0.0, 0.1, 0.2]))
    k = icl.transition_k(scores)
    assert k[0] == pytest.approx(32.0) and k[1] is None
    assert icl.transition_k(scores, midpoint=0.25)[0] == pytest.approx(16.0)


def test_geometric_mean_k_skips_seeds_that_never_cross():
    est = icl.geometric_mean_k({0: 4.0, 1: 16.0, 2: None})
    assert est.value == pytest.approx(8.0) and est.n == 2 and est.low < 8.0 < est.high
    one = icl.geometric_mean_k({0: 4.0})
    assert one.value == pytest.approx(4.0) and one.n == 1
