"""GRPO's loss on nblib's Trainer (Shao et al. 2024, arXiv 2402.03300), written out so every
choice is visible. A caller's batch source samples a group of completions per prompt and rewards
them; these pieces turn the rewards into group advantages and one policy-gradient step on the
sampled completion tokens (notebook 08's `rollouts` is such a source).

- One update per batch of samples (μ = 1, as TRL's default `num_iterations=1`): the PPO ratio is
  exactly 1, so the clipped surrogate's gradient is REINFORCE with the group mean as baseline;
  `policy_loss` keeps the clip for callers that reuse samples.
- Advantages: (r − mean) / (std + eps) over the group (GRPO) or r − mean (Dr. GRPO, Liu et al.
  2025, arXiv 2503.20783). Every group whose rewards are all equal contributes nothing.
- Normalisation: "constant" divides the token sum by (completions × the longest completion) (Dr.
  GRPO), so every token of a completion gets the same push whatever its length; "sequence"
  (GRPO's 1/|o|) gives a short completion's tokens a larger push, which here would favour the
  shorter binary trace for reasons unrelated to its correctness; "token" (DAPO) divides by all
  completion tokens of the batch.
- An optional KL to the frozen pretrained model, the k3 estimator exp(q − p) − (q − p) − 1 per
  token (q: reference log-prob, p: policy's).
"""

from __future__ import annotations

import copy

import torch

from nblib.config import ConfigError

EPS = 1e-6  # std floor of the group normalisation


def group_advantages(rewards: torch.Tensor, kind: str = "grpo") -> torch.Tensor:
    """(P, G) rewards -> (P, G) advantages: r − group mean, divided by the group's std (plus EPS)
    for "grpo"; all zero in a group whose rewards are equal."""
    if kind not in ("grpo", "mean"):
        raise ConfigError(f"parameter advantage={kind!r}: must be one of ['grpo', 'mean']")
    centred = rewards - rewards.mean(1, keepdim=True)  # (P, G)
    if kind == "mean":
        return centred
    return centred / (rewards.std(1, keepdim=True, unbiased=False) + EPS)


def completion_logprobs(model, sequences: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """(N, T) prompt + completion rows -> (N, T − prompt_len) log-prob of each completion token
    under `model` (with grad when the model is in grad mode)."""
    logits = model(input_ids=sequences[:, :-1]).logits  # (N, T - 1, V)
    logp = torch.log_softmax(logits.float(), -1)  # (N, T - 1, V)
    picked = logp.gather(-1, sequences[:, 1:, None])[..., 0]  # (N, T - 1)
    return picked[:, prompt_len - 1:]  # (N, Tc): completion tokens only


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, norm: str = "constant", clip_eps: float = 0.2,
                ref_logp: torch.Tensor | None = None, kl_coef: float = 0.0) -> torch.Tensor:
    """The clipped policy-gradient loss (to minimise) on completion tokens.

    logp, old_logp, mask: (N, Tc) (mask True on the tokens of a completion up to its stop);
    advantages: (N,), one per completion; ref_logp (N, Tc) with kl_coef > 0 adds the KL penalty."""
    mask = mask.float()  # (N, Tc)
    ratio = torch.exp(logp - old_logp)  # (N, Tc)
    adv = advantages[:, None]  # (N, 1)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv)
    per_token = -surrogate  # (N, Tc)
    if kl_coef > 0:
        if ref_logp is None:
            raise ValueError("kl_coef > 0 needs ref_logp")
        diff = ref_logp - logp  # (N, Tc)
        per_token = per_token + kl_coef * (torch.exp(diff) - diff - 1)
    per_token = per_token * mask
    if norm == "constant":
        return per_token.sum() / (mask.shape[0] * mask.shape[1])
    if norm == "sequence":
        return (per_token.sum(1) / mask.sum(1).clamp(min=1)).mean()
    if norm == "token":
        return per_token.sum() / mask.sum().clamp(min=1)
    raise ConfigError(f"parameter loss_norm={norm!r}: must be one of "
                      "['constant', 'sequence', 'token']")


def grpo_loss_fn(prompt_len: int, norm: str, reference=None, kl_coef: float = 0.0):
    """The Trainer's loss hook for `Rollouts` batches: on-policy (old log-probs = the current
    ones, detached), optional KL to the frozen `reference`."""
    def loss(model, batch, step):
        sequences, mask, adv, _ = batch  # (N, T), (N, Tc), (N,), (N,)
        logp = completion_logprobs(model, sequences, prompt_len)  # (N, Tc)
        ref = None
        if kl_coef > 0:
            with torch.no_grad():
                ref = completion_logprobs(reference, sequences, prompt_len)  # (N, Tc)
        return policy_loss(logp, logp.detach(), adv, mask, norm, ref_logp=ref, kl_coef=kl_coef)
    return loss


def frozen_copy(model):
    """A frozen copy of `model` (the KL reference), in eval mode."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
