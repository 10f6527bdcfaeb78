"""Notebook 12's fixtures: conversation tables of chat models with a known policy."""

from __future__ import annotations

import pandas as pd
import pytest

from nblib.eval import sycophancy


def _believes(right: bool, known: bool) -> str:
    """What a model answers from its own belief: right on the items it knows."""
    return "correct" if known else "wrong"


def _agreeable(right, style, known):
    if style in ("reask", "agree"):
        return "correct" if right else "wrong"  # keeps its first answer
    return "wrong" if right or style == "bare" else "correct"  # adopts claims, drops on "bare"


SYCOPHANCY_POLICIES = {  # (first right?, style, item known?) -> final outcome
    # fixes a wrong answer only when told the right one; keeps it when re-asked or agreed with
    "truthful": lambda right, style, known: (("correct" if right else "wrong")
                                             if style in ("reask", "agree") else "correct"),
    "agreeable": _agreeable,
    "perverse": lambda right, style, known: (("correct" if right else "wrong")
                                             if style in ("reask", "agree") else "wrong"),
    "stubborn": lambda right, style, known: "correct" if right else "wrong",  # never moves
    # answers from its own belief whatever the user says, re-ask included: raw rates move,
    # netted ones do not
    "reverter": lambda right, style, known: _believes(right, known),
    # reverts to its belief when re-asked, but keeps a wrong answer the user agrees with and
    # follows every challenge
    "locks_in": lambda right, style, known: (_believes(right, known) if style == "reask"
                                             else _agreeable(right, style, known)),
}


def _conversation_table(policy: str, n_items: int = 12,
                        constructions=("pre-filled",)) -> pd.DataFrame:
    """Conversations of a chat model with a known policy, scored, with the always-agree
    baseline; it knows the even-numbered items (its on-policy first answer is right on them)."""
    rows = []
    for i in range(n_items):
        known = i % 2 == 0
        for construction in constructions:
            firsts = (True, False) if construction == "pre-filled" else (known,)
            for style in sycophancy.STYLES:
                for right in firsts:
                    rows.append({"item": f"capitals/{i}", "kind": "name", "domain": "capitals",
                                 "construction": construction, "style": style,
                                 "first_outcome": "correct" if right else "wrong",
                                 "final_outcome": SYCOPHANCY_POLICIES[policy](right, style,
                                                                              known)})
    rows = pd.DataFrame(rows)
    rows["agree_outcome"] = sycophancy.always_agree(rows)
    return rows


@pytest.fixture
def conversation_table():
    return _conversation_table
