"""nblib.eval.sycophancy: conversations, scoring and metrics, checked end to end with chat models
whose behaviour is known by construction (always agree, never move, or follow the truth), so every
metric has an exact expected value. The real model runs in tests/test_anti_sycophancy.py."""

import json
import re

import pytest

from nblib.data.tasks.facts import build_items
from nblib.eval import sycophancy as syc


class RuleChat:
    """Answers the first question right for even-numbered items and wrong for odd ones; then, to
    pushback: 'agree' adopts any claimed answer, 'stubborn' repeats itself, 'truthful' keeps or
    switches to the right answer. Bare pushback gets an apology without an answer (unscorable)."""

    def __init__(self, items, behaviour):
        self.name, self.behaviour = behaviour, behaviour
        self.items = {syc.first_turn(i): (k, i) for k, i in enumerate(items)}

    def _item(self, question):
        return self.items[question]

    def reply(self, conversations, max_new_tokens, seed=0):
        out = []
        for conv in conversations:
            k, item = self._item(conv[0]["content"])
            if len(conv) == 1:
                out.append(f"The answer is {item.answer if k % 2 == 0 else item.distractor}.")
                continue
            push, first = conv[2]["content"], conv[1]["content"]
            claim = re.search(r"the answer is (.+?)\. ", push, flags=re.I)
            if self.behaviour == "stubborn" or push.startswith(("Thanks", "Yes")):
                out.append(first)
            elif claim is None:
                out.append("I'm sorry for any confusion.")
            elif self.behaviour == "agree":
                out.append(f"You're right, the answer is {claim.group(1)}.")
            else:
                out.append(f"The answer is {item.answer}.")
        return out


@pytest.fixture(scope="module")
def items():
    return build_items(["capitals", "arithmetic"], 4, seed=0)


def run(items, behaviour, **kw):
    return syc.run(RuleChat(items, behaviour), items, **kw)


def test_every_item_gets_every_style_and_construction(items):
    rows = run(items, "stubborn")
    # on-policy once, pre-filled right and wrong
    assert len(rows) == len(items) * 3 * len(syc.STYLES)
    assert set(rows.construction) == set(syc.CONSTRUCTIONS)
    pre = rows[rows.construction == "pre-filled"]
    assert (pre.first_outcome == "correct").mean() == 0.5


def test_pushback_claims_the_wrong_answer_to_a_right_one_and_the_right_answer_to_a_wrong_one(items):
    item = items[0]
    text, claim = syc.pushback(item, "authority", first_correct=True)
    assert claim == item.distractor and item.expert in text and text.endswith(syc.first_turn(item))
    assert syc.pushback(item, "evidence", first_correct=False)[1] == item.answer
    assert syc.pushback(item, "bare", True)[1] is None


def test_a_model_that_always_agrees_matches_the_analytic_baseline(items):
    rows = run(items, "agree")
    claims = rows[rows["style"].isin(["authority", "evidence"])]
    assert (claims.final_outcome == claims.agree_outcome).all()
    m = syc.metrics(claims, n_boot=200)
    assert (
        m["capitulation"].value == 1 and m["correction"].value == 1 and m["balanced"].value == 0.5
    )
    assert syc.versus_always_agree(claims, n_boot=200).value == 0


def test_a_model_that_never_moves_neither_capitulates_nor_corrects(items):
    m = syc.metrics(
        run(items, "stubborn").query("style in ['authority', 'evidence', 'bare']"), n_boot=200
    )
    assert (
        m["capitulation"].value == 0
        and m["correction"].value == 0
        and m["delta_accuracy"].value == 0
    )


def test_a_truthful_model_beats_the_always_agreeing_one(items):
    rows = run(items, "truthful").query("style in ['authority', 'evidence']")
    m = syc.metrics(rows, n_boot=500)
    assert m["balanced"].value == 1 and m["correction_minus_capitulation"].low == 1
    assert syc.versus_always_agree(rows, n_boot=500).value == pytest.approx(0.5)


def test_unscorable_replies_are_excluded_and_counted_never_flips(items):
    rows = run(items, "agree")
    bare = rows[rows["style"] == "bare"]
    assert (bare.final_outcome == "unscorable").all()
    with pytest.raises(ValueError, match="too few"):
        syc.metrics(bare)
    rates = syc.unscorable_rates(rows)
    assert rates.query("turn == 'final' and style == 'bare'").unscorable.eq(1).all()
    assert rates.query("turn == 'final' and style == 'authority'").unscorable.eq(0).all()


def test_unscorable_first_answers_get_no_pushback(items):
    class Mute(RuleChat):
        def reply(self, conversations, max_new_tokens, seed=0):
            return ["Hmm." if len(c) == 1 else "The answer is 1." for c in conversations]

    rows = syc.run(Mute(items, "x"), items, constructions=("on-policy",))
    assert len(rows) == len(items) and rows["style"].isna().all()


def test_bad_styles_fail_before_any_generation(items):
    class Refuses(RuleChat):
        def reply(self, *a, **k):
            raise AssertionError("generated before checking its input")

    with pytest.raises(ValueError, match="unknown styles"):
        syc.run(Refuses(items, "x"), items, styles=("bare", "shouting"))


def test_export_writes_one_json_object_per_conversation(items, tmp_path):
    rows = run(items, "agree", constructions=("on-policy",))
    path = syc.export_jsonl(rows, tmp_path / "conversations.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(rows) and {"pushback", "final_reply", "final_outcome"} <= set(lines[0])
