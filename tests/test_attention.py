"""The attention variants against `transformers`' own Llama and DeepseekV3 at matching settings
(weights copied by name), their parameter and cache counts, cached decoding, and paired init."""

import pytest
import torch
from transformers import (
    DeepseekV3Config,
    DeepseekV3ForCausalLM,
    DynamicCache,
    LlamaConfig,
    LlamaForCausalLM,
)
from transformers.models.deepseek_v3.modeling_deepseek_v3 import (
    DeepseekV3Attention,
    DeepseekV3RotaryEmbedding,
)

from nblib.config import ConfigError
from nblib.models.attention import (
    AttentionSpec,
    LatentAttention,
    attention_modules,
    build_attention_lm,
    llama_config,
    reference_difference,
)

V, D, LAYERS, MLP, CTX = 97, 32, 2, 48, 16


def _ids(seed=0, batch=2, length=CTX):
    return torch.randint(0, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def _deepseek_config(spec: AttentionSpec) -> DeepseekV3Config:
    """Every layer dense, Llama's norm epsilon, rotate-half RoPE: DeepseekV3 at our settings."""
    return DeepseekV3Config(
        vocab_size=V, hidden_size=D, intermediate_size=MLP, moe_intermediate_size=MLP,
        num_hidden_layers=LAYERS, num_attention_heads=spec.n_heads,
        num_key_value_heads=spec.n_heads, n_routed_experts=4, n_shared_experts=1,
        num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=LAYERS,
        kv_lora_rank=spec.kv_lora_rank, q_lora_rank=spec.q_lora_rank or None,
        qk_rope_head_dim=spec.rope_dim, qk_nope_head_dim=spec.nope_dim,
        v_head_dim=spec.v_head_dim, rope_interleave=False, rms_norm_eps=1e-5,
        max_position_embeddings=CTX, tie_word_embeddings=True, attention_bias=False,
        attn_implementation="eager", bos_token_id=0, eos_token_id=0, pad_token_id=0)


MLA_SPECS = [AttentionSpec("latent", 4, 4, 12, 8, 4, kv_lora_rank=6),
             AttentionSpec("latent", 4, 4, 12, 8, 4, kv_lora_rank=6, q_lora_rank=10)]


@pytest.mark.parametrize("spec", MLA_SPECS, ids=["q_lora_off", "q_lora_on"])
def test_latent_attention_equals_deepseek_v3_attention(spec):
    config = _deepseek_config(spec)
    theirs = DeepseekV3Attention(config, layer_idx=0).eval()
    ours = LatentAttention(llama_config(spec, V, D, LAYERS, MLP, CTX), spec, 0).eval()
    ours.load_state_dict(theirs.state_dict())  # the same names and shapes, strict
    x = torch.randn(2, CTX, D, generator=torch.Generator().manual_seed(1))  # (B, T, d)
    pos = torch.arange(CTX)[None]
    cos_sin = DeepseekV3RotaryEmbedding(config)(x, pos)
    mask = torch.full((CTX, CTX), float("-inf")).triu(1)[None, None]  # causal, (1, 1, T, T)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, cos_sin, mask)[0], theirs(x, cos_sin, mask)[0])
    assert ours.scaling == pytest.approx(theirs.scaling) == spec.qk_head_dim ** -0.5


@pytest.mark.parametrize("spec", MLA_SPECS, ids=["q_lora_off", "q_lora_on"])
def test_mla_language_model_equals_dense_deepseek_v3(spec):
    """The whole model: embeddings, norms, SwiGLU, rotary frequencies and MLA as DeepseekV3's."""
    theirs = DeepseekV3ForCausalLM(_deepseek_config(spec)).eval()
    ours = build_attention_lm(spec, V, D, LAYERS, MLP, CTX).eval()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    ids = _ids()
    with torch.no_grad():
        torch.testing.assert_close(ours(input_ids=ids).logits, theirs(input_ids=ids).logits)


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["mha", "gqa", "mqa"])
def test_grouped_attention_equals_llama(kv_heads):
    spec = AttentionSpec("grouped", 4, kv_heads, 8, 8, 8)
    theirs = LlamaForCausalLM(LlamaConfig(
        vocab_size=V, hidden_size=D, intermediate_size=MLP, num_hidden_layers=LAYERS,
        num_attention_heads=4, num_key_value_heads=kv_heads, max_position_embeddings=CTX,
        rms_norm_eps=1e-5, tie_word_embeddings=True, attn_implementation="sdpa")).eval()
    ours = build_attention_lm(spec, V, D, LAYERS, MLP, CTX).eval()
    ours.load_state_dict(theirs.state_dict())
    ids = _ids()
    with torch.no_grad():
        torch.testing.assert_close(ours(input_ids=ids).logits, theirs(input_ids=ids).logits)



