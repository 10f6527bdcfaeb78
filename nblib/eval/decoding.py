"""Batched, seeded decoding for the tiny causal LMs: temperature sampling, greedy, and
seed-conditioning (a fresh random prefix, then greedy or sampled), as in Nagarajan et al. 2025.

Randomness is drawn from a CPU `torch.Generator` and moved to the model's device (Gumbel-max
sampling), so a seed gives the same samples on any device and batch order.

`cached=True` keeps the keys and values of the prefix in a `transformers` `DynamicCache` and feeds
one new token per step instead of the whole sequence again: the same noise, drawn in the same
order, so the same tokens (up to float ties in the logits), at a fraction of the cost.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


@torch.no_grad()
def generate(model, prompts: torch.Tensor, max_new_tokens: int, temperature: float = 0.0,
             generator: torch.Generator | None = None, stop_id: int | None = None,
             pad_id: int = 0, batch_size: int = 1024, sampler: str = "gumbel",
             cached: bool = False) -> torch.Tensor:
    """Continuations of `prompts` (n, prompt_len), all of one length: (n, max_new_tokens).

    temperature 0 is greedy; above 0, samples from softmax(logits / temperature) with noise from
    `generator` (required then): `sampler` "gumbel" (Gumbel-max, CPU noise moved to the device) or
    "multinomial" (`torch.multinomial` of the softmax on the CPU; the same distribution, another
    random stream). Rows are decoded `batch_size` at a time and the noise is drawn batch by batch,
    step by step: beyond one new token, `batch_size` is part of what a seed reproduces. After
    `stop_id` a row is filled with `pad_id`. The model is run in eval mode and put back in the
    mode it was in. `cached`: decode against a KV cache (a `transformers` causal LM that takes
    `cache=`; prompts of one length, no padding), same tokens for the same generator; off by
    default, so models that need the whole sequence every step (e.g. sink masks) keep working."""
    if sampler not in ("gumbel", "multinomial"):
        raise ValueError(f"sampler={sampler!r}: must be 'gumbel' or 'multinomial'")
    if temperature < 0:
        raise ValueError(f"temperature={temperature} must be >= 0 (0 is greedy)")
    if temperature > 0 and generator is None:
        raise ValueError("temperature > 0 needs a torch.Generator for seeded sampling")
    if prompts.dim() != 2 or prompts.shape[1] < 1:
        raise ValueError(f"prompts must be (n, prompt_len >= 1), got {tuple(prompts.shape)}")
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    outs = []
    for start in range(0, len(prompts), batch_size):
        seq = prompts[start:start + batch_size].to(device)  # (b, prompt_len)
        done = torch.zeros(len(seq), dtype=torch.bool, device=device)  # (b,)
        cache = DynamicCache(config=model.config) if cached else None
        step_ids = seq  # what the next forward pass reads: everything, or the new token (cached)
        new = []
        for _ in range(max_new_tokens):
            if cached:
                out = model(input_ids=step_ids, cache=cache, use_cache=True)
                logits = out.logits[:, -1].float()  # (b, vocab)
            else:
                logits = model(input_ids=seq).logits[:, -1].float()  # (b, vocab)
            if temperature > 0 and sampler == "multinomial":
                probs_BxV = torch.softmax(logits / temperature, -1).cpu()
                token = torch.multinomial(probs_BxV, 1, generator=generator)[:, 0]  # (b,)
                token = token.to(device)
            elif temperature > 0:
                u = torch.rand(logits.shape, generator=generator).to(device)  # (b, vocab)
                gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0)))
                token = (logits / temperature + gumbel).argmax(-1)  # (b,)
            else:
                token = logits.argmax(-1)
            token = torch.where(done, torch.full_like(token, pad_id), token)
            if stop_id is not None:
                done |= token == stop_id
            new.append(token)
            seq = torch.cat([seq, token[:, None]], dim=1)
            step_ids = token[:, None]  # (b, 1)
            if done.all():
                break
        out = torch.stack(new, dim=1)  # (b, steps)
        pad = torch.full((len(out), max_new_tokens - out.shape[1]), pad_id, dtype=out.dtype,
                         device=device)
        outs.append(torch.cat([out, pad], dim=1).cpu())
    model.train(was_training)
    return torch.cat(outs)


def random_prefixes(n: int, length: int, alphabet: torch.Tensor,
                    generator: torch.Generator) -> torch.Tensor:
    """(n, length) token ids drawn uniformly from `alphabet` (1-D ids): fresh random hashes."""
    if length < 0:
        raise ValueError(f"length={length} must be >= 0")
    return alphabet[torch.randint(len(alphabet), (n, length), generator=generator)]


def seed_conditioned(model, n: int, hash_len: int, alphabet: torch.Tensor, suffix: list[int],
                     max_new_tokens: int, generator: torch.Generator, temperature: float = 0.0,
                     stop_id: int | None = None, batch_size: int = 1024) -> torch.Tensor:
    """Seed-conditioning: `n` prompts, each a fresh random prefix of `hash_len` ids from
    `alphabet` followed by `suffix` (e.g. the query token), decoded greedily (temperature 0) or
    sampled ("both"). hash_len 0 with temperature > 0 is plain temperature sampling.
    Returns the continuations (n, max_new_tokens)."""
    prefix = random_prefixes(n, hash_len, alphabet, generator)  # (n, hash_len)
    prompts = torch.cat([prefix, torch.tensor(suffix, dtype=torch.long).expand(n, -1)], dim=1)
    return generate(model, prompts, max_new_tokens, temperature, generator, stop_id,
                    batch_size=batch_size)
