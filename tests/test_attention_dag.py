"""nblib.eval.attention_dag: sentence attention mass, the length baseline and lift, the sink
dropped, and the threshold rule on hand-built matrices; one real pass of the packaged SmolLM2 on
a short document, with bad input refused before the model runs."""

import numpy as np
import pytest
import torch

from nblib.data.sentences import Sentence
from nblib.eval.attention_dag import (
    attention_dag,
    attention_lift,
    check_threshold,
    dag_from_lift,
    fit_to_tokens,
    length_baseline,
    recency_adjusted,
    sentence_attention,
    sentence_mass,
    token_sentence_index,
)
from nblib.models.pretrained import load_pretrained

DOCUMENT = ("The committee met on Monday. It approved the budget after a long debate. "
            "The mayor, who had opposed it, then resigned.\n\nHer deputy will serve until the "
            "election in May.")


def with_sink(document_attention: torch.Tensor, sink: torch.Tensor) -> torch.Tensor:
    """(T+1, T+1): the sink at position 0 takes share sink[t] of query t's attention."""
    n = len(document_attention)
    full = torch.zeros(n + 1, n + 1, dtype=torch.float64)
    full[0, 0], full[1:, 0] = 1.0, sink
    full[1:, 1:] = (1 - sink)[:, None] * document_attention
    return full


# 3 tokens: two in sentence 0, one in sentence 1; causal rows over the document
TOKENS = np.array([0, 0, 1])
ATTENTION = torch.tensor([[1.0, 0, 0], [0.5, 0.5, 0], [0.6, 0, 0.4]], dtype=torch.float64)


def test_mass_and_baseline_by_hand_with_the_sink_dropped():
    for sink in (torch.full((3,), 0.1), torch.tensor([0.99, 0.5, 0.9])):
        mass, sink_share = sentence_mass(with_sink(ATTENTION, sink), TOKENS)
        np.testing.assert_allclose(mass, [[1.0, 0.0], [0.6, 0.4]], atol=1e-12)  # sink-free
        assert sink_share == pytest.approx(float(sink.mean()))
    baseline = length_baseline(TOKENS)  # token 2 sees 3 tokens, 2 of them in sentence 0
    np.testing.assert_allclose(baseline, [[1.0, 0.0], [2 / 3, 1 / 3]], atol=1e-12)
    lift = attention_lift(mass, baseline)
    assert lift[1, 0] == pytest.approx(0.9) and lift[1, 1] == pytest.approx(1.2)
    assert np.isnan(lift[0, 1])


def test_a_uniform_reader_has_lift_one_and_no_edges():
    tokens = np.array([0, 0, 0, 1, 2, 2, 2, 2, 3, 3])  # unequal lengths
    n = len(tokens)
    uniform = torch.tril(torch.ones(n, n, dtype=torch.float64))
    uniform /= uniform.sum(1, keepdim=True)
    mass, _ = sentence_mass(with_sink(uniform, torch.linspace(0.2, 0.9, n)), tokens)
    np.testing.assert_allclose(mass.sum(1), 1.0, atol=1e-12)
    assert np.allclose(np.triu(mass, 1), 0.0)
    lift = attention_lift(mass, length_baseline(tokens))
    np.testing.assert_allclose(lift[np.tril_indices(4)], 1.0, atol=1e-12)
    assert dag_from_lift(lift, 1.01).edges == ()


def test_a_sentence_read_twice_its_share_is_an_edge_and_the_sink_is_no_edge():
    """Sentence 2 reads only sentence 0; a huge sink column must not make anything an edge."""
    tokens = np.array([0, 0, 1, 1, 2, 2])
    attention = torch.tril(torch.ones(6, 6, dtype=torch.float64))
    attention[4:, 2:4] = 0  # sentence 2 skips sentence 1
    attention /= attention.sum(1, keepdim=True)
    mass, _ = sentence_mass(with_sink(attention, torch.full((6,), 0.95)), tokens)
    dag = dag_from_lift(attention_lift(mass, length_baseline(tokens)), 1.2)
    assert dag.edges == ((0, 2),) and dag.n == 3


def test_threshold_rule_is_strict_and_reads_only_below_the_diagonal():
    lift = np.full((4, 4), 99.0)  # the diagonal and above are ignored
    lift[np.tril_indices(4, -1)] = 0.5
    lift[1, 0], lift[2, 1], lift[3, 0] = 3.0, 2.0, 2.5
    assert dag_from_lift(lift, 2.0).edges == ((0, 1), (0, 3))
    dag = dag_from_lift(lift, 1.9)
    assert dag.edges == ((0, 1), (0, 3), (1, 2))
    assert dag.constraints == ((0, 1), (0, 2), (0, 3), (1, 2))  # 0 -> 1 -> 2 implies 0 -> 2
    assert dag_from_lift(lift, 50.0).edges == ()


