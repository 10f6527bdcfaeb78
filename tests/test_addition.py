"""nblib.data.tasks.addition: digit-level answers, a fixed held-out split, training draws that
never contain a held-out problem."""

import pytest
import torch

from nblib.config import ConfigError
from nblib.data.tasks.addition import PAD, STOP, AdditionTask, Vocab, check_task


def test_sequences_spell_the_sum_digit_by_digit():
    task = AdditionTask(digits=3, test_problems=16)
    pairs = torch.tensor([[42, 917], [999, 999], [0, 0]])
    seqs, mask = task.sequences(pairs)
    assert [Vocab.decode(s) for s in seqs] == ["042+917=0959$", "999+999=1998$", "000+000=0000$"]
    assert seqs.shape == (3, task.seq_len) and task.seq_len == 13
    assert mask[:, task.prompt_len:].all() and not mask[:, :task.prompt_len].any()
    assert Vocab.encode("12+3=$_") == [1, 2, 10, 3, 11, STOP, PAD]
    assert Vocab.size == 14 and task.chance == 1 / 1999
    with pytest.raises(ValueError, match="not in the vocabulary"):
        Vocab.encode("1-2")


def test_answers_are_the_integer_sums():
    task = AdditionTask(digits=2, test_problems=100)
    pairs = task.test_pairs()
    digits = task.answers(pairs)
    values = (digits * torch.tensor([100, 10, 1])).sum(1)
    assert torch.equal(values, pairs.sum(1))


def test_split_is_fixed_distinct_and_never_drawn_in_training():
    task = AdditionTask(digits=2, test_problems=500, split_seed=3)
    test = task.test_pairs()
    assert torch.equal(test, AdditionTask(2, 500, 3).test_pairs())
    assert not torch.equal(test, AdditionTask(2, 500, 4).test_pairs())
    codes = {a * 100 + b for a, b in test.tolist()}
    assert len(codes) == 500
    batches = task.batches(4096)
    inputs, targets = batches(torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4096, task.seq_len - 1)
    drawn = {int("".join(map(str, r[:2]))) * 100 + int("".join(map(str, r[3:5])))
             for r in inputs.tolist()}
    assert not drawn & codes
    a, _ = batches(torch.Generator().manual_seed(0))
    assert torch.equal(a, inputs)  # seeded
    assert (targets[:, :task.prompt_len - 1] == -100).all()  # the loss is on the answer only


def test_is_correct_needs_every_digit_and_the_stop_token():
    task = AdditionTask(digits=1, test_problems=4)
    pairs = torch.tensor([[3, 4]])
    samples = torch.tensor([[[0, 7, STOP], [0, 7, PAD], [1, 7, STOP]]])
    assert task.is_correct(pairs, samples).tolist() == [[True, False, False]]


def test_bad_settings_fail_with_the_field_named():
    with pytest.raises(ConfigError, match="digits=0"):
        AdditionTask(digits=0)
    with pytest.raises(ConfigError, match="test_problems=30"):
        AdditionTask(digits=1, test_problems=30)
    with pytest.raises(ConfigError, match="task='subtraction'"):
        check_task("subtraction")
    check_task("addition")
