"""nblib.models.lm: tiny causal LMs from transformers configs, parameter and FLOP counts."""

import pytest
import torch

from nblib.config import ConfigError
from nblib.models.lm import LMShape, build_lm, count_params, flops_per_token, shape_of

TINY = dict(vocab_size=50, d_model=16, n_layers=2, n_heads=2, context=12)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_causal_masking(arch):
    """Changing a later token never changes the logits at earlier positions."""
    model = build_lm(LMShape(**TINY, arch=arch)).eval()
    x = torch.randint(0, 50, (2, 12))
    y = x.clone()
    y[:, 7:] = (y[:, 7:] + 1) % 50
    with torch.no_grad():
        a, b = model(input_ids=x).logits, model(input_ids=y).logits  # (2, 12, 50)
    assert a.shape == (2, 12, 50)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_same_seed_same_weights_and_shape_travels_with_the_model(tmp_path):
    a, b = build_lm(LMShape(**TINY), seed=3), build_lm(LMShape(**TINY), seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(next(a.parameters()),
                           next(build_lm(LMShape(**TINY), seed=4).parameters()))
    a.save_pretrained(tmp_path)
    from transformers import AutoModelForCausalLM
    assert shape_of(AutoModelForCausalLM.from_pretrained(tmp_path)) == LMShape(**TINY)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_param_counts_match_a_hand_count(arch):
    s = LMShape(**TINY, arch=arch)
    counts = count_params(build_lm(s))
    d, f, L = s.d_model, s.d_mlp, s.n_layers
    if arch == "llama":  # q,k,v,o + gate,up,down + two RMSNorm gains per block, final norm
        non_emb = L * (4 * d * d + 3 * d * f + 2 * d) + d
        emb = 50 * d
    else:  # biases and LayerNorms, learned positions count as embedding
        non_emb = L * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d
        emb = 50 * d + 12 * d
    assert counts == {"total": non_emb + emb, "non_embedding": non_emb, "embedding": emb}


def test_flops_per_token_are_about_six_n():
    s = LMShape(vocab_size=512, d_model=64, n_layers=2, n_heads=2, context=64)
    f = flops_per_token(s)
    n = count_params(build_lm(s))["non_embedding"]
    assert f["kaplan_6N"] == pytest.approx(6 * n, rel=0.02)  # norms are the 2% left out
    assert f["train"] > f["kaplan_6N"] and f["forward"] == pytest.approx(f["train"] / 3)


@pytest.mark.parametrize("bad, field", [(dict(d_model=15), "d_model"), (dict(arch="mamba"), "arch"),
                                        (dict(n_heads=0), "n_heads"),
                                        (dict(d_model=6, n_heads=2), "head size")])
def test_bad_shapes_are_named(bad, field):
    with pytest.raises(ConfigError, match=field):
        build_lm(LMShape(**{**TINY, **bad}))


def test_shape_of_a_config_reads_its_fields_and_overrides():
    from types import SimpleNamespace

    cfg = SimpleNamespace(**TINY, lr=1e-3)  # fields LMShape does not have are ignored
    assert shape_of(cfg) == LMShape(**TINY)
    assert shape_of(cfg, d_model=32) == LMShape(**{**TINY, "d_model": 32})
    with pytest.raises(ConfigError, match="divisible"):
        shape_of(cfg, d_model=17)


def test_shape_of_takes_defaults_for_missing_fields_and_overrides_a_models_shape():
    from types import SimpleNamespace

    assert shape_of(SimpleNamespace(d_model=32, arch="gpt2")) == LMShape(d_model=32, arch="gpt2")
    model = build_lm(LMShape(**TINY))
    assert shape_of(model) == LMShape(**TINY)
    assert shape_of(model, context=24) == LMShape(**{**TINY, "context": 24})
    assert shape_of(LMShape(**TINY), n_layers=3) == LMShape(**{**TINY, "n_layers": 3})
