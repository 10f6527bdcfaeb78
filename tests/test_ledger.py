import numpy as np
import pytest
import torch

from nblib.config import ConfigError
from nblib.data.tasks import ledger as lg
from nblib.train.objectives import IGNORE

A, C, F = 0, 2, 5  # entities a, c, f
X, Y = 0, 1  # tags x, y
# c x 3 ; a y 4 ; a x 4 ; f y 1 ; a x 2 ;  ? a x  ->  4 + 2 = 6
HAND = lg.Problem(((C, X, 3), (A, Y, 4), (A, X, 4), (F, Y, 1), (A, X, 2)), A, X)


def test_a_hand_made_ledger():
    assert HAND.answer == 6
    assert HAND.relevant() == [False, False, True, False, True]
    assert HAND.lexical() == [False, True, True, False, True]  # keeps the hard distractor
    assert HAND.hard() == [False, True, False, False, False]
    assert HAND.text() == "c x 3 ; a y 4 ; a x 4 ; f y 1 ; a x 2 ; ? a x ="
    assert lg.decode(HAND.answerer_ids()) == HAND.text() + " 6 $"
    assert lg.encode(HAND.text()) == HAND.answerer_ids(with_answer=False)
    assert [lg.decode(r) for r in HAND.editor_rows()[:2]] == ["? a x | c x 3 ;",
                                                             "? a x | a y 4 ;"]
    assert all(len(r) == lg.EDITOR_LEN for r in HAND.editor_rows())
    with pytest.raises(ValueError, match="unknown ledger symbol 'z'"):
        lg.encode("a z 3")


def test_deleting_lines_keeps_order_and_can_change_the_sum():
    kept = HAND.kept([False, True, True, False, False])
    assert kept.lines == ((A, Y, 4), (A, X, 4)) and kept.answer == 4  # a relevant line gone
    assert HAND.kept(HAND.relevant()).answer == HAND.answer
    with pytest.raises(ValueError, match="a keep mask of 2 entries for 5 lines"):
        HAND.kept([True, False])


def test_drawn_problems_have_two_relevant_lines_and_the_asked_distractors():
    task = lg.LedgerTask(max_distractors=6, hard_share=1.0)
    rng = np.random.default_rng(0)
    for p in task.problems(50, rng, distractors=6):
        assert len(p.lines) == 8 and sum(p.relevant()) == lg.RELEVANT
        assert sum(p.hard()) == 6  # hard_share 1: every distractor is hard
        assert 0 <= p.answer <= 2 * (lg.LINE_DIGITS - 1)
    easy = lg.LedgerTask(6, hard_share=0.0).problems(50, rng, distractors=6)
    assert all(sum(p.lexical()) == lg.RELEVANT for p in easy)  # lexical = oracle without hard
    counts = {len(p.lines) for p in task.problems(300, torch.Generator().manual_seed(1))}
    assert counts == set(range(2, 9))  # distractors uniform in 0..6
    with pytest.raises(ConfigError, match="distractors=7: the task has 0..6"):
        task.problem(7, rng)
    with pytest.raises(ConfigError, match="hard_share=1.5"):
        lg.LedgerTask(6, 1.5)


def test_batches_put_the_loss_on_the_answer_and_stop_only():
    task = lg.LedgerTask(4)
    x, y = lg.Batches(task, 8)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, task.max_len - 1)
    for row_x, row_y in zip(x, y, strict=True):
        targets = row_y[row_y != IGNORE].tolist()
        assert len(targets) == 2 and targets[1] == lg.STOP and 0 <= targets[0] <= 8
        eq = (row_x == lg.EQUALS).nonzero().flatten()
        assert row_y[int(eq)] == targets[0]  # the answer follows "="
    rows, at = lg.answerer_batch([HAND, HAND.kept([True] * 2 + [False] * 3)])
    assert rows[0, at[0]] == lg.EQUALS and rows[1, at[1]] == lg.EQUALS
    assert at.tolist() == [5 * 4 + 3, 2 * 4 + 3]
