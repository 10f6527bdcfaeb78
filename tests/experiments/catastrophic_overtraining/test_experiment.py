"""nblib.experiments.catastrophic_overtraining.experiment: budgets, validation, cache keys, a tiny
end-to-end run, and the resumable job grid."""

import pandas as pd
import pytest
import torch

from nblib.config import ConfigError, build, cache_key, replace
from nblib.experiments import catastrophic_overtraining as ot
from nblib.experiments.catastrophic_overtraining import experiment
from nblib.models.lm import build_lm
from nblib.train.checkpoints import log_spaced_steps

from .conftest import TINY


@pytest.fixture(scope="module")
def cfg():
    return build(ot.OvertrainConfig, TINY)


@pytest.fixture(scope="module")
def data(cfg):
    return ot.load_data(cfg)


def test_budgets_hit_their_tokens_per_parameter_and_decay_last(cfg):
    plan = ot.plan(cfg)
    assert list(plan.tpp) == [2, 4, 8]
    realised = plan.tokens / plan.params_non_embedding
    assert ((realised - plan.tpp).abs() / plan.tpp < 0.1).all()
    for b in ot.budgets(cfg, ot.shapes(cfg)[0]):
        assert cfg.warmup_steps <= b.decay_start < b.total_steps
    per_width = ot.steps_to_train(cfg)
    assert per_width[16] == plan.decay_from_step.max() + (plan.steps - plan.decay_from_step).sum()


@pytest.mark.parametrize("bad, field", [
    (dict(corpus="wikipedia"), "corpus"), (dict(finetune_corpus="sotu"), "finetune_corpus"),
    (dict(tpp=[1, 2]), "tpp"), (dict(verdict_sigma=0.5), "verdict_sigma"),
    (dict(widths=[15]), "d_model"), (dict(tpp=[0.01, 1, 2], warmup_steps=50), "warm up"),
    (dict(ft_warmup=1.5), "ft_warmup"), (dict(stable_checkpoints=0), "stable_checkpoints")])
def test_bad_settings_fail_before_any_training(bad, field):
    with pytest.raises(ConfigError, match=field):
        build(ot.OvertrainConfig, {**TINY, **bad})


def test_data_windows_are_fixed_and_the_finetune_domain_uses_the_pretraining_tokenizer(cfg, data):
    assert data.pretrain_val.shape == (8, 33) and data.finetune_test.shape == (8, 33)
    assert int(data.pretrain.max()) < cfg.vocab_size and int(data.finetune.max()) < cfg.vocab_size
    assert torch.equal(ot.load_data(cfg).pretrain_val, data.pretrain_val)


def test_run_one_is_deterministic_and_saves_annealed_checkpoints(cfg, data):
    a = ot.run_one(cfg, 16, 0, data=data)
    b = ot.run_one(cfg, 16, 0, data=data)
    for key in ("sensitivity", "finetune"):
        assert pd.DataFrame(a[key]).equals(pd.DataFrame(b[key]))  # NaN-aware equality
    steps = [b.total_steps for b in ot.budgets(cfg, ot.shapes(cfg)[0])]
    store = ot.store_for(cfg, 16, 0)
    assert [c.step for c in store.list("decay")] == steps
    last = ot.budgets(cfg, ot.shapes(cfg)[0])[-1].decay_start
    stable = log_spaced_steps(last, max(1, last // cfg.stable_checkpoints))
    assert [c.step for c in store.list("")] == stable  # the stable trajectory's cadence
    probes = {(r["tpp"], r["probe"]) for r in a["sensitivity"]}
    assert probes == {(t, p) for t in (2, 4, 8) for p in ("none", "noise", "rtn4")}
    assert len(a["finetune"]) == 3 * 2
    assert all(r["target_test"] < r["target_before"] for r in a["finetune"])


def test_finetune_leaves_the_pretrained_model_untouched(cfg, data):
    model = build_lm(ot.shapes(cfg)[0])
    before = [p.clone() for p in model.parameters()]
    row = ot.finetune(model, cfg, data, 1e-3, seed=0)
    assert set(row) == {"ft_lr", "target_val", "target_test", "pretrain_after"}
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


def test_finetune_warmup_is_a_parameter(cfg, data, monkeypatch):
    """The warmup was `max(1, ft_steps // 10)` in code; the parameter's default gives the same."""
    seen = []
    real = experiment.Schedule

    def spy(*args, **kwargs):
        seen.append(kwargs["warmup_steps"])
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "Schedule", spy)
    model = build_lm(ot.shapes(cfg)[0])
    for steps, warmup, expected in ((80, 0.1, 8), (4, 0.1, 1), (30, 0.1, 3), (10, 0.5, 5)):
        ot.finetune(model, replace(cfg, ft_steps=steps, ft_warmup=warmup), data, 1e-3, seed=0)
        assert seen[-1] == expected
    assert all(max(1, int(0.1 * n)) == max(1, n // 10) for n in range(1, 10_000))


def test_cache_keys_change_with_what_shapes_the_results(cfg):
    train = cache_key(cfg, "train")
    assert train == cache_key(replace(cfg, ft_steps=9), "train")  # probes only: same weights
    assert train == cache_key(replace(cfg, widths=[16, 24], seeds=3, stable_checkpoints=4), "train")
    assert train != cache_key(replace(cfg, lr=1e-3), "train")
    runs = experiment.runs_folder(cfg)
    assert runs != experiment.runs_folder(replace(cfg, ft_steps=9))  # probes shape the job records
    assert runs != experiment.runs_folder(replace(cfg, ft_warmup=0.2))
    assert runs == experiment.runs_folder(replace(cfg, verdict_sigma=0.1, workers=1, seeds=2))


def test_jobs_follow_the_seed_list_largest_width_first(cfg):
    jobs = experiment.jobs(replace(cfg, widths=[16, 24], seeds=2, first_seed=3))
    assert jobs == [{"d_model": 24, "seed": 3}, {"d_model": 24, "seed": 4},
                    {"d_model": 16, "seed": 3}, {"d_model": 16, "seed": 4}]


def test_run_all_resumes_finished_jobs_with_the_same_tables(cfg):
    """A run restarted after its jobs finished reads their records back instead of training,
    and the tables it builds from them equal the first run's."""
    first = ot.run_all(cfg)
    assert first.resumed == [] and list(first.seconds) == ["d_model=16-seed=0"]
    again = ot.run_all(cfg)
    assert again.resumed == ["d_model=16-seed=0"]
    for name in ("sensitivity", "finetune", "history"):
        a, b = getattr(first, name), getattr(again, name)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert set(first.sensitivity.columns) >= {"d_model", "seed", "params", "tpp", "probe", "delta"}


def test_noise_draws_come_from_their_own_derived_streams(cfg, data, monkeypatch):
    asked = []
    real = experiment.derive_seed

    def spy(*purpose):
        asked.append(purpose)
        return real(*purpose)

    monkeypatch.setattr(experiment, "derive_seed", spy)
    rows = ot.sensitivity(build_lm(ot.shapes(cfg)[0]), replace(cfg, sigmas=[0.03, 0.1]), data, 5)
    assert asked == [(5, "noise", i, draw) for i in range(2) for draw in range(2)]
    losses = [r["loss"] for r in rows if r["probe"] == "noise"]
    assert len(set(losses)) == len(losses)  # every draw is a different perturbation
