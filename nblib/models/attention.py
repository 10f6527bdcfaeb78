"""Attention variants on one Llama skeleton: MHA, GQA/MQA, MHA with a larger query-key head, MHA
with partial RoPE, and multi-head latent attention (MLA, DeepSeek-V2 §2.1).

`build_attention_lm(spec, ...)` is a `transformers` `LlamaForCausalLM` whose attention modules are
replaced by `GroupedAttention` or `LatentAttention`; embeddings, RMSNorms, SwiGLU MLPs, the rotary
embedding and the attention kernel (`ALL_ATTENTION_FUNCTIONS`, sdpa or eager) are Llama's own code
path, so two variants differ in their attention and MLP width only. Submodule names follow
`transformers`: a full-RoPE `GroupedAttention` loads `LlamaAttention`'s weights and a
`LatentAttention` loads `DeepseekV3Attention`'s (non-interleaved RoPE) unchanged, and gives the same
outputs (tests/test_attention.py).

Head layout (DeepSeek's): each query/key head is [nope dims | rope dims]; the rotary embedding
(rotate-half layout) acts on the last `rope_dim` dims. The softmax scale is qk_head_dim ** -0.5
over the full query-key head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import (
    LlamaRMSNorm,
    apply_rotary_pos_emb,
    eager_attention_forward,
)

from nblib.config import ConfigError
from nblib.env import derive_seed

KINDS = ("grouped", "latent")  # GroupedAttention (MHA/GQA/MQA) or LatentAttention (MLA)
LATENT_NORM_EPS = 1e-6  # DeepseekV3RMSNorm's default, which its latent norms keep (the block
# norms use the config's rms_norm_eps, 1e-5 here as in Llama)


@dataclass(frozen=True)
class AttentionSpec:
    """One attention variant (the same in every layer)."""

    kind: str = "grouped"  # "grouped": MHA / GQA / MQA; "latent": MLA
    n_heads: int = 4  # query heads
    n_kv_heads: int = 4  # key-value heads of a grouped variant (n_heads: MHA, 1: MQA)
    qk_head_dim: int = 32  # query-key dims per head, nope + rope
    v_head_dim: int = 32  # value dims per head
    rope_dim: int = 32  # rotated dims of each query/key head (qk_head_dim: full RoPE)
    kv_lora_rank: int = 0  # MLA: width of the cached latent c_KV
    q_lora_rank: int = 0  # MLA: width of the query latent (0: queries straight from x)
    shared_rope: bool = True  # MLA: one rope key shared by every head (DeepSeek's); False: a
    # rope key per head, as MHA's
    latent_norm: bool = True  # MLA: RMSNorm on the latent c_KV (DeepSeek's); False: none

    @property
    def nope_dim(self) -> int:
        return self.qk_head_dim - self.rope_dim

    @property
    def rope_heads(self) -> int:
        """MLA's rope keys per token: 1 shared (DeepSeek's) or one per query head."""
        return 1 if self.shared_rope else self.n_heads

    def check(self, d_model: int) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"attention kind={self.kind!r} is not one of {KINDS}")
        for name in ("n_heads", "n_kv_heads", "qk_head_dim", "v_head_dim", "rope_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"attention {name}={getattr(self, name)} must be positive")
        if self.rope_dim % 2 or self.rope_dim > self.qk_head_dim:
            raise ConfigError(f"attention rope_dim={self.rope_dim}: must be even and at most "
                              f"qk_head_dim={self.qk_head_dim}")
        if self.kind == "grouped" and self.n_heads % self.n_kv_heads:
            raise ConfigError(f"attention n_heads={self.n_heads} must be divisible by "
                              f"n_kv_heads={self.n_kv_heads}")
        if self.kind == "latent" and self.kv_lora_rank < 1:
            raise ConfigError(f"attention kv_lora_rank={self.kv_lora_rank}: MLA needs a latent")

    def cache_per_token(self) -> int:
        """KV-cache elements per token per layer: k and v of every kv head, or MLA's latent plus
        its rope key(s)."""
        if self.kind == "latent":
            return self.kv_lora_rank + self.rope_heads * self.rope_dim
        return self.n_kv_heads * (self.qk_head_dim + self.v_head_dim)

    def params(self, d_model: int) -> int:
        """Weights of one attention module (latent norms included)."""
        h, qk, v = self.n_heads, self.qk_head_dim, self.v_head_dim
        out = h * v * d_model
        if self.kind == "grouped":
            return d_model * h * qk + d_model * self.n_kv_heads * (qk + v) + out
        r, rq = self.kv_lora_rank, self.q_lora_rank
        q = d_model * h * qk if not rq else d_model * rq + rq + rq * h * qk
        kv = (d_model * (r + self.rope_heads * self.rope_dim) + r * self.latent_norm
              + r * h * (self.nope_dim + v))
        return q + kv + out


def _attend(module: nn.Module, q, k, v, attention_mask, **kwargs):
    """The Llama attention kernel of the model's `_attn_implementation` (sdpa by default, eager
    when attention weights are asked for): (B, T, H*v_head_dim), weights or None."""
    interface = ALL_ATTENTION_FUNCTIONS.get_interface(module.config._attn_implementation,
                                                      eager_attention_forward)
    out, weights = interface(module, q, k, v, attention_mask, dropout=0.0,
                             scaling=module.scaling, **kwargs)  # out (B, T, H, v)
    return out.reshape(*out.shape[:2], -1).contiguous(), weights


def _rotate_tail(q, k, cos, sin, rope_dim: int):
    """RoPE on the last `rope_dim` dims of q (B, H, T, qk) and k (B, Hk, T, qk)."""
    if rope_dim == q.shape[-1]:
        return apply_rotary_pos_emb(q, k, cos, sin)
    q_pass, q_rot = q.split([q.shape[-1] - rope_dim, rope_dim], dim=-1)
    k_pass, k_rot = k.split([k.shape[-1] - rope_dim, rope_dim], dim=-1)
    q_rot, k_rot = apply_rotary_pos_emb(q_rot, k_rot, cos, sin)
    return torch.cat((q_pass, q_rot), -1), torch.cat((k_pass, k_rot), -1)


class GroupedAttention(nn.Module):
    """MHA / GQA / MQA with its own query-key and value head sizes and partial RoPE."""

    def __init__(self, config: LlamaConfig, spec: AttentionSpec, layer_idx: int):
        super().__init__()
        d, h, hk = config.hidden_size, spec.n_heads, spec.n_kv_heads
        self.config, self.spec, self.layer_idx, self.is_causal = config, spec, layer_idx, True
        self.num_key_value_groups = h // hk  # read by the attention kernels
        self.scaling = spec.qk_head_dim ** -0.5
        self.q_proj = nn.Linear(d, h * spec.qk_head_dim, bias=False)
        self.k_proj = nn.Linear(d, hk * spec.qk_head_dim, bias=False)
        self.v_proj = nn.Linear(d, hk * spec.v_head_dim, bias=False)
        self.o_proj = nn.Linear(h * spec.v_head_dim, d, bias=False)

    def forward(self, hidden_states, position_embeddings, attention_mask=None, cache=None,
                **kwargs):
        B, T, _ = hidden_states.shape
        s = self.spec
        q = self.q_proj(hidden_states).view(B, T, -1, s.qk_head_dim).transpose(1, 2)  # (B,H,T,qk)
        k = self.k_proj(hidden_states).view(B, T, -1, s.qk_head_dim).transpose(1, 2)  # (B,Hk,T,qk)
        v = self.v_proj(hidden_states).view(B, T, -1, s.v_head_dim).transpose(1, 2)  # (B,Hk,T,v)
        q, k = _rotate_tail(q, k, *position_embeddings, s.rope_dim)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx, kwargs=kwargs)
        out, weights = _attend(self, q, k, v, attention_mask, **kwargs)
        return self.o_proj(out), weights



class LatentAttention(nn.Module):
    """MLA: keys and values expanded from a cached latent c_KV = RMSNorm(W_DKV x) of
    `kv_lora_rank` dims, plus a decoupled rope key of `rope_dim` dims computed from x and shared
    by every head; queries from x directly or through their own normed latent (`q_lora_rank`).

    With `shared_rope=False` and `latent_norm=False` at `kv_lora_rank = d_model` it computes
    exactly the functions of a `GroupedAttention` MHA with the same head layout (its W_K, W_V
    factored as W_UK·W_DKV, W_UV·W_DKV): the calibration of the code path."""

    def __init__(self, config: LlamaConfig, spec: AttentionSpec, layer_idx: int):
        super().__init__()
        d, h, r = config.hidden_size, spec.n_heads, spec.kv_lora_rank
        self.config, self.spec, self.layer_idx, self.is_causal = config, spec, layer_idx, True
        self.num_key_value_groups = 1  # keys are expanded to every head before the kernel
        self.scaling = spec.qk_head_dim ** -0.5
        if spec.q_lora_rank:
            self.q_a_proj = nn.Linear(d, spec.q_lora_rank, bias=False)
            self.q_a_layernorm = LlamaRMSNorm(spec.q_lora_rank, eps=LATENT_NORM_EPS)
            self.q_b_proj = nn.Linear(spec.q_lora_rank, h * spec.qk_head_dim, bias=False)
        else:
            self.q_proj = nn.Linear(d, h * spec.qk_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, r + spec.rope_heads * spec.rope_dim, bias=False)
        self.kv_a_layernorm = (LlamaRMSNorm(r, eps=LATENT_NORM_EPS) if spec.latent_norm
                               else nn.Identity())
        self.kv_b_proj = nn.Linear(r, h * (spec.nope_dim + spec.v_head_dim), bias=False)
        self.o_proj = nn.Linear(h * spec.v_head_dim, d, bias=False)

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.q_lora_rank:
            return self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        return self.q_proj(x)

    def latent(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """c_KV (B, T, r) and the un-rotated rope key(s) (B, T, rope_heads * rope_dim)."""
        s = self.spec
        c, k_rot = self.kv_a_proj_with_mqa(x).split([s.kv_lora_rank, s.rope_heads * s.rope_dim],
                                                   dim=-1)
        return self.kv_a_layernorm(c), k_rot

    def forward(self, hidden_states, position_embeddings, attention_mask=None, cache=None,
                **kwargs):
        B, T, _ = hidden_states.shape
        s = self.spec
        q = self.queries(hidden_states).view(B, T, -1, s.qk_head_dim).transpose(1, 2)  # (B,H,T,qk)
        q_pass, q_rot = q.split([s.nope_dim, s.rope_dim], dim=-1)
        c, k_rot = self.latent(hidden_states)
        c = c.view(B, 1, T, -1)  # (B, 1, T, r): one "head", as cached
        k_rot = k_rot.view(B, T, s.rope_heads, s.rope_dim).transpose(1, 2)  # (B, 1 or H, T, dr)
        q_rot, k_rot = apply_rotary_pos_emb(q_rot, k_rot, *position_embeddings)
        if cache is not None:  # the cache holds the latent and the rotated rope key(s) only
            c, k_rot = cache.update(c, k_rot, self.layer_idx, kwargs=kwargs)
        S = c.shape[2]  # keys so far (T without a cache)
        kv = self.kv_b_proj(c).view(B, S, -1, s.nope_dim + s.v_head_dim).transpose(1, 2)
        k_pass, v = kv.split([s.nope_dim, s.v_head_dim], dim=-1)  # (B, H, S, .)
        k = torch.cat((k_pass, k_rot.expand(-1, k_pass.shape[1], -1, -1)), -1)  # (B, H, S, qk)
        out, weights = _attend(self, torch.cat((q_pass, q_rot), -1), k, v, attention_mask,
                               **kwargs)
        return self.o_proj(out), weights



# ------------------------------------------------------------------ the model


def llama_config(spec: AttentionSpec, vocab_size: int, d_model: int, n_layers: int, d_mlp: int,
                 context: int, rms_norm_eps: float = 1e-5, tie: bool = True) -> LlamaConfig:
    """The skeleton's config: `head_dim` = the rotated dims, so Llama's rotary embedding makes
    cos/sin of exactly `rope_dim` (the frequencies DeepSeek uses for its rope part)."""
    spec.check(d_model)
    return LlamaConfig(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=d_mlp,
                       num_hidden_layers=n_layers, num_attention_heads=spec.n_heads,
                       num_key_value_heads=spec.n_heads, head_dim=spec.rope_dim,
                       max_position_embeddings=context, rms_norm_eps=rms_norm_eps,
                       tie_word_embeddings=tie, attention_dropout=0.0, bos_token_id=0,
                       eos_token_id=0, pad_token_id=0, attn_implementation="sdpa")


def attention_class(spec: AttentionSpec) -> type[nn.Module]:
    return LatentAttention if spec.kind == "latent" else GroupedAttention


def init_weights(model: nn.Module, seed: int, std: float = 0.02) -> nn.Module:
    """Llama's init (normal(0, std) matrices and embeddings, unit norm gains), each parameter
    drawn from its own stream `derive_seed(seed, name)`: two variants built with one seed share
    every parameter of the same name and shape (embeddings, norms, equal-width layers).

    An MLA without its latent norm gets a scale-preserving down-projection W_DKV (std 1/√d
    instead of `std`): with the norm c_KV has unit RMS whatever W_DKV's scale; without it a
    std-0.02 W_DKV would start keys and values 0.02·√d times smaller than MHA's."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.fill_(1.0)
            else:
                g = torch.Generator().manual_seed(derive_seed(seed, name, *p.shape))
                p.copy_(torch.randn(p.shape, generator=g) * std)
        for layer in getattr(getattr(model, "model", None), "layers", []):
            att = layer.self_attn
            if isinstance(att, LatentAttention) and not att.spec.latent_norm:
                w = att.kv_a_proj_with_mqa.weight  # (r + rope keys, d)
                w[:att.spec.kv_lora_rank] *= 1.0 / (std * w.shape[1] ** 0.5)
    return model


