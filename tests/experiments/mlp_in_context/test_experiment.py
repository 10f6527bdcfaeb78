import json
import math

import pandas as pd
import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.experiments import mlp_in_context as icl
from nblib.experiments.mlp_in_context import experiment
from nblib.train.checkpoints import geometric_steps

from .conftest import TINY


def test_config_rules():
    with pytest.raises(ConfigError, match="transformer_heads"):
        build(icl.ICLConfig, dict(transformer_d_model=30, transformer_heads=4))
    with pytest.raises(ConfigError, match="pool_sizes"):
        build(icl.ICLConfig, dict(pool_sizes=[1, 4]))
    with pytest.raises(ConfigError, match=r"pool_sizes=\[0\].*element 0"):
        build(icl.ICLConfig, dict(pool_sizes=[0]))
    with pytest.raises(ConfigError, match="tune_seed"):
        build(icl.ICLConfig, dict(tune_seed=2, seeds=5))
    with pytest.raises(ConfigError, match="mlp_lrs"):
        build(icl.ICLConfig, dict(mlp_lrs=[1e-3, 1e-3]))
    with pytest.raises(ConfigError, match="context_len"):
        build(icl.ICLConfig, dict(context_lens=[4, 16]))


def test_default_is_five_seeds_out_of_warmup():
    cfg = build(icl.ICLConfig, dict(interactive=False))
    assert cfg.seeds >= 5 and cfg.tune_seed not in cfg.seed_list
    table = icl.compute_table(cfg)
    assert (table.steps >= cfg.min_steps).all() and (table.warmup_steps < table.steps / 10).all()


def test_steps_spend_one_flop_budget(cfg):
    """Both networks' steps times their FLOPs per step land within one step of train_flops."""
    table = icl.compute_table(cfg)
    spent = table.steps * table.flops_per_step
    assert ((spent - cfg.train_flops).abs() <= table.flops_per_step / 2).all()
    tf = table[table.model == "transformer"].set_index("context_len")
    assert tf.steps[4] > tf.steps[6]  # the transformer's FLOPs per step grow with L
    with pytest.raises(ConfigError, match="train_flops"):
        icl.compute_table(replace(cfg, min_steps=10**6))


def test_conditions_cover_the_sweep_and_the_test_runs(cfg):
    tune = icl.tuning_conditions(cfg)
    assert len(tune) == len(set(tune)) == 2 * 2 * 2 and {c.seed for c in tune} == {cfg.tune_seed}
    lrs = {(m, L): 0.5 for m in ("mlp", "transformer") for L in (4, 6)}
    conds = icl.conditions(cfg, lrs)
    assert len(conds) == len(set(conds)) == 2 * (4 + 2 + 1)
    assert icl.n_runs(cfg) == len(tune) + len(conds)
    assert {c.lr for c in conds if c.model != "small_mlp"} == {0.5}
    assert icl.jobs(conds)[0] == dict(model="mlp", pool_size=None, context_len=4, seed=0, lr=0.5)


def test_first_seed_shifts_the_seeds(cfg):
    later = replace(cfg, first_seed=3)
    lrs = {(m, L): 1e-3 for m in ("mlp", "transformer") for L in (4, 6)}
    assert sorted({c.seed for c in icl.conditions(later, lrs)}) == [3, 4]


def test_select_lrs_takes_the_lowest_tuning_mse_and_skips_diverged():
    t = pd.DataFrame(dict(model=["mlp"] * 3 + ["transformer"] * 2, context_len=4,
                          lr=[1e-3, 3e-3, 1e-2, 1e-3, 3e-3],
                          mse_true=[0.3, 0.2, float("nan"), 0.5, None]))
    assert icl.select_lrs(t) == {("mlp", 4): 3e-3, ("transformer", 4): 1e-3}
    with pytest.raises(FloatingPointError, match="diverged"):
        icl.select_lrs(t.assign(mse_true=float("nan")))


def test_run_all_table_history_and_selection(tiny):
    cfg, res = tiny
    assert len(res.tuning) == len(icl.tuning_conditions(cfg))
    assert res.lrs == icl.select_lrs(res.tuning) and res.tuning.selected.sum() == 4
    assert len(res.table) == len(icl.conditions(cfg, res.lrs))
    cols = ["mse_true", "mse_pool", "ridge_true", "ridge_pool", "zero_true"]
    assert (res.table[cols] > 0).all().all() and res.table[cols].map(math.isfinite).all().all()
    finite = res.table.dropna(subset=["pool_size"])
    assert finite.dmmse_true.notna().all()
    assert res.table[res.table.pool_size.isna()].dmmse_true.isna().all()
    keys = ["model", "pool_size", "context_len", "seed"]
    last = res.history.groupby(keys, dropna=False).step.max()
    for net in ("mlp", "transformer"):
        for L in cfg.context_lens:
            assert last.xs((net, L), level=["model", "context_len"]).eq(
                icl.steps_for(cfg, net, L)).all()
    mlp = res.history[(res.history.model == "mlp") & (res.history.context_len == 6)]
    want = geometric_steps(icl.steps_for(cfg, "mlp", 6), cfg.n_evals,
                           icl.steps_for(cfg, "mlp", 6) / 100)
    assert all(s == want for s in mlp.groupby(["pool_size", "seed"], dropna=False).step.apply(list))
    assert "history" not in res.table and "state" not in res.table
    assert not res.table.diverged.any()


