import json
import math

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


def test_conditions_cover_both_sweeps_once(cfg):
    conds = icl.conditions(cfg)
    assert len(conds) == len(set(conds)) == 2 * (3 + 1 + 2 + 1)
    assert icl.jobs(cfg)[0] == dict(model="mlp", pool_size=1, context_len=6, seed=0)


def test_first_seed_shifts_the_seeds(cfg):
    later = replace(cfg, first_seed=3)
    assert sorted({c.seed for c in icl.conditions(later)}) == [3, 4]


def test_run_all_table_and_history(tiny):
    cfg, res = tiny
    assert len(res.table) == len(icl.conditions(cfg))
    cols = ["mse_true", "mse_pool", "ridge_true", "ridge_pool", "zero_true"]
    assert (res.table[cols] > 0).all().all() and res.table[cols].map(math.isfinite).all().all()
    finite = res.table.dropna(subset=["pool_size"])
    assert finite.dmmse_true.notna().all()
    assert res.table[res.table.pool_size.isna()].dmmse_true.isna().all()
    keys = ["model", "pool_size", "context_len", "seed"]
    last = res.history.groupby(keys, dropna=False).step.max()
    assert last.xs("mlp").eq(cfg.mlp_steps).all()
    assert last.xs("transformer").eq(cfg.transformer_steps).all()
    steps = res.history[res.history.model == "mlp"].groupby(["pool_size", "seed"]).step.apply(list)
    assert all(s == geometric_steps(cfg.mlp_steps, cfg.n_evals, cfg.mlp_steps / 100) for s in steps)
    assert "history" not in res.table and "state" not in res.table


def test_deterministic_and_worker_count_does_not_matter(tiny):
    cfg, res = tiny
    cond = icl.Condition("mlp", 8, 6, 1)
    row = icl.train_condition(cfg, cond)["row"]
    t = res.table
    again = t[(t.model == "mlp") & (t.pool_size == 8) & (t.seed == 1)].iloc[0]
    assert row["mse_true"] == again.mse_true and row["mse_pool"] == again.mse_pool


def test_a_rerun_reads_every_job_back(tiny):
    """Resumable: the same settings again train nothing and give the same tables."""
    cfg, res = tiny
    again = icl.run_all(cfg)
    assert len(again.jobs.resumed) == len(icl.jobs(cfg)) and not res.jobs.resumed
    assert again.table.drop(columns="train_s").equals(res.table.drop(columns="train_s"))
    assert again.history.drop(columns="train_s").equals(res.history.drop(columns="train_s"))


def test_small_mlp_weights_come_back_exactly(tiny):
    cfg, res = tiny
    cond = icl.Condition("small_mlp", None, 6, 0)
    trained = icl.train_condition(cfg, cond)["model"].state_dict()
    loaded = res.models[cond].state_dict()
    assert set(res.models) == {icl.Condition("small_mlp", None, 6, s) for s in (0, 1)}
    assert all(torch.equal(trained[k], loaded[k]) for k in trained)


def test_job_result_is_json_and_keyed_by_what_shapes_it(cfg):
    result = icl.train_job(cfg, dict(model="small_mlp", pool_size=None, context_len=4, seed=0))
    assert json.loads(json.dumps(result)) == result
    assert [h["step"] for h in result["history"]] == geometric_steps(40, 3, 0.4)
    assert icl.runs_folder(cfg) == icl.runs_folder(replace(cfg, pool_sizes=[1, None], seeds=1))
    assert icl.runs_folder(cfg) != icl.runs_folder(replace(cfg, n_eval=256))
    assert icl.runs_folder(cfg) != icl.runs_folder(replace(cfg, mlp_lr=1e-3))


def test_schedule_is_warmup_then_cosine_to_zero(cfg):
    """The Trainer's rate is today's rule: linear warm-up over max(1, frac * steps) steps, then
    cosine to zero; AdamW as before (no decay, no clipping, betas 0.9/0.999)."""
    steps, peak = icl.budget(cfg, icl.Condition("mlp"))
    tc = icl.train_config(cfg, icl.Condition("mlp"))
    warm = max(1, int(cfg.warmup_frac * steps))
    for step in range(steps):
        expected = (peak * (step + 1) / warm if step < warm else 0.5 * peak * (
            1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        assert tc.lr * tc.schedule(step) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert (tc.weight_decay, tc.grad_clip, tc.beta1, tc.beta2) == (0.0, None, 0.9, 0.999)
    assert icl.train_config(replace(cfg, mlp_steps=10), icl.Condition()).schedule.warmup_steps == 1


def test_training_matches_a_plain_loop(cfg):
    """The Trainer reproduces the hand-written AdamW loop it replaced, bit for bit."""
    from nblib.data.tasks.icl_regression import RegressionTask

    cond = icl.Condition("mlp", 8, 4, 0)
    steps, peak = icl.budget(cfg, cond)
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
    small = replace(cfg, seeds=1, pool_sizes=[None], context_lens=[6])
    assert icl.estimate_seconds(small, "cpu", workers=1, probe_steps=3) > 0


def test_condition_form_fields_are_valid():
    import dataclasses

    names = {f.name for f in dataclasses.fields(icl.Condition)}
    assert names == {"model", "pool_size", "context_len", "seed"}
    assert TINY["context_len"] in TINY["context_lens"]
