import numpy as np
import pytest
import torch

from nblib.config import ConfigError, build
from nblib.data.tasks.ledger import Problem
from nblib.data.tasks.needle import Condition, context_sentences, reply_prefix
from nblib.experiments import context_editing as ce
from nblib.experiments.context_editing import editors as ed
from nblib.experiments.context_editing import rot

from .conftest import TINY


def test_jobs_are_the_needle_chunks_then_the_seeds(cfg):
    assert ce.jobs(cfg) == [{"part": "rot", "chunk": 0}, {"part": "edit", "seed": 0},
                            {"part": "edit", "seed": 1}]
    no_rot = build(ce.ContextEditingConfig, {**TINY, "rot_items": 0})
    assert [j["part"] for j in ce.jobs(no_rot)] == ["edit", "edit"]


@pytest.mark.parametrize("change,match", [
    ({"budgets": [2, 7]}, "exceeds the 6 lines of a ledger"),
    ({"budgets": [1, 3]}, "must keep at least the 2 relevant lines"),
    ({"budgets": [3, 2]}, "distinct and increasing"),
    ({"rot_curve": [0, 5]}, r"more distractors \(5\) than max_distractors=4"),
    ({"rot_lengths": [64, 32]}, "distinct and increasing"),
    ({"rot_chunks": 3}, "more chunks than rot_items=2"),
    ({"warmup_steps": 30}, "warmup_steps"),
    ({"d_model": 17}, "divisible by n_heads"),
])
def test_bad_config_fails_before_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(ce.ContextEditingConfig, {**TINY, **change}).check()


def test_line_credit_of_hand_made_edits():
    masks = torch.tensor([[[1, 0], [1, 1], [0, 1], [0, 0]]], dtype=torch.bool)  # (1, 4, 2)
    scores = torch.tensor([[-1.0, -2.0, -5.0, -6.0]])
    credit, defined = ed.line_credit(masks, scores)
    # line 1 kept in edits 1, 2 (mean −1.5), dropped in 3, 4 (−5.5); line 2: −3.5 vs −3.5
    assert credit.tolist() == [[4.0, 0.0]] and defined.all()
    credit, defined = ed.line_credit(masks[:, :2], scores[:, :2])
    assert defined.tolist() == [[False, True]]  # line 1 never dropped: no credit


def test_edited_ledgers_keep_their_original_answers():
    p = Problem(((0, 0, 3), (0, 0, 4), (1, 0, 2)), 0, 0)
    masks = torch.tensor([[[True, False, True], [True, True, False]]])
    kept, truth = ed.edited([p], masks)
    assert [len(k.lines) for k in kept] == [2, 2] and truth == [7, 7]
    assert kept[0].answer == 3  # what the edited ledger alone would sum to


def test_top_k_keeps_exactly_k_and_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    assert ed.top_k(np.array([0.1, 0.9, 0.5]), 2, rng) == [False, True, True]
    picks = {tuple(ed.top_k(np.ones(4), 1, rng)) for _ in range(50)}
    assert len(picks) == 4


def test_the_editor_scores_every_line_of_every_ledger():
    task = ce.ContextEditingConfig(interactive=False).task()
    problems = task.problems(5, np.random.default_rng(0))
    editor = ed.LineEditor(8, seed=0)
    score, real = editor(problems)
    assert score.shape == real.shape == (5, max(len(p.lines) for p in problems))
    assert real.sum() == sum(len(p.lines) for p in problems)
    assert (score[~real] == 0).all()
    features = ed.LineEditor.features(problems[:1])
    assert features.shape == (len(problems[0].lines), ed.FEATURES)
    assert (features.sum(1) == 5).all()  # five one-hot groups


def test_the_tiny_run_has_every_policy_budget_and_condition(tiny):
    cfg, res = tiny
    assert len(res.rot) == cfg.rot_items * len(rot.conditions(cfg))
    p = res.policies
    for seed in cfg.seed_list:
        got = set(zip(p[p.seed == seed].policy, p[p.seed == seed].budget, strict=True))
        want = {("full", "all")} | {(q, str(k)) for q in ce.POLICIES[1:] for k in cfg.budgets}
        assert got == want | {("supervised", "own"), ("rl", "own")}
    assert res.queries["supervised"] == res.queries["rl"] == (
        cfg.editor_steps * cfg.editor_batch * cfg.edits_per_ledger)
    assert set(res.curve.distractors) == set(cfg.rot_curve)


def test_a_rerun_reads_the_record_back(tiny):
    cfg, res = tiny
    again = ce.run_all(cfg)
    assert again.policies.equals(res.policies) and again.rot.equals(res.rot)


def test_the_scorer_agrees_with_greedy_decoding(cfg):
    """`correct` (teacher-forced argmax) must equal what greedy generation writes."""
    scorer, checked = rot.Scorer(cfg.rot_model), 0
    for item in rot.items(cfg):
        for c in (Condition(32, 0), Condition(32, 2)):
            sentences = context_sentences(item, c, rot.speech_sentences(item.speech),
                                          scorer.n_tokens)
            got = scorer.score(item, sentences)
            ids = scorer.prompt_ids(item, sentences)[:-4]  # without the code
            out = scorer.model.generate(ids[None], max_new_tokens=5, do_sample=False)
            text = scorer.tokenizer.decode(out[0, len(ids):])
            written = "".join(ch for ch in text[:5] if ch.isdigit())
            assert got["correct"] == (written == item.code and not text[4:5].isdigit())
            assert got["logp"] <= 0 and reply_prefix(item) in scorer.tokenizer.decode(ids)
            checked += 1
    assert checked == 2 * cfg.rot_items


def test_needles_come_from_speeches_long_enough_for_the_longest_haystack(cfg):
    from nblib.config import replace

    long = replace(cfg, rot_items=40, rot_lengths=[32, 4096])
    words = [len(rot.speeches()[item.speech].split()) for item in rot.items(long)]
    assert min(words) >= 4096
    assert rot.long_enough(0) == list(range(len(rot.speeches())))  # default: every speech
    with pytest.raises(ConfigError, match="no speech has"):
        rot.items(replace(cfg, rot_lengths=[32, 10**6]))
