"""nblib.models.sinks: per-document sink sets, sinks off, save/load."""

import pytest
import torch

from nblib.config import ConfigError
from nblib.models.lm import LMShape, build_lm
from nblib.models.sinks import (
    SinkLlamaForCausalLM,
    build_sink_lm,
    document_id,
    set_sink_masks,
    sink_masks,
    sink_set,
)

# d_mlp 64
SHAPE = LMShape(vocab_size=40, d_model=16, n_layers=2, n_heads=2, context=12, mlp_ratio=6.0)


def test_same_document_same_set_different_documents_nearly_orthogonal():
    a, b = torch.arange(10), torch.arange(10).flip(0)
    assert document_id(a) == document_id(a.clone()) != document_id(b)
    assert torch.equal(sink_set(document_id(a), 64, 16), sink_set(document_id(a), 64, 16))
    # (200, 64)
    masks = sink_masks([document_id(torch.tensor([i, i + 1])) for i in range(200)], 64, 16)
    assert (masks.sum(1) == 16).all()
    overlap = (masks @ masks.T)[~torch.eye(200, dtype=torch.bool)] / 16  # shared fraction per pair
    assert overlap.mean() == pytest.approx(16 / 64, abs=0.03)  # what independent random sets share
    assert overlap.max() < 1.0


def test_sinks_off_means_sink_neurons_contribute_nothing():
    model = build_sink_lm(SHAPE, n_sink=16, seed=0).eval()
    x = torch.randint(0, 40, (3, 12))
    set_sink_masks(model, None)
    off = model(input_ids=x).logits
    with torch.no_grad():  # scramble every sink neuron's weights: nothing may change
        for layer in model.model.layers:
            layer.mlp.up_proj.weight[-16:] = torch.randn(16, 16)
            layer.mlp.down_proj.weight[:, -16:] = torch.randn(16, 16)
    assert torch.allclose(model(input_ids=x).logits, off)
    set_sink_masks(model, sink_masks([1, 2, 3], 16, 4))
    assert not torch.allclose(model(input_ids=x).logits, off)  # on, they matter


def test_all_sinks_on_equals_the_plain_model_with_the_same_seed():
    sink, plain = build_sink_lm(SHAPE, 16, seed=3).eval(), build_lm(SHAPE, seed=3).eval()
    x = torch.randint(0, 40, (2, 12))
    set_sink_masks(sink, torch.ones(2, 16))
    assert torch.allclose(sink(input_ids=x).logits, plain(input_ids=x).logits, atol=1e-6)


def test_save_and_load_give_identical_logits(tmp_path):
    model = build_sink_lm(SHAPE, 16, seed=1).eval()
    model.save_pretrained(tmp_path)
    from transformers import AutoModelForCausalLM
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, SinkLlamaForCausalLM) and loaded.config.n_sink == 16
    x = torch.randint(0, 40, (2, 12))
    masks = sink_masks([5, 6], 16, 4)
    for m in (model, loaded):
        set_sink_masks(m, masks)
    assert torch.equal(model(input_ids=x).logits, loaded(input_ids=x).logits)


def test_bad_sink_settings_are_named():
    with pytest.raises(ConfigError, match="n_sink"):
        build_sink_lm(SHAPE, 64)
    with pytest.raises(ConfigError, match="n_active"):
        sink_masks([1], 16, 0)
    with pytest.raises(ConfigError, match="llama"):
        build_sink_lm(LMShape(**{**SHAPE.__dict__, "arch": "gpt2"}), 4)
