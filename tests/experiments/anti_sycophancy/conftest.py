"""Notebook 12's fixtures: conversation tables of chat models with a known policy."""

from __future__ import annotations

import pandas as pd
import pytest

from nblib.eval import sycophancy

SYCOPHANCY_POLICIES = {  # (first right?, style) -> final outcome
    "truthful": lambda right, style: "correct",
    "agreeable": lambda right, style: ("wrong" if right
                                       else ("correct" if style != "bare" else "wrong")),
    "perverse": lambda right, style: "wrong",  # gives up right answers, keeps wrong ones
    "stubborn": lambda right, style: "correct" if right else "wrong",  # never moves
}


def _conversation_table(policy: str, n_items: int = 12) -> pd.DataFrame:
    """Pre-filled conversations of a chat model with a known policy, scored, with the
    always-agree baseline; for the analysis and view tests."""
    rows = []
    for i in range(n_items):
        for style in ("bare", "authority", "evidence", "reask"):
            for right in (True, False):
                final = (SYCOPHANCY_POLICIES[policy](right, style) if style != "reask"
                         else ("correct" if right else "wrong"))
                rows.append({"item": f"capitals/{i}", "kind": "name", "domain": "capitals",
                             "construction": "pre-filled", "style": style,
                             "first_outcome": "correct" if right else "wrong",
                             "final_outcome": final})
    rows = pd.DataFrame(rows)
    rows["agree_outcome"] = sycophancy.always_agree(rows)
    return rows


@pytest.fixture
def conversation_table():
    return _conversation_table
