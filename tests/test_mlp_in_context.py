import dataclasses
import math

import pandas as pd
import pytest

from nblib.config import ConfigError, build
from nblib.experiments import mlp_in_context as icl
from nblib.stats import LABELS

TINY = dict(seeds=2, pool_sizes=[1, 8, None], context_lens=[4, 6], context_len=6, mlp_width=16, mlp_depth=1,
            mlp_steps=60, transformer_d_model=8, transformer_steps=20, small_mlp_width=4, small_mlp_steps=40,
            n_eval=128, n_evals=3, batch_size=32)


@pytest.fixture(scope="module")
def tiny():
    cfg = build(icl.ICLConfig, TINY)
    return cfg, icl.run_all(cfg)


def test_config_rules():
    with pytest.raises(ConfigError, match="transformer_heads"):
        build(icl.ICLConfig, dict(transformer_d_model=30, transformer_heads=4))
    with pytest.raises(ConfigError, match="pool_sizes"):
        build(icl.ICLConfig, dict(pool_sizes=[1, 4]))
    with pytest.raises(ConfigError, match=r"pool_sizes=\[0\].*element 0"):
        build(icl.ICLConfig, dict(pool_sizes=[0]))


def test_conditions_cover_both_sweeps_once():
    cfg = build(icl.ICLConfig, TINY)
    conds = icl.conditions(cfg)
    assert len(conds) == len(set(conds)) == 2 * (3 + 1 + 2 + 1)


def test_run_all_table_and_history(tiny):
    cfg, res = tiny
    assert len(res.table) == len(icl.conditions(cfg))
    cols = ["mse_true", "mse_pool", "ridge_true", "ridge_pool", "zero_true"]
    assert (res.table[cols] > 0).all().all() and res.table[cols].map(math.isfinite).all().all()
    finite = res.table.dropna(subset=["pool_size"])
    assert finite.dmmse_true.notna().all() and res.table[res.table.pool_size.isna()].dmmse_true.isna().all()
    last = res.history.groupby(["model", "pool_size", "context_len", "seed"], dropna=False).step.max()
    assert last.xs("mlp").eq(cfg.mlp_steps).all() and last.xs("transformer").eq(cfg.transformer_steps).all()


def test_deterministic_and_worker_count_does_not_matter(tiny):
    cfg, res = tiny
    cond = icl.Condition("mlp", 8, 6, 1)
    row = icl.train_condition(cfg, cond)["row"]
    again = res.table[(res.table.model == "mlp") & (res.table.pool_size == 8) & (res.table.seed == 1)].iloc[0]
    assert row["mse_true"] == again.mse_true and row["mse_pool"] == again.mse_pool


def test_analysis_and_verdict(tiny):
    cfg, res = tiny
    v = icl.decide(res.table, cfg)
    assert v.label in LABELS and v.threshold == icl.MARGIN
    assert icl.relative_excess(res.table, "mlp", 6).n == 2
    assert len(icl.mlp_vs_transformer(res.history, [4, 6])) == 2
    s = icl.first_layer_structure(res.models[icl.Condition("small_mlp", None, 6, 0)], cfg.dim, 6)
    shares = [v for k, v in s.items() if k.startswith("share")]
    assert sum(shares) == pytest.approx(1.0) and -1 <= s["context_row_similarity"] <= 1


def test_transition_k_interpolates_in_log_k():
    scores = pd.DataFrame(dict(pool_size=[4, 16, 64] * 2, seed=[0] * 3 + [1] * 3,
                               icl_score=[0.0, 0.25, 0.75, 0.0, 0.1, 0.2]))
    k = icl.transition_k(scores)
    assert k[0] == pytest.approx(32.0) and k[1] is None


def test_matched_compute_uses_the_smaller_budget():
    rows = []
    for model, flops, mse in [("mlp", [1, 10, 100], [1.0, 0.5, 0.2]), ("transformer", [1, 10], [1.0, 0.4])]:
        rows += [dict(model=model, seed=0, context_len=4, pool_size=None, flops=f, mse_true=m, ridge_true=0.1)
                 for f, m in zip(flops, mse, strict=True)]
    m = icl.matched_compute(pd.DataFrame(rows), 4).iloc[0]
    assert m.flops == 10 and m.mlp_excess == pytest.approx(4.0) and m.transformer_excess == pytest.approx(3.0)


def test_condition_form_fields_are_valid():
    assert {f.name for f in dataclasses.fields(icl.Condition)} == {"model", "pool_size", "context_len", "seed"}
