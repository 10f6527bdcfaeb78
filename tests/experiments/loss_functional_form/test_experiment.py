"""nblib.experiments.loss_functional_form.experiment: config rules, the plan, the cache key, the
timed estimate, and a tiny real grid that resumes."""

import pytest

from nblib.config import ConfigError, build, replace, unclassified
from nblib.experiments.loss_functional_form import LossFormConfig
from nblib.experiments.loss_functional_form import experiment as lf

TINY = dict(interactive=False, seeds=1, widths=[12, 16, 24], tpp=[8, 16, 32, 64], fit_max_tpp=32,
            test_min_tpp=64, eval_windows=32, fit_starts=10, n_boot=10)


@pytest.fixture(scope="module")
def cfg():
    return build(LossFormConfig, TINY)


@pytest.mark.parametrize("change, message", [
    (dict(widths=[12, 16]), "at least 3 model sizes"),
    (dict(fit_max_tpp=64, test_min_tpp=32), "test_min_tpp > fit_max_tpp"),
    (dict(tpp=[8, 16, 64], fit_max_tpp=16), "at least 3 budgets"),
    (dict(forms=["farseer", "chinchilla"]), "must start with 'chinchilla'"),
    (dict(forms=["chinchilla", "hoffmann"]), "must start with 'chinchilla'"),
    (dict(tpp=[1, 2, 4, 64]), "too few to warm up"),
    (dict(corpus="wikipedia"), "corpus"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(LossFormConfig, {**TINY, **change})


def test_plan_counts_tokens_and_epochs(cfg):
    plan = lf.plan(cfg, corpus_tokens=1_000_000)
    assert (plan.D == plan.steps * cfg.batch_size * cfg.context).all()
    assert (plan.epochs == plan.D / 1e6).all()
    assert (abs(plan.D / plan.N / plan.tpp - 1) < 0.05).all()  # budgets hit their tokens/param
    assert lf.total_steps(cfg) > plan.groupby("N").steps.max().sum()  # decay branches on top


def test_learning_rate_scales_inversely_with_width(cfg):
    assert lf.peak_lr(cfg, cfg.lr_width) == cfg.lr
    assert lf.peak_lr(cfg, cfg.lr_width // 2) == pytest.approx(2 * cfg.lr)


def test_runs_are_keyed_by_what_shapes_the_losses(cfg):
    assert unclassified(LossFormConfig) == []
    assert lf.runs_folder(cfg) == lf.runs_folder(replace(cfg, n_boot=99, fit_starts=3, seeds=5,
                                                         first_seed=2, widths=[12, 16, 32]))
    assert lf.runs_folder(cfg) != lf.runs_folder(replace(cfg, lr=1e-3))
    assert lf.runs_folder(cfg) != lf.runs_folder(replace(cfg, weight_decay=0.0))
    # every job holds all budgets: they shape each run
    assert lf.runs_folder(cfg) != lf.runs_folder(replace(cfg, tpp=[8, 16, 32, 64, 128]))


def test_runtime_estimate_times_every_size(cfg, monkeypatch):
    import math

    seconds = lf.estimate_seconds(cfg, "cpu", workers=1)  # really timed (the machine may be busy)
    assert 0 < seconds and math.isfinite(seconds)
    timed = []

    def fake(trainer, steps, warmup):
        timed.append(trainer.model.config.hidden_size)
        return 0.001 * timed[-1]

    monkeypatch.setattr(lf, "seconds_per_step", fake)
    expected = sum(cfg.seeds * lf.steps_for(lf.budgets(cfg, s)) * 0.001 * s.d_model
                   for s in lf.shapes(cfg))
    assert lf.estimate_seconds(cfg, "cpu", workers=2) == pytest.approx(expected / 2)
    assert timed == sorted(cfg.widths)


def test_tiny_grid_trains_records_and_resumes(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(lf, "runs_folder", lambda c: tmp_path)
    points, seconds = lf.run_all(cfg, workers=1)
    assert len(points) == 3 * 4 and set(points.N) == {lf.n_params(s) for s in lf.shapes(cfg)}
    assert list(points.columns) == ["d_model", "seed", "N", "tpp", "steps", "D", "loss"]
    # more tokens, lower loss
    assert points.groupby("N").loss.apply(lambda loss: loss.iloc[-1] < loss.iloc[0]).all()
    assert len(list(tmp_path.glob("*.json"))) == 3
    again, seconds_again = lf.run_all(cfg, workers=1)  # loaded, not retrained
    assert again.equals(points) and seconds_again == seconds
    fresh = []  # jobs run for seeds not recorded yet (a stand-in result, no training)
    monkeypatch.setattr(lf, "train_run", lambda c, job, device: fresh.append(job) or {
        "N": 1, "points": [{"tpp": 8.0, "steps": 1, "D": 1, "loss": 1.0}]})
    shifted, _ = lf.run_all(replace(cfg, first_seed=1), workers=1)
    assert set(shifted.seed) == {1} and sorted(j["seed"] for j in fresh) == [1, 1, 1]
