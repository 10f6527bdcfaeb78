"""nblib.eval.decoding: greedy, seeded temperature sampling and seed-conditioning on a tiny LM."""

import pytest
import torch

from nblib.eval.decoding import generate, random_prefixes, seed_conditioned
from nblib.models.lm import LMShape, build_lm


@pytest.fixture(scope="module")
def model():
    return build_lm(LMShape(vocab_size=8, d_model=16, n_layers=1, n_heads=2, context=16), seed=1)


def test_greedy_is_the_argmax_chain(model):
    prompts = torch.tensor([[1, 2], [3, 4]])
    out = generate(model, prompts, 4)
    seq = prompts.clone()
    for _ in range(4):
        seq = torch.cat([seq, model(input_ids=seq).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq[:, 2:])
    assert model.training  # mode restored


def test_sampling_is_seeded_batch_invariant_and_follows_the_softmax(model):
    prompts = torch.tensor([[1, 2]]).expand(4000, -1)
    a = generate(model, prompts, 1, 1.0, torch.Generator().manual_seed(0))
    b = generate(model, prompts, 1, 1.0, torch.Generator().manual_seed(0), batch_size=999)
    assert torch.equal(a, b)
    with torch.no_grad():
        p = model(input_ids=prompts[:1]).logits[0, -1].softmax(-1)
    freq = torch.bincount(a[:, 0], minlength=8) / len(a)
    assert (freq - p).abs().max() < 0.03
    cold = generate(model, prompts[:50], 3, 1e-4, torch.Generator().manual_seed(1))
    assert torch.equal(cold, generate(model, prompts[:50], 3))  # T -> 0 is greedy


def test_stop_token_pads_the_rest(model):
    first = generate(model, torch.tensor([[1, 2]]), 1)[0, 0].item()
    out = generate(model, torch.tensor([[1, 2]]), 5, stop_id=first, pad_id=7)
    assert out[0].tolist() == [first] + [7] * 4


def test_seed_conditioning_prefixes_come_from_the_alphabet(model):
    alphabet = torch.tensor([3, 5])
    g = torch.Generator().manual_seed(0)
    pre = random_prefixes(100, 6, alphabet, g)
    assert pre.shape == (100, 6) and set(pre.unique().tolist()) == {3, 5}
    out1 = seed_conditioned(model, 20, 4, alphabet, [1], 3, torch.Generator().manual_seed(2))
    out2 = seed_conditioned(model, 20, 4, alphabet, [1], 3, torch.Generator().manual_seed(2))
    assert out1.shape == (20, 3) and torch.equal(out1, out2)


def test_bad_arguments_fail_clearly(model):
    with pytest.raises(ValueError, match="temperature=-1"):
        generate(model, torch.tensor([[1]]), 2, temperature=-1)
    with pytest.raises(ValueError, match="needs a torch.Generator"):
        generate(model, torch.tensor([[1]]), 2, temperature=1.0)


def test_multinomial_sampler_is_the_softmax_drawn_on_the_cpu(model):
    """sampler="multinomial" draws exactly what a token-by-token torch.multinomial loop draws
    (notebook 04's sampler, kept so its results do not change)."""
    prompts = torch.tensor([[1, 2], [3, 4]]).repeat_interleave(300, 0)  # (600, 2)
    out = generate(model, prompts, 3, 1.5, torch.Generator().manual_seed(4), sampler="multinomial")
    g, seq = torch.Generator().manual_seed(4), prompts.clone()
    with torch.no_grad():
        for _ in range(3):
            p = torch.softmax(model(input_ids=seq).logits[:, -1].float() / 1.5, -1)
            seq = torch.cat([seq, torch.multinomial(p, 1, generator=g)], 1)
    assert out.shape == (600, 3) and torch.equal(out, seq[:, 2:])
    first = generate(model, prompts[:1].expand(4000, -1), 1, 1.0, torch.Generator().manual_seed(0),
                     sampler="multinomial")
    with torch.no_grad():
        p = model(input_ids=prompts[:1]).logits[0, -1].softmax(-1)
    assert (torch.bincount(first[:, 0], minlength=8) / 4000 - p).abs().max() < 0.03
    with pytest.raises(ValueError, match="sampler='beam'"):
        generate(model, prompts, 1, 1.0, torch.Generator(), sampler="beam")


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_the_kv_cached_sampler_gives_the_uncached_tokens(arch):
    """Greedy and sampled (both samplers, the same generator seed), with a stop token and
    batches: the cached path decodes exactly the uncached path's tokens."""
    lm = build_lm(LMShape(vocab_size=8, d_model=16, n_layers=2, n_heads=2, context=32,
                          arch=arch), seed=2)
    prompts = torch.randint(0, 8, (300, 5), generator=torch.Generator().manual_seed(0))
    for temperature, sampler in ((0.0, "gumbel"), (1.0, "gumbel"), (1.0, "multinomial")):
        outs = [generate(lm, prompts, 12, temperature,
                         torch.Generator().manual_seed(7) if temperature else None,
                         stop_id=3, pad_id=0, batch_size=128, sampler=sampler, cached=cached)
                for cached in (False, True)]
        assert torch.equal(outs[0], outs[1]), (temperature, sampler)
    assert lm.training
