"""nblib.models.perturb: relative Gaussian noise and RTN quantization."""

import pytest
import torch

from nblib.models.lm import LMShape, build_lm
from nblib.models.perturb import add_relative_noise, quantize_rtn


def model():
    return build_lm(LMShape(vocab_size=64, d_model=16, n_layers=1, n_heads=2, context=16))


def test_noise_is_relative_to_each_tensor_rms_and_leaves_the_original_alone():
    m = model()
    before = [p.clone() for p in m.parameters()]
    noisy = add_relative_noise(m, 0.1, torch.Generator().manual_seed(0))
    for p0, p, q in zip(before, m.parameters(), noisy.parameters(), strict=True):
        assert torch.equal(p0, p)
        ratio = (q - p).pow(2).mean().sqrt() / p.pow(2).mean().sqrt()
        assert 0.05 < ratio < 0.2 if p.numel() > 100 else ratio > 0
    again = add_relative_noise(m, 0.1, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(noisy.parameters(), again.parameters(),
                                                 strict=True))
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(),
               add_relative_noise(m, 0.0, torch.Generator()).parameters(), strict=True))


def test_rtn_quantization_uses_few_levels_per_row():
    m = model()
    q = quantize_rtn(m, bits=4)
    for p, pq in zip(m.parameters(), q.parameters(), strict=True):
        if p.dim() < 2:
            assert torch.equal(p, pq)  # norm gains stay in full precision
            continue
        for row in pq.reshape(pq.shape[0], -1):
            assert len(torch.unique(row)) <= 15  # integers in [-7, 7] times one scale
        assert (pq - p).abs().max() <= p.abs().max() / 7 / 2 + 1e-6
    assert torch.equal(quantize_rtn(m, 16).model.embed_tokens.weight.round(decimals=3),
                       m.model.embed_tokens.weight.round(decimals=3))
    with pytest.raises(ValueError, match="bits"):
        quantize_rtn(m, 1)
