import pandas as pd
import pytest

from nblib.config import replace
from nblib.experiments import mlp_in_context as icl
from nblib.stats import LABELS


def test_analysis_and_verdict(tiny):
    cfg, res = tiny
    v = icl.decide(res.table, cfg)
    assert v.label in LABELS and v.threshold == cfg.margin
    assert icl.decide(res.table, replace(cfg, margin=0.5)).threshold == 0.5
    assert icl.relative_excess(res.table, "mlp", 6).n == 2
    assert len(icl.mlp_vs_transformer(res.history, [4, 6])) == 2
    s = icl.first_layer_structure(res.models[icl.Condition("small_mlp", None, 6, 0)], cfg.dim, 6)
    shares = [v for k, v in s.items() if k.startswith("share")]
    assert sum(shares) == pytest.approx(1.0) and -1 <= s["context_row_similarity"] <= 1


def test_first_layer_table_one_row_per_seed(tiny):
    cfg, res = tiny
    table = icl.first_layer_table(res.models, cfg)
    assert len(table) == cfg.seeds and "context_row_similarity" in table
    model = res.models[icl.Condition("small_mlp", None, 6, 0)]
    assert icl.first_layer_structure(model.first_layer(), cfg.dim, 6) == table.iloc[0].to_dict()


def test_statistics_invariants_and_text(tiny):
    cfg, res = tiny
    numbers = icl.statistics(res.table, res.history, cfg)
    assert set(numbers) == {"mlp_relative_excess", "mlp_gap_closed", "small_mlp_gap_closed",
                            "transition_k_per_seed", "transition_k_geometric_mean",
                            "icl_score_by_k", "mlp_vs_transformer"}
    assert set(numbers["transition_k_per_seed"]) == {0, 1}
    assert len(numbers["mlp_vs_transformer"]) == 2
    assert "relative excess over ridge" in icl.statistics_text(numbers, cfg)
    assert icl.closing_line(numbers).startswith("the MLP closes")
    inv = icl.invariants(res.table, cfg)
    assert set(inv) == {"all_mse_finite_positive", "ridge_beats_context_free",
                        "dmmse_beats_ridge_on_smallest_pool", "mlp_beats_context_free"}
    assert inv["all_mse_finite_positive"] and inv["ridge_beats_context_free"]
    assert list(icl.summary_table(res.table).columns) == ["mse_true", "mse_pool", "ridge_true",
                                                          "flops", "train_s"]
    assert list(icl.score_summary(icl.icl_score(res.table, 6)).index) == [1.0, 8.0]


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


def test_matched_compute_uses_the_smaller_budget():
    rows = []
    for model, flops, mse in [("mlp", [1, 10, 100], [1.0, 0.5, 0.2]),
                              ("transformer", [1, 10], [1.0, 0.4])]:
        rows += [dict(model=model, seed=0, context_len=4, pool_size=None, flops=f, mse_true=m,
                      ridge_true=0.1) for f, m in zip(flops, mse, strict=True)]
    m = icl.matched_compute(pd.DataFrame(rows), 4).iloc[0]
    assert m.flops == 10 and m.mlp_excess == pytest.approx(4.0)
    assert m.transformer_excess == pytest.approx(3.0)