def build_attention_lm(spec: AttentionSpec, vocab_size: int, d_model: int, n_layers: int,
                       d_mlp: int, context: int, seed: int = 0) -> PreTrainedModel:
    """A Llama causal LM (fp32, train mode) with `spec`'s attention in every layer."""
    config = llama_config(spec, vocab_size, d_model, n_layers, d_mlp, context)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    for i, layer in enumerate(model.model.layers):
        layer.self_attn = attention_class(spec)(config, spec, i)
    model.config.nblib_attention = asdict(spec)  # travels with save_pretrained
    return init_weights(model, seed).train()


def attention_modules(model: PreTrainedModel) -> list[nn.Module]:
    return [layer.self_attn for layer in model.model.layers]


# ------------------------------------------------------------------ the transformers references


def reference_model(spec: AttentionSpec, vocab_size: int, d_model: int, n_layers: int,
                    d_mlp: int, context: int) -> PreTrainedModel | None:
    """`transformers`' own model of the same variant, or None where it has none (partial RoPE,
    a query-key head unlike the value head, an MLA without DeepSeek's shared rope key or latent
    norm): LlamaForCausalLM for MHA/GQA/MQA, and for MLA a DeepseekV3ForCausalLM with every
    layer dense, rotate-half RoPE and Llama's norm epsilon."""
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    base = dict(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=d_mlp,
                num_hidden_layers=n_layers, num_attention_heads=spec.n_heads,
                max_position_embeddings=context, rms_norm_eps=1e-5, tie_word_embeddings=True,
                attention_bias=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if spec.kind == "grouped":
        if not spec.qk_head_dim == spec.v_head_dim == spec.rope_dim:
            return None
        return LlamaForCausalLM(LlamaConfig(**base, num_key_value_heads=spec.n_kv_heads,
                                            head_dim=spec.qk_head_dim,
                                            attn_implementation="sdpa"))
    if not (spec.shared_rope and spec.latent_norm):
        return None
    config = DeepseekV3Config(
        **base, num_key_value_heads=spec.n_heads, moe_intermediate_size=d_mlp,
        n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, n_group=1, topk_group=1,
        first_k_dense_replace=n_layers, kv_lora_rank=spec.kv_lora_rank,
        q_lora_rank=spec.q_lora_rank or None, qk_rope_head_dim=spec.rope_dim,
        qk_nope_head_dim=spec.nope_dim, v_head_dim=spec.v_head_dim, rope_interleave=False,
        attn_implementation="sdpa")
    return DeepseekV3ForCausalLM(config)


@torch.no_grad()
def reference_difference(spec: AttentionSpec, vocab_size: int, d_model: int, n_layers: int,
                         d_mlp: int, context: int, seed: int = 0) -> float | None:
    """Largest |logit difference| between our model and `reference_model` with the same weights
    (copied by name) on random tokens; None where transformers has no such variant."""
    ours = build_attention_lm(spec, vocab_size, d_model, n_layers, d_mlp, context, seed).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        theirs = reference_model(spec, vocab_size, d_model, n_layers, d_mlp, context)
    if theirs is None:
        return None
    theirs.eval().load_state_dict(ours.state_dict(), strict=False)
    missing = set(theirs.state_dict()) - set(ours.state_dict())
    if any("rotary" not in k for k in missing):
        raise KeyError(f"weights without a counterpart: {sorted(missing)}")
    ids = torch.randint(0, vocab_size, (2, context),
                        generator=torch.Generator().manual_seed(seed))  # (2, T)
    return float((ours(input_ids=ids).logits - theirs(input_ids=ids).logits).abs().max())