def test_deterministic_and_worker_count_does_not_matter(tiny):
    cfg, res = tiny
    lr = res.lrs["mlp", 6]
    row = icl.train_condition(cfg, icl.Condition("mlp", 8, 6, 1, lr))["row"]
    t = res.table
    again = t[(t.model == "mlp") & (t.pool_size == 8) & (t.seed == 1)].iloc[0]
    assert row["mse_true"] == again.mse_true and row["mse_pool"] == again.mse_pool


def test_a_rerun_reads_every_job_back(tiny):
    """Resumable: the same settings again train nothing and give the same tables."""
    cfg, res = tiny
    again = icl.run_all(cfg)
    assert [len(g.resumed) for g in again.jobs] == [len(g.jobs) for g in res.jobs]
    assert not any(g.resumed for g in res.jobs)
    assert again.table.drop(columns="train_s").equals(res.table.drop(columns="train_s"))
    assert again.history.drop(columns="train_s").equals(res.history.drop(columns="train_s"))


def test_small_mlp_weights_come_back_exactly(tiny):
    cfg, res = tiny
    cond = icl.Condition("small_mlp", None, 6, 0, cfg.small_mlp_lr)
    trained = icl.train_condition(cfg, cond)["model"].state_dict()
    loaded = res.models[cond].state_dict()
    assert set(res.models) == {icl.Condition("small_mlp", None, 6, s, cfg.small_mlp_lr)
                               for s in (0, 1)}
    assert all(torch.equal(trained[k], loaded[k]) for k in trained)


def test_job_result_is_json_and_keyed_by_what_shapes_it(cfg):
    result = icl.train_job(cfg, dict(model="small_mlp", pool_size=None, context_len=4, seed=0,
                                     lr=1e-3))
    assert json.loads(json.dumps(result)) == result
    assert [h["step"] for h in result["history"]] == geometric_steps(40, 3, 0.4)
    assert icl.runs_folder(cfg) == icl.runs_folder(replace(cfg, pool_sizes=[1, None], seeds=1))
    assert icl.runs_folder(cfg) == icl.runs_folder(replace(cfg, mlp_lrs=[1e-4]))  # in the job
    assert icl.runs_folder(cfg) != icl.runs_folder(replace(cfg, n_eval=256))
    assert icl.runs_folder(cfg) != icl.runs_folder(replace(cfg, train_flops=4e7))


def test_schedule_is_warmup_then_cosine_to_zero(cfg):
    """Linear warm-up over max(1, frac * steps) steps, then cosine to zero, at the condition's
    own rate; AdamW (no decay, no clipping, betas 0.9/0.999)."""
    cond = icl.Condition("transformer", None, 4, 0, 2e-3)
    steps, peak = icl.steps_for(cfg, "transformer", 4), cond.lr
    tc = icl.train_config(cfg, cond)
    warm = max(1, int(cfg.warmup_frac * steps))
    assert tc.schedule.total_steps == steps and tc.schedule.warmup_steps == warm
    for step in range(steps):
        expected = (peak * (step + 1) / warm if step < warm else 0.5 * peak * (
            1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        assert tc.lr * tc.schedule(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert (tc.weight_decay, tc.grad_clip, tc.beta1, tc.beta2) == (0.0, None, 0.9, 0.999)


def test_training_matches_a_plain_loop(cfg):
    """The Trainer reproduces a hand-written AdamW loop, bit for bit."""
    from nblib.data.tasks.icl_regression import RegressionTask

    cond = icl.Condition("mlp", 8, 4, 0, 3e-3)
    steps, peak = icl.steps_for(cfg, "mlp", 4), cond.lr
    task = RegressionTask(cfg.dim, 4, cfg.noise_var, 8, pool_seed=experiment.pool_seed(cond))
    pool = task.pool()
    torch.manual_seed(0)
    model = icl.build_model(cfg, cond)
    opt = torch.optim.AdamW(model.parameters(), lr=peak, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    schedule = icl.train_config(cfg, cond).schedule
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = peak * schedule(step)
        z, y = task.sample(cfg.batch_size, g, pool)
        loss = ((model(z).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    ours = icl.train_condition(cfg, cond)["model"].state_dict()
    assert all(torch.equal(ours[k], v) for k, v in model.state_dict().items())


def test_estimate_is_positive(cfg):
    small = replace(cfg, seeds=1, pool_sizes=[1, None], context_lens=[6], mlp_lrs=[1e-3],
                    transformer_lrs=[1e-3])
    assert icl.estimate_seconds(small, "cpu", workers=1, probe_steps=3) > 0


def test_condition_form_fields_are_valid():
    import dataclasses

    names = {f.name for f in dataclasses.fields(icl.Condition)}
    assert names == {"model", "pool_size", "context_len", "seed", "lr"}
    assert TINY["context_len"] in TINY["context_lens"]
