import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.experiments import mla_vs_mha as mla
from nblib.experiments.mla_vs_mha import experiment, probes
from nblib.models.attention import attention_modules

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(headline_rank=5), "headline_rank"),
    (dict(mla_ranks=[6, 8]), "full"),
    (dict(controls=["mqa"]), "mha_mla_heads"),
    (dict(controls=["mqa", "mha_mla_heads", "mla"]), "not among"),
    (dict(tune_seed=1), "tune_seed"),
    (dict(rope_dim=4), "rope_dim"),
    (dict(warmup_steps=200), "warmup_steps"),
    (dict(lrs=[1e-3, 1e-3]), "no repeats"),
    (dict(mla_ablations=["headrope"]), "headrope_nonorm"),
    (dict(mla_ablations=["headrope_nonorm", "norope"]), "mla_ablations"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(mla.MLAConfig, {**TINY, **change})


def test_default_variants_cache_and_matched_parameters():
    cfg = build(mla.MLAConfig, {})
    p = mla.plan(cfg).set_index("variant")
    assert p.cache_per_token.to_dict() == {
        "mha": 128, "mqa": 32, "mha_big_qk": 160, "mha_partial_rope": 128,
        "mha_mla_heads": 160, "mla_r8": 16, "mla_r24": 32, "mla_r64": 72,
        "mla_r64_headrope_nonorm": 96}
    plain = mla.variant_specs(cfg)["mla_r64_headrope_nonorm"]
    assert not plain.shared_rope and not plain.latent_norm and plain.kv_lora_rank == 64
    assert (p.param_mismatch.abs() <= cfg.param_tolerance).all()
    assert p.d_mlp["mla_r8"] > p.d_mlp["mha"]  # the smaller attention buys a wider MLP
    assert mla.analysis.equal_cache_gqa(cfg) == ("mla_r24", "mqa")


def test_q_lora_adds_a_variant_at_the_headline_rank():
    cfg = build(mla.MLAConfig, {**TINY, "q_lora_rank": 4})
    spec = mla.variant_specs(cfg)["mla_r6_q4"]
    assert spec.q_lora_rank == 4 and spec.kv_lora_rank == 6
    assert abs(mla.plan(cfg).param_mismatch).max() <= cfg.param_tolerance


def test_a_seed_pairs_data_order_and_shared_init(cfg):
    data = experiment.load_data(cfg)
    a = experiment.build_model(cfg, "mha", 0)
    b = experiment.build_model(cfg, "mla_r6", 0)
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert torch.equal(a.model.layers[0].self_attn.o_proj.weight,
                       b.model.layers[0].self_attn.o_proj.weight)
    draws = []
    for _ in range(2):
        batches = experiment.RandomWindows(data.train, cfg.batch_size, cfg.context)
        draws.append(batches(torch.Generator().manual_seed(
            experiment.train_config(cfg, 0, 1e-3).seed))[0])
    assert torch.equal(*draws)


def test_truncation_restores_the_weights_and_full_rank_changes_nothing(cfg):
    model = experiment.build_model(cfg, "mha", 0).eval()
    att = attention_modules(model)[0]
    before = probes.stacked_kv(att).clone()
    with torch.no_grad(), probes.truncated_kv(model, 1):
        assert torch.linalg.matrix_rank(probes.stacked_kv(att)) == 1
    assert torch.equal(probes.stacked_kv(att), before)
    with torch.no_grad(), probes.truncated_kv(model, cfg.d_model):
        torch.testing.assert_close(probes.stacked_kv(att), before, atol=1e-6, rtol=1e-5)


def test_effective_rank():
    g = torch.Generator().manual_seed(0)
    iso = probes.effective_rank(torch.randn(4000, 8, generator=g))
    low = probes.effective_rank(torch.randn(4000, 2, generator=g) @ torch.randn(2, 8,
                                                                                generator=g))
    assert 7.0 < iso["effective_rank"] <= 8.0 and iso["rank90"] >= 7
    assert low["effective_rank"] <= 2.0 + 1e-6 and low["rank90"] <= 2


def test_run_all_tables(tiny):
    cfg, res = tiny
    names = list(mla.variant_specs(cfg))
    assert sorted(res.table.variant.unique()) == sorted(names)
    assert len(res.table) == len(names) * cfg.seeds and len(res.tuning) == len(names)
    assert set(res.truncation["rank"]) == set(cfg.probe_ranks)
    assert set(res.spectrum.variant) == {"mha"}
    assert res.ranks[res.ranks.variant == "mla_r6"].width.eq(6).all()
    assert mla.n_runs(cfg) == len(res.table) + len(res.tuning)


def test_rerun_reads_results_back(tiny):
    cfg, res = tiny
    again = mla.run_all(cfg)
    assert again.grids[1].resumed and again.table.test_loss.tolist() == res.table.test_loss \
        .tolist()


def test_reference_differences_are_zero_at_notebook_shapes(cfg):
    diffs = mla.reference_differences(cfg)
    assert set(diffs) == {"mha", "mqa", "mla_r6", "mla_r16"}
    assert max(diffs.values()) < 1e-4


def test_estimate_is_positive(cfg):
    assert mla.estimate_seconds(replace(cfg, steps=10), probe_steps=1) > 0


def test_the_endpoint_is_evaluated_at_the_last_step(cfg):
    short = replace(cfg, steps=7, warmup_steps=1, n_evals=2)  # 7 is no multiple of 7 // 2
    _, history = experiment.train_run(short, "mla_r6", 0, 1e-2)
    val = [h for h in history if "val_loss" in h]
    assert [h["step"] for h in val] == [3, 6, 7] and all(h["val_loss"] > 0 for h in val)
