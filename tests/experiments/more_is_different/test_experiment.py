import pytest

from nblib.config import ConfigError, build
from nblib.experiments import more_is_different as md
from nblib.experiments.more_is_different import experiment

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(moduli=[1]), r"moduli=\[1\]: element 1 out of range"),
    (dict(moduli=[31, 0]), "moduli"),
    (dict(algorithm="ternary"), "algorithm='ternary': must be one of"),
    (dict(pass_ks=[1, 8]), r"pass_ks=\[1, 8\]: k=\[8\] above eval_samples=4"),
    (dict(pass_ks=[]), "pass_ks"),
    (dict(train_b=[1, 6], test_b=[5, 8]), "overlap"),
    (dict(train_b=[4, 1]), "train_b"),
    (dict(train_b=[1, 2, 3]), r"train_b=\[1, 2, 3\]: must be \[low, high\]"),
    (dict(widths=[16]), "widths=.16.: at least two"),
    (dict(widths=[16, 8]), "strictly increasing"),
    (dict(widths=[8, 10]), "divisible|even"),
    (dict(group_size=1), "group_size=1: out of range"),
    (dict(advantage="ppo"), "advantage='ppo'"),
    (dict(loss_norm="mean"), "loss_norm='mean'"),
    (dict(rl_checkpoints=9), "rl_checkpoints=9"),
    (dict(warmup_steps=30), "warmup_steps=30"),
    (dict(rl_warmup_steps=4), "rl_warmup_steps=4"),
    (dict(length_cost=0.2), "length_cost=0.2"),
    (dict(bogus=1), "unknown parameter"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(md.MoreIsDifferentConfig, {**TINY, **change})


def test_default_grid_and_checkpoints():
    cfg = build(md.MoreIsDifferentConfig, {})
    assert experiment.checkpoint_steps(cfg) == [0, 38, 75, 112, 150]
    assert experiment.jobs(cfg)[:2] == [{"width": 16, "seed": 0}, {"width": 16, "seed": 1}]
    assert len(experiment.jobs(cfg)) == 3 * cfg.seeds
    task = cfg.task()
    assert task.max_len == task.prompt_len + task.max_completion_len("test")


def test_evaluation_problems_cover_every_b_of_both_ranges(cfg):
    problems, splits = experiment.eval_problems(cfg, cfg.task())
    assert len(problems) == cfg.eval_per_b * (4 + 2)
    assert sorted(set(problems[:, 1].tolist())) == list(range(1, 7))
    assert splits.count("test") == 2 * cfg.eval_per_b
    again, _ = experiment.eval_problems(cfg, cfg.task())
    assert (again == problems).all()


def test_run_records_every_checkpoint_and_resumes(tiny, cfg):
    _, res = tiny
    assert res.steps == [0, 2, 4]
    per_job = res.curves.groupby(["width", "seed"]).step.apply(lambda s: sorted(set(s)))
    assert all(steps == res.steps for steps in per_job)
    assert len(res.rl_log) == 2 * 2 * cfg.rl_steps
    assert len(res.per_problem) == 2 * 2 * len(res.steps) * len(res.problems)
    for w in cfg.widths:
        store = experiment.store_for(cfg, w, 0)
        assert [c.step for c in store.list()] == res.steps
    again = md.run_all(cfg)  # read back from the record
    assert again.curves.equals(res.curves) and again.rl_log.equals(res.rl_log)


def test_the_same_seed_pretrains_every_width_on_the_same_stream(cfg):
    task = cfg.task()
    a = experiment.make_pretrainer(cfg, task, 8, 0)
    b = experiment.make_pretrainer(cfg, task, 16, 0)
    assert (a.batches(a.generator)[0] == b.batches(b.generator)[0]).all()


def test_baselines_are_probabilities(cfg):
    base = md.baselines(cfg)
    assert base["chance_train"] == pytest.approx(1 / 31)
    assert 0 < base["constant_train"] <= 1 and 0 < base["constant_test"] <= 1


def test_a_grpo_step_with_the_kl_and_a_length_cost_trains(cfg):
    from nblib.config import replace

    kl = replace(cfg, kl_coef=0.1, length_cost=0.01, loss_norm="sequence", advantage="mean")
    task = kl.task()
    pre = experiment.make_pretrainer(kl, task, 8, 0)
    rl, rollouts = experiment.make_rl_trainer(kl, task, pre.model, 0)
    rl.fit(2)
    assert len(rollouts.log) == 2 and rollouts.log[-1]["reward"] < 1
    assert all(abs(h["train_loss"]) < 1e3 for h in rl.history)
