import pytest
import torch

from nblib.config import ConfigError
from nblib.data.tasks import digit_sum as ds
from nblib.train.objectives import IGNORE

DIGITS = [3, 1, 4, 1, 5, 9]  # sum 23: answer 3


def test_traces_of_a_hand_made_example():
    assert ds.trace(DIGITS, "running") == [3, 4, 8, 9, 4, 3]
    assert ds.trace(DIGITS, "pairs") == [4, 4, 5, 9, 4]  # p1 q1 p2 q2 p3: pairs 4 5 4, sums 4 9
    assert ds.trace(DIGITS, "filler") == [ds.DOT] * 6
    assert ds.trace(DIGITS, "direct") == []
    assert ds.implied_answer([4, 4, 5, 9, 4], "pairs") == 3  # 9 + 4
    assert ds.implied_answer([3, 4, 8, 9, 4, 3], "running") == 3
    assert ds.implied_answer([7], "pairs") == 7  # two digits: one pair, no running sums


def test_paraphrase_keeps_what_a_wrong_trace_implies():
    wrong_running = [3, 4, 8, 9, 4, 7]  # last step wrong: implies 7
    para = ds.paraphrase(DIGITS, wrong_running, "running", "pairs")
    assert para == [4, 4, 5, 9, 8] and ds.implied_answer(para, "pairs") == 7
    wrong_pairs = [4, 4, 6, 9, 4]  # second pair wrong, its running sum right: implies 3
    back = ds.paraphrase(DIGITS, wrong_pairs, "pairs", "running")
    assert back == [3, 4, 8, 9, 4, 3] and ds.implied_answer(back, "running") == 3
    gen = torch.Generator().manual_seed(0)
    for p in ds.DigitSumTask(8).problems(50, gen).tolist():
        for f in ds.TRACES:
            other = ds.other_format(f)
            assert ds.paraphrase(p, ds.trace(p, f), f, other) == ds.trace(p, other)
    with pytest.raises(ConfigError, match="only between"):
        ds.paraphrase(DIGITS, [], "running", "filler")


def test_encode_decode_and_sequences():
    task = ds.DigitSumTask(6)
    assert ds.decode(ds.encode("3 1 4 R 3 4 = 4 $")) == "3 1 4 R 3 4 = 4 $"
    with pytest.raises(ValueError, match="neither one digit"):
        ds.encode("31 R")
    seqs, mask = task.sequences(torch.tensor([DIGITS, DIGITS]), ["pairs", "direct"])
    assert seqs.shape == (2, task.max_len)
    assert ds.decode(seqs[0]) == "3 1 4 1 5 9 P 4 4 5 9 4 = 3 $"
    assert ds.decode(seqs[1]) == "3 1 4 1 5 9 D = 3 $"
    assert mask[1].tolist() == [False] * 7 + [True] * 3 + [False] * (task.max_len - 10)
    prefix = task.prefix(torch.tensor([DIGITS]), "running", torch.tensor([[3, 4]]))
    assert ds.decode(prefix[0]) == "3 1 4 1 5 9 R 3 4 ="


def test_batches_put_the_loss_after_the_tag_only():
    task = ds.DigitSumTask(4)
    inputs, targets = task.batches(16, ["direct", "running"])(torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (16, task.max_len - 1)
    assert (targets[:, :4] == IGNORE).all()  # digits and tag: never a target
    assert ((targets[:, 4:] == ds.EQUALS).any(1) | (targets[:, 4:] < 10).any(1)).all()


@pytest.mark.parametrize("n", [0, 3, 7, True, 2.0])
def test_bad_digit_counts_are_refused(n):
    with pytest.raises(ConfigError, match="n_digits"):
        ds.DigitSumTask(n)


def test_bad_formats_are_refused():
    with pytest.raises(ConfigError, match=r"unknown \['steps'\]"):
        ds.check_formats(["running", "steps"])
    with pytest.raises(ConfigError, match="distinct"):
        ds.DigitSumTask(4).batches(4, ["running", "running"])
