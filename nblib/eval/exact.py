"""Exact answer probabilities: for a task with one answer string per problem, the probability
that one sample is exactly right, P(answer tokens, then the stop token | prompt), from a single
teacher-forced forward pass, and from it pass@k = 1 − (1 − p)^k at any k with no sampling error
(an "infinite-resolution" evaluation in the sense of PassUntil, Hu et al. 2023, arXiv 2310.03262).

Sampling (`eval.decoding.generate` at temperature 1, stopping at `stop_id`) draws each answer
with exactly this probability, so the unbiased sampled estimator (`eval.passk.pass_at_k`) is an
estimate of the same number: the tests check both against brute force at tiny size.
"""

from __future__ import annotations

import numpy as np
import torch

from nblib.eval.passk import pass_at_k_exact


@torch.no_grad()
def answer_logprobs(model, prompts: torch.Tensor, answers: torch.Tensor,
                    stop_id: int | None = None, batch_size: int = 4096) -> torch.Tensor:
    """log P(answer | prompt) per problem, float64 (P,): the sum of the log-probabilities of the
    answer tokens and, with `stop_id`, of the stop token after them (the sampler then stops, so a
    sample equals the answer string exactly). prompts: (P, prompt_len); answers: (P, answer_len),
    every row of one length. The model is run in eval mode and put back in the mode it was in."""
    if prompts.dim() != 2 or answers.dim() != 2 or len(prompts) != len(answers):
        raise ValueError(f"prompts {tuple(prompts.shape)} and answers {tuple(answers.shape)} must "
                         "be (P, prompt_len) and (P, answer_len) with the same P")
    if prompts.shape[1] < 1 or answers.shape[1] < 1:
        raise ValueError("prompts and answers need at least one token each")
    if stop_id is not None:
        answers = torch.cat([answers, torch.full((len(answers), 1), stop_id,
                                                 dtype=answers.dtype)], dim=1)
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    start_at, out = prompts.shape[1], []
    for i in range(0, len(prompts), batch_size):
        rows = torch.cat([prompts[i:i + batch_size], answers[i:i + batch_size]], 1).to(device)
        logits_BxLxV = model(input_ids=rows[:, :-1]).logits.double()
        logp_BxLxV = torch.log_softmax(logits_BxLxV[:, start_at - 1:], dim=-1)  # answer positions
        target_BxA = rows[:, start_at:]  # (b, answer_len [+ 1])
        out.append(logp_BxLxV.gather(-1, target_BxA[..., None])[..., 0].sum(-1).cpu())
    model.train(was_training)
    return torch.cat(out)  # (P,)


def exact_pass_at_k(log_p, ks) -> np.ndarray:
    """pass@k = 1 − (1 − p)^k per problem from log p (P,): shape (len(ks), P) for a list of k,
    (P,) for one k. Computed as −expm1(k · log1p(−p)), exact for tiny p."""
    p = np.exp(np.clip(np.asarray(log_p, float), None, 0.0))
    return pass_at_k_exact(p, ks)


def binomial_tolerance(p, n: int, z: float = 4.0) -> float:
    """How far the mean over problems of a sampled pass@1 (c/n, n samples each) may lie from the
    exact mean p by chance: z standard errors, sqrt(Σ p(1 − p) / n) / P, plus a float floor."""
    p = np.asarray(p, float)
    return float(z * np.sqrt(np.sum(p * (1 - p)) / n) / len(p) + 1e-9)
