"""Notebook 10's mechanism probes on a trained model (no fine-tuning anywhere):

- attention entropy per layer and head (eager attention weights on test windows);
- the effective rank of what each layer's keys and values are computed from, per token: MLA's
  latent c_KV, a grouped variant's [k; v] before RoPE (Roy & Vetterli's exp-entropy rank of the
  centred singular values, and the components holding 90% of the variance);
- for the trained MHA, the singular values of each layer's stacked [W_K; W_V] and the test loss
  with every layer's [W_K; W_V] replaced by its best rank-r approximation (Eckart-Young), keys and
  values sharing one r-dim subspace of x, as MLA's latent makes them.
"""

from __future__ import annotations

import contextlib

import torch

from nblib.eval.lm_loss import mean_loss
from nblib.models.attention import AttentionSpec, LatentAttention, attention_modules


def effective_rank(x: torch.Tensor) -> dict:
    """Of the rows of x (N, width), centred: exp(entropy of the normalised singular values)
    and the number of components holding 90% of the variance."""
    s = torch.linalg.svdvals((x - x.mean(0)).double())  # (min(N, width),)
    p = s / s.sum()
    p = p[p > 0]
    var = (s**2).cumsum(0) / (s**2).sum()
    return {"width": x.shape[1], "effective_rank": float(torch.exp(-(p * p.log()).sum())),
            "rank90": int((var < 0.9).sum()) + 1}


@contextlib.contextmanager
def eager(model):
    """Attention through the eager kernel, which returns the weights (and back after)."""
    before = model.config._attn_implementation
    model.config._attn_implementation = "eager"
    try:
        yield model
    finally:
        model.config._attn_implementation = before


def capture(model, input_ids: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each layer's attention input (B, T, d) and attention weights (B, H, T, T)."""
    inputs, weights, hooks = [], [], []
    for att in attention_modules(model):
        hooks.append(att.register_forward_pre_hook(
            lambda m, args, kw: inputs.append(kw["hidden_states"].detach()), with_kwargs=True))
        hooks.append(att.register_forward_hook(lambda m, args, out: weights.append(out[1])))
    try:
        with eager(model):
            model(input_ids=input_ids)
    finally:
        for h in hooks:
            h.remove()
    return inputs, weights


def entropy_rows(weights: list[torch.Tensor]) -> list[dict]:
    """Per layer and head: the mean entropy (nats) of the attention distributions over query
    positions 1.. (position 0 attends to itself only), and that entropy over its maximum
    log(t + 1) (1 = uniform over the prefix)."""
    rows = []
    for layer, w in enumerate(weights):  # (B, H, T, T), rows sum to 1
        ent = -(w * w.clamp_min(1e-30).log()).sum(-1)[:, :, 1:]  # (B, H, T - 1)
        top = torch.log(torch.arange(2, w.shape[-1] + 1, dtype=ent.dtype))  # (T - 1,)
        for head in range(w.shape[1]):
            rows.append({"layer": layer, "head": head,
                         "entropy": float(ent[:, head].mean()),
                         "entropy_ratio": float((ent[:, head] / top).mean())})
    return rows


def kv_source(att, x: torch.Tensor) -> torch.Tensor:
    """What a layer's keys and values are linear in, per token (N, width): MLA's c_KV, a grouped
    layer's [k; v] before RoPE."""
    x = x.reshape(-1, x.shape[-1])
    if isinstance(att, LatentAttention):
        return att.latent(x)[0]
    return torch.cat((att.k_proj(x), att.v_proj(x)), -1)


def stacked_kv(att) -> torch.Tensor:
    """[W_K; W_V] of a grouped layer, (Hk·(qk + v), d)."""
    return torch.cat((att.k_proj.weight, att.v_proj.weight), 0)


@contextlib.contextmanager
def truncated_kv(model, rank: int):
    """Every layer's [W_K; W_V] replaced by its best rank-`rank` approximation (restored after)."""
    saved = []
    for att in attention_modules(model):
        W = stacked_kv(att)
        U, S, Vh = torch.linalg.svd(W, full_matrices=False)
        Wr = (U[:, :rank] * S[:rank]) @ Vh[:rank]
        nk = att.k_proj.weight.shape[0]
        saved.append((att, att.k_proj.weight.clone(), att.v_proj.weight.clone()))
        att.k_proj.weight.copy_(Wr[:nk])
        att.v_proj.weight.copy_(Wr[nk:])
    try:
        yield model
    finally:
        for att, k, v in saved:
            att.k_proj.weight.copy_(k)
            att.v_proj.weight.copy_(v)


@torch.no_grad()
def probe(model, name: str, spec: AttentionSpec, cfg, test: torch.Tensor) -> dict:
    """The test loss and every probe's rows for one trained model (`name` "mha": also the
    spectrum and the truncation)."""
    model.eval()
    out: dict = {"test_loss": mean_loss(model, test)}
    device = next(model.parameters()).device
    inputs, weights = capture(model, test[:cfg.probe_windows, :-1].to(device))
    out["entropy"] = entropy_rows(weights)
    out["ranks"] = [{"layer": i, **effective_rank(kv_source(att, x))}
                    for i, (att, x) in enumerate(zip(attention_modules(model), inputs,
                                                     strict=True))]
    if name == "mha":
        out["spectrum"] = [{"layer": i, "index": j, "singular_value": float(s)}
                           for i, att in enumerate(attention_modules(model))
                           for j, s in enumerate(torch.linalg.svdvals(stacked_kv(att)))]
        out["truncation"] = []
        for r in sorted(cfg.probe_ranks):
            with truncated_kv(model, r):
                out["truncation"].append({"rank": r, "test_loss": mean_loss(model, test)})
    model.train()
    return out
