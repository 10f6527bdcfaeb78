"""nblib.experiments.overtraining: budgets, validation, and a tiny end-to-end run."""

import pandas as pd
import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.experiments import overtraining as ot
from nblib.models.lm import build_lm

TINY = dict(interactive=False, seeds=1, widths=[16], tpp=[2, 4, 8], warmup_steps=2, sigmas=[0.1],
            verdict_sigma=0.1, noise_draws=2, ft_lrs=[1e-3, 3e-3], ft_steps=4, eval_windows=8,
            context=32, batch_size=8)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
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
    (dict(widths=[15]), "d_model"), (dict(tpp=[0.01, 1, 2], warmup_steps=50), "warm up")])
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


def test_config_key_changes_with_what_shapes_the_weights(cfg):
    assert ot.config_key(cfg) == ot.config_key(replace(cfg, ft_steps=9))  # probes only
    assert ot.config_key(cfg) != ot.config_key(replace(cfg, lr=1e-3))