def test_counts_match_the_modules():
    for spec in [*MLA_SPECS, PLAIN_MLA, AttentionSpec("grouped", 4, 2, 12, 8, 4)]:
        model = build_attention_lm(spec, V, D, LAYERS, MLP, CTX)
        att = attention_modules(model)[0]
        assert sum(p.numel() for p in att.parameters()) == spec.params(D)
    assert AttentionSpec("grouped", 4, 4, 32, 32, 32).cache_per_token() == 256
    assert AttentionSpec("grouped", 4, 1, 32, 32, 32).cache_per_token() == 64
    assert AttentionSpec("latent", 4, 4, 48, 32, 16, kv_lora_rank=48).cache_per_token() == 64


PLAIN_MLA = AttentionSpec("latent", 4, 4, 12, 8, 4, kv_lora_rank=D, shared_rope=False,
                          latent_norm=False)  # the calibration MLA: MHA's function class


def test_plain_full_rank_mla_is_mha_with_factored_weights():
    """A full-rank MLA with a rope key per head and no latent norm computes MHA's function:
    W_DKV = I, W_UK / W_UV / W_KR = MHA's W_K nope rows / W_V / W_K rope rows."""
    mha_spec = AttentionSpec("grouped", 4, 4, 12, 8, 4)
    config = llama_config(mha_spec, V, D, LAYERS, MLP, CTX)
    mha = build_attention_lm(mha_spec, V, D, LAYERS, MLP, CTX).eval()
    ours = LatentAttention(config, PLAIN_MLA, 0).eval()
    grouped = attention_modules(mha)[0]
    wk = grouped.k_proj.weight.view(4, 12, D)  # (H, qk = nope | rope, d)
    wv = grouped.v_proj.weight.view(4, 8, D)  # (H, v, d)
    with torch.no_grad():
        ours.q_proj.weight.copy_(grouped.q_proj.weight)
        ours.o_proj.weight.copy_(grouped.o_proj.weight)
        ours.kv_a_proj_with_mqa.weight.copy_(torch.cat((torch.eye(D), wk[:, 8:].reshape(-1, D))))
        ours.kv_b_proj.weight.copy_(torch.cat((wk[:, :8], wv), 1).reshape(-1, D))
        x = torch.randn(2, CTX, D, generator=torch.Generator().manual_seed(1))  # (B, T, d)
        cos_sin = mha.model.rotary_emb(x, torch.arange(CTX)[None])
        mask = torch.full((CTX, CTX), float("-inf")).triu(1)[None, None]  # (1, 1, T, T)
        torch.testing.assert_close(ours(x, cos_sin, mask)[0], grouped(x, cos_sin, mask)[0])
    assert PLAIN_MLA.cache_per_token() == D + 4 * 4
    assert reference_difference(PLAIN_MLA, V, D, LAYERS, MLP, CTX) is None


