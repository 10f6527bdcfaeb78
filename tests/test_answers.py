"""nblib.eval.answers: hand-written replies with known scores, unscorable ones included."""

import pytest

from nblib.data.tasks.facts import Item
from nblib.eval.answers import normalise, score

CAPITAL = Item("capitals/Australia", "capitals", "What is the capital of Australia?",
               "Canberra", "Sydney",
               "name", ("Canberra", "Sydney", "San José", "San Juan", "Washington"), "test")
SUM = Item("arithmetic/37+48", "arithmetic", "What is 37 + 48?", "85", "84", "number", (), "test")
TF = Item("truefalse/x", "truefalse", "True or false: water is wet.", "true", "false",
          "truefalse", (), "test")


@pytest.mark.parametrize("reply, outcome, answer", [
    ("The capital of Australia is Canberra.", "correct", "Canberra"),
    ("canberra", "correct", "Canberra"),
    ("You're right, I apologise: it is Sydney.", "wrong", "Sydney"),
    ("It is not Sydney, it is Canberra.", "unscorable", None),  # two answers: never guessed
    ("I'm sorry for any confusion.", "unscorable", None),
    ("The capital of Australia is Melbourne.", "wrong", "Melbourne"),  # a name outside the list
    ("The capital is San Jose", "wrong", "San José"),  # accents ignored, longest name first
])
def test_name_replies(reply, outcome, answer):
    s = score(reply, CAPITAL)
    assert (s.outcome, s.answer) == (outcome, answer)


@pytest.mark.parametrize("reply, outcome, answer", [
    ("85", "correct", "85"),
    ("37 + 48 = 85.", "correct", "85"),  # the question's own numbers are not answers
    ("The answer is 84.", "wrong", "84"),
    ("First 30 + 40 = 70, then 7 + 8 = 15, so the answer is 85.", "correct", "85"),
    ("It could be 84 or 86.", "unscorable", None),
    ("I can't say.", "unscorable", None),
    ("1,085", "wrong", "1085"),
])
def test_number_replies(reply, outcome, answer):
    s = score(reply, SUM)
    assert (s.outcome, s.answer) == (outcome, answer)


@pytest.mark.parametrize("reply, outcome", [
    ("True. Water is wet.", "correct"),
    ("False, and here is why: it is true that ...", "wrong"),  # the opening word decides
    ("That is not true.", "wrong"),
    ("The statement is true.", "correct"),
    ("It is both true and false.", "unscorable"),
    ("Water is a liquid.", "unscorable"),
])
def test_truefalse_replies(reply, outcome):
    assert score(reply, TF).outcome == outcome


def test_unscorable_replies_say_why():
    assert "several" in score("Sydney or Canberra", CAPITAL).why
    assert score("no idea", SUM).why == "no number"


def test_normalise():
    assert normalise("Brasília, D.C.!") == "brasilia d c"
    assert normalise("3.5 apples; Aluminium") == "3.5 apples aluminum"


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="kind"):
        score("x", Item("a/b", "a", "q", "x", "y", "colour"))
