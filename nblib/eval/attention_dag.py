"""A sentence dependency DAG read from a pretrained LM's attention: one forward pass over a
document, attention aggregated from tokens to sentences, normalised for sentence length, and
thresholded into edges j -> i ("sentence i depends on the earlier sentence j").

Sentences come from pysbd (`data.sentences`), and each token is mapped to the sentence holding its
last character (the tokenizer's offset mapping), so the DAG does not depend on the tokenizer's
notion of a sentence. Whitespace between two sentences belongs to the one before it.

What is computed, exactly (T document tokens, S sentences, causal attention):
1. Sink. A sink token (the tokenizer's BOS, `<|im_start|>` for SmolLM2) is put before the
   document at position 0. Attention heads park most of their mass on the first token (an
   attention sink, Xiao et al. 2023, arXiv 2309.17453); there it lands on a token that belongs to
   no sentence, instead of inflating sentence 0. Its column is then dropped. (SmolLM2, a 503-token
   sotu excerpt: the sink takes 33% of all attention; the first document token then draws
   no more than a uniform share, so nothing else is dropped.)
2. Token attention. A forward hook on every self-attention module sums the weights over heads and
   over the chosen layers into one (T+1, T+1) matrix, so memory stays O(T^2), not O(L H T^2).
   After dropping the sink column each query row is renormalised to sum to 1 over the document
   tokens: a head-and-layer mean weighted by the mass each head spends off the sink.
3. Mass. mass[i, j] = mean over the query tokens t of sentence i of the renormalised attention
   from t to the tokens of sentence j; rows sum to 1 over j <= i, and mass[i, j] = 0 for j > i.
4. Baseline. A query token t sees t + 1 document tokens (itself and those before it; the sink is
   not counted). A head attending uniformly would give sentence j the share of them it holds:
   baseline[i, j] = mean over t in sentence i of (#tokens of j at positions <= t) / (t + 1).
   Rows sum to 1 too. It removes the length effect (long sentences draw more mass), not recency.
5. Lift. lift[i, j] = mass[i, j] / baseline[i, j] for j <= i (NaN above the diagonal): 1 is
   "the share a uniform reader would give", 2 is twice that. `recency_adjusted` optionally
   divides it by the document's median lift at the same distance i - j. Short sentences
   (a 3-token "The President.") have tiny baselines, so their lift is large and noisy.
6. DAG. An edge j -> i for every j < i with lift[i, j] > threshold (strictly); the diagonal is
   ignored. The implied ordering constraints are the edges' transitive closure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nblib.data.sentences import Sentence, split_sentences
from nblib.data.toposort import Edge, transitive_closure

MAX_TOKENS = 512  # document tokens (the sink not counted) one call accepts by default


@dataclass(frozen=True)
class SentenceAttention:
    """Attention aggregated from tokens to sentences for one document."""

    sentences: list[Sentence]
    token_sentence: np.ndarray  # (T,) sentence index of each document token
    mass: np.ndarray  # (S, S) rows sum to 1 over j <= i
    baseline: np.ndarray  # (S, S) length-proportional share, rows sum to 1
    lift: np.ndarray  # (S, S) mass / baseline, NaN above the diagonal
    sink_share: float  # mean share of attention (over tokens, heads, layers) that went to the sink
    layers: tuple[int, ...]  # the layers averaged


@dataclass(frozen=True)
class SentenceDAG:
    """Edges j -> i (j < i: sentence i depends on sentence j) and every order they imply."""

    n: int  # sentences
    threshold: float  # an edge needs lift > threshold
    edges: tuple[Edge, ...]  # (j, i), sorted
    constraints: tuple[Edge, ...]  # the transitive closure: j must precede i


def check_threshold(threshold: float) -> float:
    """The lift threshold as a float; a ValueError unless it is finite and > 0."""
    ok = isinstance(threshold, int | float | np.floating) and not isinstance(threshold, bool)
    if not ok or not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold={threshold!r}: a lift threshold must be a finite number > 0 "
                         "(1 = a length-proportional share of attention; 2-4 are strong)")
    return float(threshold)


def token_sentence_index(offsets: list[tuple[int, int]], sentences: list[Sentence]) -> np.ndarray:
    """The sentence of each token (T,): the one holding its last character; whitespace between
    sentences goes to the sentence before it, leading whitespace to the first sentence."""
    starts = np.array([s.start for s in sentences])  # (S,)
    last_chars = np.array([max(a, b - 1) for a, b in offsets])  # (T,)
    index = np.clip(np.searchsorted(starts, last_chars, side="right") - 1, 0, None)
    empty = sorted(set(range(len(sentences))) - set(index.tolist()))
    if empty:
        raise ValueError(f"sentences {empty} own no token (a token spans their boundary): "
                         f"{sentences[empty[0]].text[:60]!r}")
    return index


def sentence_mass(token_attention: torch.Tensor, token_sentence: np.ndarray
                  ) -> tuple[np.ndarray, float]:
    """(mass (S, S), sink share) from token attention (T+1, T+1) whose position 0 is the sink:
    the sink column is dropped, rows renormalised over the document, then averaged per sentence."""
    attention = token_attention.double()  # (T+1, T+1) query x key, causal
    if attention.shape != (len(token_sentence) + 1,) * 2:
        raise ValueError(f"token attention {tuple(attention.shape)} must be (T+1, T+1) for "
                         f"T={len(token_sentence)} tokens after the sink")
    totals = attention[1:].sum(1)  # (T,)
    sink_share = float((attention[1:, 0] / totals).mean())
    document = attention[1:, 1:]  # (T, T)
    row_sums = document.sum(1, keepdim=True)  # (T, 1)
    if (row_sums <= 0).any():
        raise ValueError("a token attends only to the sink; its row cannot be renormalised")
    document = document / row_sums
    one_hot = _one_hot(token_sentence)  # (T, S)
    per_token = document @ one_hot  # (T, S) share of each sentence, per query token
    mass = (one_hot.T @ per_token) / one_hot.sum(0)[:, None]  # (S, S)
    return mass.numpy(), sink_share


def length_baseline(token_sentence: np.ndarray) -> np.ndarray:
    """(S, S): the mean over the tokens t of sentence i of the share of the t + 1 visible document
    tokens that sentence j holds (what a uniformly attending head would give j)."""
    one_hot = _one_hot(token_sentence)  # (T, S)
    visible = torch.arange(1, len(token_sentence) + 1, dtype=torch.float64)[:, None]  # (T, 1)
    share = one_hot.cumsum(0) / visible  # (T, S)
    return ((one_hot.T @ share) / one_hot.sum(0)[:, None]).numpy()  # (S, S)


def attention_lift(mass: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """mass / baseline where the baseline is > 0 (j <= i), NaN elsewhere; (S, S)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, mass / np.where(baseline > 0, baseline, 1.0), np.nan)


