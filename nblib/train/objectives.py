"""Training objectives on logits and targets: next-token cross-entropy, the k-shot loss (pass@k
in training, for notebook 04), label smoothing (04's baseline) and distillation (notebook 01); a
target of IGNORE (-100) contributes nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nblib.eval.lm_loss import IGNORE


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are not IGNORE.

    logits: (batch, seq, vocab); targets: (batch, seq), already shifted (targets[:, t] is the
    token that follows inputs[:, t])."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def answer_masked_targets(sequences: torch.Tensor,
                          answer_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for a loss on the answer tokens only.

    sequences: (batch, seq + 1) token ids (prompt, answer, padding); answer_mask: (batch, seq + 1),
    True where the token is part of the answer. Returns inputs (batch, seq) and targets
    (batch, seq) in which every position whose next token is not an answer token is IGNORE."""
    if sequences.shape != answer_mask.shape:
        raise ValueError(f"sequences {tuple(sequences.shape)} and answer_mask "
                         f"{tuple(answer_mask.shape)} differ in shape")
    inputs, targets = sequences[:, :-1], sequences[:, 1:].clone()  # (B, L) each
    targets[~answer_mask[:, 1:].bool()] = IGNORE
    return inputs, targets


def kshot_loss(logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """The k-shot loss −log(1 − (1 − p)^k) averaged over the targets that are not IGNORE, where p is
    the probability of the target token: the log-probability that at least one of k independent
    samples hits the target. k = 1 is exactly next-token cross-entropy.

    logits: (batch, seq, vocab); targets: (batch, seq). Computed from log p in a stable form:
    1 − (1 − p)^k = −expm1(k · log1p(−p))."""
    if k < 1:
        raise ValueError(f"k={k} must be a positive integer")
    keep = targets != IGNORE  # (B, L)
    log_p = (
        torch.log_softmax(logits.float(), dim=-1)
        .gather(-1, targets.clamp(min=0).unsqueeze(-1))
        .squeeze(-1)
    )  # (B, L) log-probability of each target
    log_p = log_p[keep]  # (n,)
    if k == 1:
        return -log_p.mean()
    log_miss = k * torch.log1p(-log_p.exp().clamp(max=1 - 1e-7))  # log (1 − p)^k
    return -torch.log(-torch.expm1(log_miss)).mean()


def label_smoothed_loss(logits: torch.Tensor, targets: torch.Tensor,
                        smoothing: float) -> torch.Tensor:
    """Cross-entropy against (1 − smoothing) · one-hot + smoothing · uniform over the vocabulary
    (Szegedy et al. 2016), averaged over the targets that are not IGNORE; smoothing = 0 is
    next-token cross-entropy. logits: (batch, seq, vocab); targets: (batch, seq)."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing={smoothing} must lie in [0, 1)")
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE,
                           label_smoothing=smoothing)


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      alpha: float, temperature: float = 1.0) -> torch.Tensor:
    """alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · cross-entropy on the targets
    (Hinton et al. 2015), averaged over the positions whose target is not IGNORE. alpha = 0 is
    plain NTP.

    logits, teacher_logits: (batch, seq, vocab), same vocabulary; targets: (batch, seq)."""
    if logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ in shape")
    if not 0.0 <= alpha <= 1.0 or temperature <= 0:
        raise ValueError(f"alpha={alpha} must be in [0, 1] and temperature={temperature} positive")
    ce = next_token_loss(logits, targets)
    if alpha == 0:
        return ce
    keep = targets != IGNORE  # (batch, seq)
    student = torch.log_softmax(logits[keep].float() / temperature, dim=-1)  # (n, vocab)
    teacher = torch.log_softmax(teacher_logits[keep].float() / temperature, dim=-1)  # (n, vocab)
    kl = (teacher.exp() * (teacher - student)).sum(-1).mean()  # scalar, mean over n positions
    return alpha * temperature**2 * kl + (1 - alpha) * ce


def teacherless_targets(sequences: torch.Tensor, answer_mask: torch.Tensor,
                        dummy_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for the teacherless (multi-token) objective (Bachmann & Nagarajan 2024;
    the "hybrid" training of Nagarajan et al. 2025 mixes these rows with NTP rows).

    As `answer_masked_targets`, but every answer token in the inputs is replaced by `dummy_id`: the
    position of the i-th answer token predicts answer token i + 1 having seen the prompt and i
    dummies, never the earlier answer tokens. sequences, answer_mask: (batch, seq + 1); returns
    inputs (batch, seq) and targets (batch, seq)."""
    inputs, targets = answer_masked_targets(sequences, answer_mask)
    inputs = inputs.masked_fill(answer_mask[:, :-1].bool(), dummy_id)
    return inputs, targets
