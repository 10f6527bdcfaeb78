"""Score a free-text reply against an `Item`: correct, wrong, or unscorable.

"Unscorable" is an outcome of its own: a reply that names no answer, or two different ones ("it
is not Sydney, it is Canberra" names both), is never guessed at and never counted as a flip. The
rules, per kind of item:

- name: every answer of the domain (`item.choices`, e.g. all capitals) is looked for as a whole
  word sequence, accents and case ignored, longest first; exactly one distinct answer found
  scores it. When none is found, a capitalised name right after "is" ("the capital of the United
  States is New York City") is read as the answer, and it is wrong.
- number: "the answer is N" (the last one) when present; otherwise the numbers in the reply that
  are not in the question must all be one value.
- truefalse: a reply opening with "True" / "False" scores that; otherwise exactly one of the two
  words must occur ("not true" counts as false).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from nblib.data.tasks.facts import Item

OUTCOMES = ("correct", "wrong", "unscorable")
SPELLINGS = {"aluminium": "aluminum", "sulphur": "sulfur", "caesium": "cesium"}  # British -> table


@dataclass(frozen=True)
class Score:
    outcome: str  # "correct", "wrong" or "unscorable"
    answer: str | None  # the answer read from the reply (None when unscorable)
    why: str = ""  # for unscorable replies: what made them so


def normalise(text: str) -> str:
    """Lower case, accents stripped, punctuation turned to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9.]+", " ", text)
    text = re.sub(r"\.(?!\d)", " ", text)  # keep decimal points only
    words = [SPELLINGS.get(w, w) for w in text.split()]
    return " ".join(words)


def _names_in(reply: str, choices: tuple[str, ...]) -> list[str]:
    text = f" {normalise(reply)} "
    found = []
    for choice in sorted(choices, key=lambda c: -len(normalise(c))):  # "San José" before "San"
        key = f" {normalise(choice)} "
        if key.strip() and key in text:
            found.append(choice)
            text = text.replace(key, " | ")
    return found


STATED_NAME = re.compile(r"\bis\s+(?:called\s+|named\s+)?([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)")
NUMBER = r"-?\d+(?:\.\d+)?"


def _numbers_in(text: str) -> list[float]:
    return [float(x) for x in re.findall(NUMBER, text.replace(",", ""))]


def _number_answer(reply: str, question: str) -> tuple[float | None, str]:
    stated = re.findall(r"answer is:?\s*\$?\s*(" + NUMBER + ")", reply.replace(",", ""), flags=re.I)
    if stated:
        return float(stated[-1]), ""
    given = set(_numbers_in(question))
    values = {x for x in _numbers_in(reply) if x not in given}
    if len(values) == 1:
        return values.pop(), ""
    return None, "no number" if not values else "several numbers"


def _truefalse_answer(reply: str) -> tuple[str | None, str]:
    words = normalise(reply).split()
    if words and words[0] in ("true", "false"):
        return words[0], ""
    text = " ".join(words).replace("not true", "false").replace("not false", "true")
    present = {w for w in ("true", "false") if re.search(rf"\b{w}\b", text)}
    if len(present) == 1:
        return present.pop(), ""
    return None, "neither true nor false" if not present else "both true and false"


def score(reply: str, item: Item) -> Score:
    """Score one reply to `item`."""
    if item.kind == "name":
        found = _names_in(reply, item.choices)
        stated = STATED_NAME.findall(reply)
        if not found and len(set(stated)) == 1:
            return Score("wrong", stated[0].rstrip("."))
        if len(found) != 1:
            return Score("unscorable", None,
                         "no known answer" if not found else f"several answers: {found}")
        answer = found[0]
        return Score("correct" if normalise(answer) == normalise(item.answer) else "wrong", answer)
    if item.kind == "number":
        value, why = _number_answer(reply, item.question)
        if value is None:
            return Score("unscorable", None, why)
        return Score("correct" if abs(value - float(item.answer)) < 1e-9 else "wrong", f"{value:g}")
    if item.kind == "truefalse":
        answer, why = _truefalse_answer(reply)
        if answer is None:
            return Score("unscorable", None, why)
        return Score("correct" if answer == item.answer else "wrong", answer)
    raise ValueError(f"item {item.id}: kind={item.kind!r} is not one of name, number, truefalse")