def recency_adjusted(lift: np.ndarray) -> np.ndarray:
    """lift[i, j] / (the median lift at the same distance i - j in this document), j < i: an
    optional second normalisation, for recency (the sentence just before draws ~2x its share).
    The diagonal and above stay as they are."""
    lift = np.array(lift, dtype=float)  # (S, S), a copy
    for distance in range(1, len(lift)):
        rows = np.arange(distance, len(lift))  # (S - distance,)
        typical = np.median(lift[rows, rows - distance])
        if typical > 0:
            lift[rows, rows - distance] /= typical
    return lift


def relative_to_document(lift: np.ndarray) -> np.ndarray:
    """lift / (the mean lift from a sentence to an earlier one in this document), j < i: 1 is
    a typical cross-sentence dependency of this document, 1.5 half as strong again. Tokens attend
    mostly within their own sentence, so the raw lift of an earlier sentence is usually below 1;
    this puts every document's cross-sentence lifts on one scale. The diagonal and above stay."""
    lift = np.array(lift, dtype=float)  # (S, S), a copy
    below = np.tril(np.ones_like(lift, dtype=bool), -1)
    if below.any():
        lift[below] /= np.mean(lift[below])
    return lift


def dag_from_lift(lift: np.ndarray, threshold: float) -> SentenceDAG:
    """Edges j -> i for j < i with lift[i, j] > threshold, and their transitive closure."""
    threshold = check_threshold(threshold)
    lift = np.asarray(lift, dtype=float)
    if lift.ndim != 2 or lift.shape[0] != lift.shape[1]:
        raise ValueError(f"lift {lift.shape} must be a square (S, S) matrix")
    n = lift.shape[0]
    edges = tuple((j, i) for i in range(n) for j in range(i) if lift[i, j] > threshold)
    edges = tuple(sorted(edges))
    return SentenceDAG(n, threshold, edges, transitive_closure(n, edges))


def _one_hot(token_sentence: np.ndarray) -> torch.Tensor:
    index = torch.as_tensor(np.asarray(token_sentence), dtype=torch.long)  # (T,)
    return torch.nn.functional.one_hot(index, int(index.max()) + 1).double()  # (T, S)