def test_recency_adjustment_removes_a_pure_distance_effect():
    lift = np.ones((5, 5))
    lift[np.arange(1, 5), np.arange(4)] = 3.0  # the sentence just before is read 3x
    assert len(dag_from_lift(lift, 1.5).edges) == 4
    assert dag_from_lift(recency_adjusted(lift), 1.5).edges == ()


@pytest.mark.parametrize("threshold", [0, -1.0, float("nan"), float("inf"), "2", True, None])
def test_bad_thresholds_are_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        check_threshold(threshold)
    with pytest.raises(ValueError, match="threshold"):
        dag_from_lift(np.ones((2, 2)), threshold)


def test_tokens_go_to_the_sentence_of_their_last_character():
    # "Hi there.\n Bye now.": tokens "Hi", " there", ".", "\n", " Bye", " now", "."
    sentences = [Sentence("Hi there.", 0, 9), Sentence("Bye now.", 11, 19)]
    offsets = [(0, 2), (2, 8), (8, 9), (9, 10), (10, 14), (14, 18), (18, 19)]
    assert token_sentence_index(offsets, sentences).tolist() == [0, 0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="own no token"):
        token_sentence_index([(0, 19)], sentences)


@pytest.fixture(scope="module")
def smol():
    return load_pretrained()


@pytest.fixture(scope="module")
def result(smol):
    return sentence_attention(smol, DOCUMENT)


def test_real_model_mass_is_a_distribution_over_earlier_sentences(smol, result):
    n = len(result.sentences)
    assert n == 4 and all(DOCUMENT[s.start:s.end] == s.text for s in result.sentences)
    n_tokens = len(smol.tokenizer(DOCUMENT, add_special_tokens=False)["input_ids"])
    assert result.token_sentence.shape == (n_tokens,)
    assert sorted(set(result.token_sentence.tolist())) == list(range(n))  # every sentence owns
    assert (np.diff(result.token_sentence) >= 0).all()  # tokens in order
    for matrix in (result.mass, result.baseline, result.lift):
        assert matrix.shape == (n, n)
    np.testing.assert_allclose(result.mass.sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(result.baseline.sum(1), 1.0, atol=1e-9)
    assert np.allclose(np.triu(result.mass, 1), 0.0) and (result.mass >= 0).all()
    below = np.tril_indices(n)
    assert np.isfinite(result.lift[below]).all()
    assert np.isnan(result.lift[np.triu_indices(n, 1)]).all()
    assert 0 < result.sink_share < 1 and result.layers == tuple(range(30))
    assert smol.model.config._attn_implementation == "sdpa"  # eager only during the pass
    dag = dag_from_lift(result.lift, 1.0)
    assert dag.n == n and all(j < i for j, i in dag.edges)


def test_bad_input_is_refused_before_the_model_runs(smol):
    calls = []
    hook = smol.model.register_forward_pre_hook(lambda module, args: calls.append(1))
    implementation = smol.model.config._attn_implementation
    try:
        with pytest.raises(ValueError, match="over max_tokens=10"):
            sentence_attention(smol, DOCUMENT, max_tokens=10)
        with pytest.raises(ValueError, match="context is 8192"):
            sentence_attention(smol, DOCUMENT, max_tokens=10_000)
        with pytest.raises(ValueError, match="empty"):
            sentence_attention(smol, " \n ")
        with pytest.raises(ValueError, match="layers"):
            sentence_attention(smol, DOCUMENT, layers=[30])
        with pytest.raises(ValueError, match="threshold"):
            attention_dag(smol, DOCUMENT, threshold=0.0)
    finally:
        hook.remove()
    assert calls == [] and smol.model.config._attn_implementation == implementation


def test_fit_to_tokens_keeps_whole_leading_sentences(smol):
    prefix = fit_to_tokens(DOCUMENT, smol.tokenizer, max_tokens=20)
    assert prefix == "The committee met on Monday. It approved the budget after a long debate."
    assert len(smol.tokenizer(prefix, add_special_tokens=False)["input_ids"]) <= 20
    assert fit_to_tokens(DOCUMENT, smol.tokenizer, max_tokens=512) == DOCUMENT


def test_relative_to_document_puts_the_mean_cross_sentence_lift_at_one():
    from nblib.eval.attention_dag import relative_to_document

    lift = np.array([[1.0, np.nan, np.nan], [0.5, 2.0, np.nan], [0.25, 0.75, 3.0]])
    rel = relative_to_document(lift)
    below = np.tril(np.ones((3, 3), bool), -1)
    assert np.mean(rel[below]) == pytest.approx(1.0)
    assert rel[2, 1] == pytest.approx(0.75 / 0.5) and np.diag(rel).tolist() == [1.0, 2.0, 3.0]
