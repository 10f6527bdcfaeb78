"""Memorization sinks (Ghosal, Maini & Raghunathan 2025, arXiv 2507.09937) in a tiny Llama.

Each MLP's hidden neurons are split into general neurons (always active) and sink neurons. A
document ID, a hash of the document's tokens, seeds the choice of a fixed subset of sink neurons
that is active on every occurrence of that document; the other sinks are zeroed. At evaluation all
sinks are dropped, so what collected in them (memorisation of repeated text, the claim goes) is
removed while the general neurons keep what all documents share.

    model = build_sink_lm(shape, n_sink=64, seed=0)
    set_sink_masks(model, sink_masks(ids, n_sink=64, n_active=16))  # training: per-document sets
    set_sink_masks(model, None)                                     # evaluation: sinks dropped
"""

from __future__ import annotations

import hashlib

import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaMLP

from nblib.config import ConfigError
from nblib.models.lm import LMShape, hf_config


class SinkLlamaConfig(LlamaConfig):
    """A LlamaConfig whose MLPs reserve their last `n_sink` hidden neurons as sinks."""

    model_type = "nblib_sink_llama"

    def __init__(self, n_sink: int = 0, **kwargs):
        self.n_sink = n_sink  # sink neurons per MLP (the last n_sink of intermediate_size)
        super().__init__(**kwargs)


class SinkMLP(LlamaMLP):
    """SwiGLU MLP whose last `n_sink` hidden units are gated by a per-sequence 0/1 mask."""

    def __init__(self, config: SinkLlamaConfig):
        super().__init__(config)
        self.n_sink = config.n_sink
        self.n_general = config.intermediate_size - config.n_sink
        self.sink_mask: torch.Tensor | None = None  # (batch, n_sink) 0/1, or None: sinks dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, seq, d_model)
        hidden = self.act_fn(self.gate_proj(x)) * self.up_proj(x)  # (batch, seq, d_mlp)
        if self.n_sink:
            sinks = hidden[..., self.n_general:]  # (batch, seq, n_sink)
            if self.sink_mask is None:
                sinks = torch.zeros_like(sinks)
            else:
                sinks = sinks * self.sink_mask[:, None, :].to(sinks.dtype)
            hidden = torch.cat([hidden[..., :self.n_general], sinks], dim=-1)
        return self.down_proj(hidden)


class SinkLlamaForCausalLM(LlamaForCausalLM):
    """LlamaForCausalLM with SinkMLPs; saves and loads with save_pretrained / from_pretrained."""

    config_class = SinkLlamaConfig

    def __init__(self, config: SinkLlamaConfig):
        super().__init__(config)
        for layer in self.model.layers:
            sink_mlp = SinkMLP(config)
            sink_mlp.load_state_dict(layer.mlp.state_dict())  # keep the seeded initialisation
            layer.mlp = sink_mlp


AutoConfig.register(SinkLlamaConfig.model_type, SinkLlamaConfig)
AutoModelForCausalLM.register(SinkLlamaConfig, SinkLlamaForCausalLM)


def build_sink_lm(shape: LMShape, n_sink: int, seed: int = 0) -> SinkLlamaForCausalLM:
    """A Llama of `shape` whose MLPs have `n_sink` sink neurons out of shape.d_mlp; with the same
    seed its weights equal `build_lm(shape, seed)`'s, so the two differ only in the sinks'
    gating."""
    if shape.arch != "llama":
        raise ConfigError(f"arch={shape.arch!r}: memorization sinks are implemented for 'llama'")
    if not 0 <= n_sink < shape.d_mlp:
        raise ConfigError(f"n_sink={n_sink} must be in [0, d_mlp={shape.d_mlp})")
    config = SinkLlamaConfig(n_sink=n_sink, **hf_config(shape).to_dict())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SinkLlamaForCausalLM(config)
    model.config.nblib_shape = dict(shape.__dict__)
    return model.train()


def document_id(tokens) -> int:
    """A stable 63-bit ID of a token sequence (blake2b of its int64 bytes)."""
    data = torch.as_tensor(tokens, dtype=torch.int64).contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


def sink_set(doc_id: int, n_sink: int, n_active: int) -> torch.Tensor:
    """The indices of the `n_active` sink neurons document `doc_id` uses (the same every time)."""
    return torch.randperm(n_sink, generator=torch.Generator().manual_seed(doc_id))[:n_active]


def sink_masks(doc_ids, n_sink: int, n_active: int) -> torch.Tensor:
    """0/1 masks (len(doc_ids), n_sink) selecting each document's sink set."""
    if not 0 < n_active <= n_sink:
        raise ConfigError(f"n_active={n_active} must be in [1, n_sink={n_sink}]")
    masks = torch.zeros(len(doc_ids), n_sink)
    for row, doc_id in enumerate(doc_ids):
        masks[row, sink_set(int(doc_id), n_sink, n_active)] = 1.0
    return masks


def set_sink_masks(model: torch.nn.Module, masks: torch.Tensor | None) -> None:
    """Gate every SinkMLP of `model`: per-sequence masks (batch, n_sink), or None to drop all sinks.
    A model without sinks is left alone, so the same code drives both."""
    for module in model.modules():
        if isinstance(module, SinkMLP):
            module.sink_mask = None if masks is None else masks.to(module.up_proj.weight.device)