def _attention_modules(model) -> list[torch.nn.Module]:
    return [m for name, m in model.named_modules() if name.endswith("self_attn")]


def _sink_id(tokenizer) -> int:
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ValueError("the tokenizer has neither a BOS nor an EOS token to serve as the sink")


def fit_to_tokens(text: str, tokenizer, max_tokens: int = MAX_TOKENS) -> str:
    """The longest prefix of whole sentences of `text` that is at most `max_tokens` tokens."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = offsets["offset_mapping"]
    if len(offsets) <= max_tokens:
        return text
    sentences = split_sentences(text[:offsets[max_tokens][0]])[:-1]  # the last may be cut
    while sentences:
        prefix = text[:sentences[-1].end]
        if len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) <= max_tokens:
            return prefix
        sentences.pop()
    raise ValueError(f"the first sentence of the text is longer than {max_tokens} tokens")


def prepare_document(tokenizer, text: str, max_tokens: int = MAX_TOKENS,
                     context: int | None = None, sentences: list[Sentence] | None = None
                     ) -> tuple[list[Sentence], list[int], np.ndarray]:
    """(sentences, input ids with the sink first (T+1,), token -> sentence (T,)), or a ValueError
    for an empty text or one over `max_tokens` (or over the model's `context`), before compute.
    `sentences` with spans into `text` replace pysbd's split (a document whose sentences are
    known, e.g. a generated one)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the document is empty: nothing to split into sentences")
    if context is not None and max_tokens + 1 > context:
        raise ValueError(f"max_tokens={max_tokens}: the model's context is {context} positions, "
                         f"one of them the sink; use max_tokens <= {context - 1}")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    n_tokens = len(encoded["input_ids"])
    if n_tokens > max_tokens:
        raise ValueError(f"the document is {n_tokens} tokens, over max_tokens={max_tokens}: cut "
                         "it to whole sentences first (attention_dag.fit_to_tokens)")
    sentences = split_sentences(text) if sentences is None else list(sentences)
    token_sentence = token_sentence_index(encoded["offset_mapping"], sentences)
    return sentences, [_sink_id(tokenizer)] + list(encoded["input_ids"]), token_sentence


@torch.no_grad()
def sentence_attention(pretrained, text: str, layers: list[int] | None = None,
                       max_tokens: int = MAX_TOKENS,
                       sentences: list[Sentence] | None = None) -> SentenceAttention:
    """Prefill `text` once with `pretrained` (a `models.pretrained.Pretrained`) and aggregate its
    attention to sentences (mass, baseline, lift; see the module docstring). `layers`: the layer
    indices to average (all by default); `sentences`: known sentence spans (default: pysbd's).
    Bad input is refused before the forward pass."""
    model, tokenizer = pretrained.model, pretrained.tokenizer
    modules = _attention_modules(model)
    chosen = tuple(range(len(modules))) if layers is None else tuple(int(k) for k in layers)
    if not chosen or any(not 0 <= k < len(modules) for k in chosen):
        raise ValueError(f"layers={layers!r}: pick layer indices in 0..{len(modules) - 1}")
    context = getattr(model.config, "max_position_embeddings", None)
    sentences, input_ids, token_sentence = prepare_document(tokenizer, text, max_tokens, context,
                                                            sentences)
    summed = torch.zeros(len(input_ids), len(input_ids), dtype=torch.float64)  # (T+1, T+1)

    def add_weights(module, args, output):
        weights = output[1]  # (1, H, T+1, T+1), softmax over keys
        summed.add_(weights[0].sum(0).double().cpu())

    hooks = [modules[k].register_forward_hook(add_weights) for k in chosen]
    before, was_training = model.config._attn_implementation, model.training
    model.config._attn_implementation = "eager"  # sdpa returns no weights
    model.eval()
    try:
        device = next(model.parameters()).device
        model(input_ids=torch.tensor([input_ids], device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.config._attn_implementation = before
        model.train(was_training)
    mass, sink_share = sentence_mass(summed, token_sentence)
    baseline = length_baseline(token_sentence)
    return SentenceAttention(sentences, token_sentence, mass, baseline,
                             attention_lift(mass, baseline), sink_share, chosen)


def attention_dag(pretrained, text: str, threshold: float, layers: list[int] | None = None,
                  max_tokens: int = MAX_TOKENS) -> tuple[SentenceAttention, SentenceDAG]:
    """`sentence_attention` then `dag_from_lift`; the threshold is checked before compute."""
    check_threshold(threshold)
    attention = sentence_attention(pretrained, text, layers, max_tokens)
    return attention, dag_from_lift(attention.lift, threshold)
