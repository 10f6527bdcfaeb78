"""nblib.eval.exact: exact answer probabilities from one teacher-forced pass, checked against
brute-force enumeration and against sampling at tiny size."""

import itertools

import numpy as np
import pytest
import torch

from nblib.eval.decoding import generate
from nblib.eval.exact import answer_logprobs, binomial_tolerance, exact_pass_at_k
from nblib.eval.passk import pass_at_k
from nblib.models.lm import LMShape, build_lm

V, STOP = 4, 3  # tokens 0..3, 3 is the stop token


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_lm(LMShape(vocab_size=V, d_model=16, n_layers=1, n_heads=2, context=16), seed=3)
    with torch.no_grad():  # sharper than at init, so the answers' probabilities differ
        m.lm_head.weight.mul_(8.0)
    return m


def test_probabilities_of_every_answer_sum_to_one(model):
    prompts = torch.tensor([[0, 1], [2, 2]])
    for length in (1, 2, 3):
        answers = torch.tensor(list(itertools.product(range(V), repeat=length)))  # (V^L, L)
        for prompt in prompts:
            lp = answer_logprobs(model, prompt.expand(len(answers), -1), answers)
            assert lp.dtype == torch.float64 and (lp <= 0).all()
            assert abs(lp.exp().sum().item() - 1.0) < 1e-9


def test_log_p_is_the_chain_rule_and_the_stop_token_is_counted(model):
    prompts, answers = torch.tensor([[0, 1], [2, 0]]), torch.tensor([[1, 2], [0, 0]])
    with_stop = answer_logprobs(model, prompts, answers, stop_id=STOP)
    appended = torch.cat([answers, torch.full((2, 1), STOP)], 1)
    assert torch.allclose(with_stop, answer_logprobs(model, prompts, appended), atol=1e-12)
    seq, manual = prompts.clone(), torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for t in range(appended.shape[1]):
            logp = model(input_ids=seq).logits[:, -1].double().log_softmax(-1)
            manual += logp.gather(1, appended[:, t:t + 1])[:, 0]
            seq = torch.cat([seq, appended[:, t:t + 1]], 1)
    assert torch.allclose(with_stop, manual, atol=1e-9)
    assert model.training  # mode restored
    small = answer_logprobs(model, prompts, answers, stop_id=STOP, batch_size=1)
    assert torch.allclose(small, with_stop, atol=1e-12)


def test_sampling_hits_the_answer_with_its_exact_probability(model):
    """The sampler (T = 1, stopping at STOP) draws an answer string with probability exp(log p);
    sampled pass@k (unbiased) lies within binomial error of the exact 1 − (1 − p)^k."""
    prompts = torch.tensor([[0, 1], [2, 2], [1, 0]])
    answers = torch.tensor([[1, 2], [0, 1], [2, 2]])
    lp = answer_logprobs(model, prompts, answers, stop_id=STOP).numpy()  # (3,)
    n = 4000
    drawn = generate(model, prompts.repeat_interleave(n, 0), 3, 1.0,
                     torch.Generator().manual_seed(0), stop_id=STOP, pad_id=0,
                     sampler="multinomial", cached=True).view(3, n, 3)
    want = torch.cat([answers, torch.full((3, 1), STOP)], 1)
    correct = (drawn == want[:, None]).all(-1).numpy()  # (3, n)
    p = np.exp(lp)
    for i in range(3):
        assert abs(correct[i].mean() - p[i]) <= binomial_tolerance(p[i:i + 1], n)
    ks = [1, 4, 16]
    sampled = pass_at_k(n, correct.sum(1), ks)  # (3 ks, 3 problems)
    exact = exact_pass_at_k(lp, ks)
    assert exact.shape == (3, 3)
    # the unbiased estimate of 1 − (1 − p)^k has sd at most k · sd(p̂) (a Lipschitz bound)
    for j, k in enumerate(ks):
        assert np.all(np.abs(sampled[j] - exact[j]) <= 4 * k * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_exact_pass_at_k_is_stable_for_tiny_p_and_checks_shapes():
    lp = np.array([-40.0, np.log(0.5), 0.0])
    out = exact_pass_at_k(lp, [1, 1000])
    assert out[0, 0] == pytest.approx(np.exp(-40.0), rel=1e-9)
    assert out[1, 0] == pytest.approx(1000 * np.exp(-40.0), rel=1e-6)
    assert out[0, 1] == 0.5 and out[1, 2] == 1.0
    with pytest.raises(ValueError, match="same P"):
        answer_logprobs(None, torch.zeros(2, 3, dtype=torch.long),
                        torch.zeros(3, 2, dtype=torch.long))