def test_mla_without_latent_norm_starts_at_mha_scale():
    """The scale-preserving W_DKV: keys of the plain MLA start at MHA's RMS (not 0.02·√d
    smaller), within sampling noise."""
    mha_spec = AttentionSpec("grouped", 4, 4, 12, 8, 4)
    mha = attention_modules(build_attention_lm(mha_spec, V, D, 1, MLP, CTX, seed=2))[0]
    mla = attention_modules(build_attention_lm(PLAIN_MLA, V, D, 1, MLP, CTX, seed=2))[0]
    x = torch.randn(512, D, generator=torch.Generator().manual_seed(3))  # unit-RMS inputs
    with torch.no_grad():
        k_mha = mha.k_proj(x).view(512, 4, 12)[..., :8]  # nope part (N, H, 8)
        k_mla = mla.kv_b_proj(mla.latent(x)[0]).view(512, 4, 16)[..., :8]
    ratio = float(k_mla.pow(2).mean().sqrt() / k_mha.pow(2).mean().sqrt())
    assert 0.7 < ratio < 1.4, ratio


@pytest.mark.parametrize("spec", [AttentionSpec("grouped", 4, 2, 12, 8, 4), MLA_SPECS[1],
                                  PLAIN_MLA], ids=["gqa_partial_rope", "mla", "mla_plain"])
def test_cached_decoding_equals_the_full_forward(spec):
    """Token-by-token with a DynamicCache (MLA caches its latent) gives the full pass's logits."""
    model = build_attention_lm(spec, V, D, LAYERS, MLP, CTX).eval()
    ids = _ids(length=10)
    with torch.no_grad():
        full = model(input_ids=ids).logits  # (B, T, V)
        cache = DynamicCache(config=model.config)
        out = model(input_ids=ids[:, :6], cache=cache, use_cache=True).logits
        steps = [out]
        for t in range(6, 10):
            steps.append(model(input_ids=ids[:, t:t + 1], cache=cache,
                               use_cache=True).logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-4)
    layer = cache.layers[0]
    assert layer.keys.shape[1] * layer.keys.shape[-1] + layer.values.shape[1] * \
        layer.values.shape[-1] == spec.cache_per_token()


def test_one_seed_gives_variants_the_same_shared_weights():
    a = build_attention_lm(AttentionSpec("grouped", 4, 4, 8, 8, 8), V, D, LAYERS, MLP, CTX, 3)
    b = build_attention_lm(MLA_SPECS[0], V, D, LAYERS, MLP, CTX, 3)
    c = build_attention_lm(MLA_SPECS[0], V, D, LAYERS, MLP, CTX, 4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    for name in ("model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight",
                 "model.layers.1.self_attn.o_proj.weight"):
        if sa[name].shape == sb[name].shape:
            assert torch.equal(sa[name], sb[name]), name
        assert not torch.equal(sb[name], sc[name]), name


def test_bad_specs_are_refused():
    with pytest.raises(ConfigError, match="rope_dim"):
        AttentionSpec("grouped", 4, 4, 8, 8, 10).check(D)
    with pytest.raises(ConfigError, match="n_kv_heads"):
        AttentionSpec("grouped", 4, 3, 8, 8, 8).check(D)
    with pytest.raises(ConfigError, match="kv_lora_rank"):
        AttentionSpec("latent", 4, 4, 8, 8, 4).check(D)


@pytest.mark.parametrize("spec", [AttentionSpec("grouped", 4, 2, 8, 8, 8), *MLA_SPECS,
                                  AttentionSpec("grouped", 4, 4, 12, 8, 4)],
                         ids=["gqa", "mla", "mla_q", "partial_rope_has_none"])
def test_reference_difference(spec):
    diff = reference_difference(spec, V, D, LAYERS, MLP, CTX)
    if spec.rope_dim < spec.qk_head_dim and spec.kind == "grouped":
        assert diff is None
    else:
        assert diff < 1e-5


def test_reference_difference_sees_a_changed_weight():
    """The check can fail: a perturbed copy is caught."""
    spec = MLA_SPECS[0]
    ours = build_attention_lm(spec, V, D, LAYERS, MLP, CTX).eval()
    theirs = DeepseekV3ForCausalLM(_deepseek_config(spec)).eval()
    theirs.load_state_dict(ours.state_dict(), strict=False)
    with torch.no_grad():
        theirs.model.layers[0].self_attn.kv_a_layernorm.weight.add_(0.1)
        ids = _ids()
        assert (ours(input_ids=ids).logits - theirs(input_ids=ids).logits).abs().max() > 1e-3
