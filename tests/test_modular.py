"""nblib.data.tasks.modular: answers, a disjoint deterministic split, sequences with the loss on the
answer only, grading, and bad settings."""

import pytest
import torch

from nblib.data.tasks.modular import ModularTask
from nblib.eval.lm_loss import IGNORE
from nblib.train.batches import TaskExamples


def test_answers_are_the_operation_mod_p():
    pairs = torch.tensor([[3, 5], [20, 7], [0, 0], [22, 22]])
    assert ModularTask(23).answer(pairs).tolist() == [8, 4, 0, 21]
    assert ModularTask(23, operation="sub").answer(pairs).tolist() == [21, 13, 0, 0]
    assert ModularTask(23, operation="mul").answer(pairs).tolist() == [15, 140 % 23, 0,
                                                                       (22 * 22) % 23]


def test_split_is_disjoint_complete_and_seeded():
    task = ModularTask(11, train_fraction=0.3)
    train, test = task.split()
    assert len(train) == round(0.3 * 121) and len(train) + len(test) == 121
    as_set = lambda t: {tuple(r) for r in t.tolist()}  # noqa: E731
    assert not as_set(train) & as_set(test) and len(as_set(train) | as_set(test)) == 121
    again, _ = ModularTask(11, train_fraction=0.3).split()
    other, _ = ModularTask(11, train_fraction=0.3, split_seed=1).split()
    assert torch.equal(train, again) and not torch.equal(train, other)


def test_sequences_put_the_loss_on_the_answer_only():
    task = ModularTask(7)
    pairs = torch.tensor([[2, 6], [4, 1]])
    seqs, mask = task.sequences(pairs)
    assert seqs.tolist() == [[2, 7, 6, 8, 1], [4, 7, 1, 8, 5]]
    assert task.vocab_size == 9 and seqs.max() < task.vocab_size
    batches = TaskExamples(seqs, mask, batch_size=4)
    inputs, targets = batches(torch.Generator().manual_seed(0))
    assert (
        inputs.shape == (4, 4)
        and (targets[:, :3] == IGNORE).all()
        and (targets[:, 3] != IGNORE).all()
    )


def test_grading_accepts_the_answer_and_nothing_else():
    task = ModularTask(5)
    pairs = torch.tensor([[1, 1], [4, 3]])
    answers = torch.tensor([[2, 3, 2], [2, 2, 0]])
    assert task.is_correct(pairs, answers).tolist() == [[True, False, True], [True, True, False]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(modulus=1), "modulus=1"),
    (dict(train_fraction=1.0), "train_fraction=1.0"),
    (dict(operation="div"), "operation='div'"),
    (dict(modulus=2, train_fraction=0.01), "empty"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModularTask(**kwargs)
