"""Tiny causal language models built from `transformers` configs, with parameter and FLOP counts.

Llama-style (RMSNorm, SwiGLU, rotary positions, SDPA attention) by default; GPT-2 as an option.
They are ordinary `PreTrainedModel`s: `save_pretrained` / `from_pretrained` work unchanged, and a
notebook can swap in any Hugging Face causal LM of the same interface.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from nblib.config import ConfigError

ARCHITECTURES = ("llama", "gpt2")


@dataclass(frozen=True)
class LMShape:
    """The shape of a tiny causal LM."""

    vocab_size: int = 2048  # tokens in the vocabulary
    d_model: int = 128  # residual stream width
    n_layers: int = 4  # transformer blocks
    n_heads: int = 4  # attention heads (d_model must divide by it)
    context: int = 256  # maximum sequence length in tokens
    # "llama" (RMSNorm, SwiGLU, RoPE) or "gpt2" (LayerNorm, GELU, learned positions)
    arch: str = "llama"
    mlp_ratio: float = 4.0  # MLP hidden width / d_model (llama rounds to a multiple of 8)
    tie_embeddings: bool = True  # share the input embedding and output projection

    def check(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"arch={self.arch!r} is not one of {ARCHITECTURES}")
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "context"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be a positive integer")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.arch == "llama" and (self.d_model // self.n_heads) % 2:
            raise ConfigError(f"head size d_model/n_heads={self.d_model // self.n_heads} "
                              "must be even for rotary positions")

    @property
    def d_mlp(self) -> int:
        width = int(self.mlp_ratio * self.d_model)
        if self.arch == "llama":  # SwiGLU has three matrices: keep parameters ~ a 4x GELU MLP
            width = int(2 * width / 3)
            width = 8 * max(1, round(width / 8))
        return width


def shape_of(cfg, **overrides) -> LMShape:
    """The LMShape a notebook config describes: its fields named like LMShape's (vocab_size,
    d_model, n_layers, n_heads, context, arch, mlp_ratio, tie_embeddings), then `overrides`
    (e.g. d_model=width for one size of a family, vocab_size of a task). Given a model built by
    `build_lm`, the shape it was built with."""
    if isinstance(cfg, PreTrainedModel):
        return shape_of(_shape_of_model(cfg), **overrides)
    names = [f for f in LMShape.__dataclass_fields__ if hasattr(cfg, f)]
    shape = LMShape(**{**{f: getattr(cfg, f) for f in names}, **overrides})
    shape.check()
    return shape


def hf_config(shape: LMShape):
    """The `transformers` config for `shape`."""
    shape.check()
    if shape.arch == "gpt2":
        return GPT2Config(vocab_size=shape.vocab_size, n_positions=shape.context,
                          n_embd=shape.d_model,
                          n_layer=shape.n_layers, n_head=shape.n_heads, n_inner=shape.d_mlp,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                          tie_word_embeddings=shape.tie_embeddings, bos_token_id=0, eos_token_id=0,
                          attn_implementation="sdpa")
    return LlamaConfig(vocab_size=shape.vocab_size, hidden_size=shape.d_model,
                       intermediate_size=shape.d_mlp, num_hidden_layers=shape.n_layers,
                       num_attention_heads=shape.n_heads, num_key_value_heads=shape.n_heads,
                       max_position_embeddings=shape.context, rms_norm_eps=1e-5,
                       tie_word_embeddings=shape.tie_embeddings, attention_dropout=0.0,
                       bos_token_id=0, eos_token_id=0, pad_token_id=0,
                       attn_implementation="sdpa")


def build_lm(shape: LMShape, seed: int = 0) -> PreTrainedModel:
    """A freshly initialised causal LM of `shape` (fp32, train mode); the same seed gives the
    same weights."""
    config = hf_config(shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = (GPT2LMHeadModel if shape.arch == "gpt2" else LlamaForCausalLM)(config)
    model.config.nblib_shape = asdict(shape)  # travels with save_pretrained
    return model.train()


def _shape_of_model(model: PreTrainedModel) -> LMShape:
    """The LMShape a model was built with (read back from its config)."""
    return LMShape(**model.config.nblib_shape)


def count_params(model: torch.nn.Module) -> dict[str, int]:
    """Total and non-embedding parameter counts (Kaplan et al. 2020 exclude the token and position
    embeddings; a tied output head is counted once, inside the embedding)."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    head = model.get_output_embeddings()
    if head is not None:
        embedding_ids.add(id(head.weight))
    embedding = sum(unique[i].numel() for i in embedding_ids if i in unique)
    return {"total": total, "non_embedding": total - embedding, "embedding": embedding}


def flops_per_token(shape: LMShape) -> dict[str, float]:
    """Training FLOPs per token: 6·N_non-embedding (Kaplan) plus the attention score and value
    products (6·n_layers·context·d_model, averaged over causal positions) and the output
    projection (6·d_model·vocab). Forward alone is one third of each."""
    d, n_layers, ctx = shape.d_model, shape.n_layers, shape.context
    mlp_mats = 3 if shape.arch == "llama" else 2
    dense = n_layers * (4 * d * d + mlp_mats * d * shape.d_mlp)  # weights touched per token
    attention = n_layers * ctx * d  # QK^T and AV, causal (half of 2·ctx·d)
    head = d * shape.vocab_size
    train = 6 * (dense + attention + head)
    return {"train": float(train), "forward": float(train / 3), "kaplan_6N": float(6 * dense)}
