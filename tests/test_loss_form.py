"""nblib.experiments.loss_form: config rules, the plan, and a tiny real grid that resumes."""

import pytest

from nblib.config import ConfigError, build, replace
from nblib.experiments import loss_form as lf

TINY = dict(interactive=False, seeds=1, widths=[12, 16, 24], tpp=[8, 16, 32, 64], fit_max_tpp=32,
            test_min_tpp=64, eval_windows=32, fit_starts=10, n_boot=10)


@pytest.fixture(scope="module")
def cfg():
    return build(lf.LossFormConfig, TINY)


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
        build(lf.LossFormConfig, {**TINY, **change})


def test_plan_counts_tokens_and_epochs(cfg):
    plan = lf.plan(cfg, corpus_tokens=1_000_000)
    assert (plan.D == plan.steps * cfg.batch_size * cfg.context).all()
    assert (plan.epochs == plan.D / 1e6).all()
    assert (abs(plan.D / plan.N / plan.tpp - 1) < 0.05).all()  # budgets hit their tokens per parameter
    assert lf.total_steps(cfg) > plan.groupby("N").steps.max().sum()  # decay branches on top


def test_learning_rate_scales_inversely_with_width(cfg):
    assert lf.peak_lr(cfg, cfg.lr_width) == cfg.lr
    assert lf.peak_lr(cfg, cfg.lr_width // 2) == pytest.approx(2 * cfg.lr)


def test_runs_are_keyed_by_what_shapes_the_losses(cfg):
    assert lf.runs_folder(cfg) == lf.runs_folder(replace(cfg, n_boot=99, fit_starts=3, seeds=5))
    assert lf.runs_folder(cfg) != lf.runs_folder(replace(cfg, lr=1e-3))
    assert lf.runs_folder(cfg) != lf.runs_folder(replace(cfg, tpp=[8, 16, 32, 64, 128]))  # budgets per run


def test_tiny_grid_trains_records_and_resumes(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(lf, "runs_folder", lambda c: tmp_path)
    points, seconds = lf.run_all(cfg, workers=1)
    assert len(points) == 3 * 4 and set(points.N) == {lf.n_params(s) for s in lf.shapes(cfg)}
    assert points.groupby("N").loss.apply(lambda loss: loss.iloc[-1] < loss.iloc[0]).all()  # more tokens, lower
    assert len(list(tmp_path.glob("*.json"))) == 3
    again, seconds_again = lf.run_all(cfg, workers=1)  # loaded, not retrained
    assert again.equals(points) and seconds_again == seconds
