"""nblib.data.tasks.modexp: traces that agree with pow(a, b, c), render -> parse round trips,
classification, exact lengths, answer-masked pretraining batches, and refusals."""

import math

import pytest
import torch

from nblib.config import ConfigError
from nblib.data.tasks.modexp import (
    ALGORITHMS,
    PAD,
    STOP,
    ModExpTask,
    Step,
    Vocab,
    check_algorithm,
    n_steps,
    reference_steps,
)
from nblib.eval.lm_loss import IGNORE

TASK = ModExpTask()  # c = 31, b in [1, 30] / [31, 100]
EXPONENTS = ModExpTask(write_exponents=True, max_len=800)


def test_format_of_each_trace():
    problem = (3, 5, 31)
    assert Vocab.decode(TASK.prompt(problem)) == "03 ^ 005 mod 31 ="
    assert TASK.show(problem, algorithm="linear") == \
        "03 ^ 005 mod 31 = L * 03 * 09 * 27 * 19 * 26 = 26 $"
    assert TASK.show(problem, algorithm="binary") == \
        "03 ^ 005 mod 31 = B sq 01 * 03 sq 09 sq 19 * 26 = 26 $"
    assert EXPONENTS.show(problem, algorithm="binary") == \
        "03 ^ 005 mod 31 = B sq 000 : 01 * 001 : 03 sq 002 : 09 sq 004 : 19 * 005 : 26 = 26 $"
    assert EXPONENTS.show(problem, algorithm="linear").startswith("03 ^ 005 mod 31 = L * 001 : 03")
    assert Vocab.size == 20 and TASK.prompt_len == 10 and TASK.step_len == 3
    text = "03 ^ 005 mod 31 = B sq 01 * 03 = 03 $"
    assert Vocab.decode(Vocab.encode(text)) == text
    assert Vocab.decode(Vocab.encode("L = 01 $ _ _") + [PAD]) == "L = 01 $"
    with pytest.raises(ValueError, match="neither digits nor a symbol"):
        Vocab.encode("3 + 4")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocab.decode([3, 20])


def test_edge_exponents_zero_and_one():
    assert TASK.show((7, 0, 31), algorithm="linear") == "07 ^ 000 mod 31 = L = 01 $"
    assert TASK.show((7, 0, 31), algorithm="binary") == "07 ^ 000 mod 31 = B = 01 $"
    assert TASK.show((7, 1, 31), algorithm="linear") == "07 ^ 001 mod 31 = L * 07 = 07 $"
    assert TASK.show((7, 1, 31), algorithm="binary") == "07 ^ 001 mod 31 = B sq 01 * 07 = 07 $"
    assert reference_steps(5, 0, 2, "linear") == () and reference_steps(0, 0, 7, "binary") == ()


@pytest.mark.parametrize("c", [2, 7, 31, 97])
def test_traces_agree_with_pow(c):
    task = ModExpTask(moduli=(c,), train_b=(0, 40), test_b=(41, 99))
    for a in range(c):
        for b in range(0, 41, 1 if a < 5 else 7):
            linear = reference_steps(a, b, c, "linear")
            assert [s.value for s in linear] == [pow(a, k, c) for k in range(1, b + 1)]
            binary = reference_steps(a, b, c, "binary")
            assert all(s.value == pow(a, s.exponent, c) for s in binary)
            assert [s.exponent for s in binary][-1:] == ([b] if b else [])
            for algorithm in ALGORITHMS:
                done = task.completion((a, b, c), algorithm)
                assert task.parse(done).answer == pow(a, b, c)
                assert task.reward((a, b, c), done) == 1.0
                assert task.step_accuracy((a, b, c), done) == 1.0
    assert torch.equal(task.answers(torch.tensor([[3, 5, c], [2, 0, c]])),
                       torch.tensor([pow(3, 5, c), 1 % c]))


@pytest.mark.parametrize("task", [TASK, EXPONENTS], ids=["values", "exponents"])
def test_render_then_parse_round_trips(task):
    problems = task.problems(64, "train", torch.Generator().manual_seed(0))
    for problem in problems.tolist() + [[4, 0, 31], [4, 1, 31], [30, 100, 31]]:
        for algorithm in ALGORITHMS:
            done = task.completion(problem, algorithm)
            parsed = task.parse(done + [PAD, PAD])  # generated rows are padded after the stop
            want = reference_steps(*problem, algorithm)
            if not task.write_exponents:
                want = tuple(s._replace(exponent=None) for s in want)
            assert parsed == (algorithm, want, pow(*problem), True)
            assert task.classify(done) == algorithm
            assert len(done) == task.completion_len(problem[1], algorithm)


def test_garbage_is_other_and_rewards_read_the_answer_only():
    problem, enc = (3, 5, 31), Vocab.encode
    garbage = {
        "empty": [], "stop only": [STOP], "no tag": enc("* 03 = 03 $"),
        "truncated": enc("L * 03 * 09 * 27 * 19 * 26 = 26"), "no answer": enc("L * 03 $"),
        "short answer": enc("L * 03 = 3 $"), "long answer": enc("L * 03 = 003 $"),
        "short value": enc("L * 3 * 09 = 09 $"), "sq in linear": enc("L * 03 sq 09 = 09 $"),
        "binary opens with *": enc("B * 03 = 03 $"), "binary * *": enc("B sq 01 * 03 * 09 = 09 $"),
        "direct answer": enc("= 26 $"), "junk": enc("mod ^ 1 L sq $"),
    }
    for name, tokens in garbage.items():
        assert TASK.classify(tokens) == "other", name
        assert not TASK.parse(tokens).well_formed, name
    # grammatical but wrong traces are still their algorithm; the reward reads the answer only
    assert TASK.classify(enc("L * 05 = 26 $")) == "linear"
    assert TASK.reward(problem, enc("L * 05 = 26 $")) == 1.0
    assert TASK.reward(problem, garbage["direct answer"]) == 1.0
    assert TASK.reward(problem, garbage["truncated"]) == 0.0
    assert TASK.reward(problem, enc("L * 03 * 09 * 27 * 19 * 26 = 25 $")) == 0.0
    assert TASK.parse(garbage["short value"]).steps == ()
    assert TASK.parse(enc("L * 03 * 9")) == ("linear", (Step("*", 3),), None, False)


def test_step_accuracy_counts_local_errors_missing_and_extra_steps():
    problem = (3, 10, 31)
    done = TASK.completion(problem, "linear")  # 10 steps of 3 tokens after the tag
    wrong = list(done)
    wrong[1 + 3 * 4 + 2] = (wrong[1 + 3 * 4 + 2] + 1) % 10  # step 5's value
    assert TASK.step_accuracy(problem, wrong) == 8 / 10  # step 5 and the one after it
    missing = done[:1 + 3 * 9] + done[-4:]
    assert TASK.step_accuracy(problem, missing) == 9 / 10
    extra = done[:-4] + Vocab.encode("* 09") + done[-4:]
    assert TASK.step_accuracy(problem, extra) == 10 / 11
    binary_as_linear = [Vocab.encode("L")[0]] + TASK.completion(problem, "binary")[1:]
    assert TASK.step_accuracy(problem, binary_as_linear) < 0.5
    assert TASK.step_accuracy(problem, done[1:]) == 0.0  # untagged
    assert TASK.step_accuracy((3, 0, 31), Vocab.encode("B = 01 $")) == 1.0
    lying = EXPONENTS.completion(problem, "linear")
    lying[2:5] = [0, 0, 7]  # first step claims exponent 7
    assert EXPONENTS.step_accuracy(problem, lying) == 9 / 10


def test_lengths_are_exact_and_grow_as_b_and_log_b():
    for b in range(0, 101):
        assert n_steps(b, "linear") == b
        assert n_steps(b, "binary") == b.bit_length() + bin(b).count("1")
        if b >= 2:
            assert n_steps(b, "binary") <= 2 * math.log2(b) + 2
        for algorithm in ALGORITHMS:
            assert len(TASK.completion((2, b, 31), algorithm)) == TASK.completion_len(b, algorithm)
    assert [n_steps(2**k, "binary") for k in range(1, 7)] == [3, 4, 5, 6, 7, 8]  # k + 2
    assert [n_steps(2**k - 1, "binary") for k in range(1, 7)] == [2, 4, 6, 8, 10, 12]  # 2k
    assert TASK.completion_len(100, "linear") == 305 and TASK.completion_len(100, "binary") == 35
    assert TASK.sequence_len(30, "linear") == 10 + 95
    assert TASK.max_completion_len("train") == 95 and TASK.max_completion_len("test") == 305
    assert EXPONENTS.step_len == 7 and EXPONENTS.completion_len(5, "binary") == 5 + 5 * 7


def test_problems_respect_the_split_and_the_seed():
    task = ModExpTask(moduli=(7, 31), train_b=(0, 9), test_b=(10, 20))
    train = task.problems(500, "train", torch.Generator().manual_seed(1))
    test = task.problems(500, "test", torch.Generator().manual_seed(1))
    assert train.shape == (500, 3) and train[:, 1].min() == 0 and train[:, 1].max() == 9
    assert test[:, 1].min() == 10 and test[:, 1].max() == 20
    assert set(train[:, 2].tolist()) == {7, 31}
    assert ((train[:, 0] >= 1) & (train[:, 0] < train[:, 2])).all()
    again = task.problems(500, "train", torch.Generator().manual_seed(1))
    assert torch.equal(train, again)
    assert task.prompts(train).shape == (500, task.prompt_len)


def test_pretraining_batches_put_the_loss_on_the_completion_only():
    batches = TASK.batches(64, binary_share=0.5)
    inputs, targets = batches(torch.Generator().manual_seed(0))  # (B, T - 1) each
    assert inputs.shape == targets.shape and inputs.shape[0] == 64
    assert torch.equal(inputs, batches(torch.Generator().manual_seed(0))[0])  # seeded
    tags = inputs[:, TASK.prompt_len].tolist()  # each row's first completion token
    assert 16 <= tags.count(Vocab.encode("B")[0]) <= 48 and set(tags) == set(Vocab.encode("L B"))
    for row_in, row_out in zip(inputs.tolist(), targets.tolist(), strict=True):
        problem = (int("".join(map(str, row_in[0:2]))), int("".join(map(str, row_in[3:6]))), 31)
        assert 1 <= problem[1] <= 30
        algorithm = "binary" if row_in[TASK.prompt_len] == Vocab.encode("B")[0] else "linear"
        completion = TASK.completion(problem, algorithm)
        end = TASK.prompt_len + len(completion)  # padding starts here
        assert row_in[:end] == (TASK.prompt(problem) + completion)[:len(row_in)]  # last stop cut
        assert row_out[TASK.prompt_len - 1:end - 1] == completion  # the loss: tag .. stop
        assert set(row_out[:TASK.prompt_len - 1] + row_out[end - 1:]) <= {IGNORE}
        assert set(row_in[end:]) <= {PAD}
    for share, tag in [(0.0, "L"), (1.0, "B")]:
        inputs, _ = TASK.batches(32, share)(torch.Generator().manual_seed(3))
        assert (inputs[:, TASK.prompt_len] == Vocab.encode(tag)[0]).all()


def test_grade_and_is_correct_over_generated_rows():
    problems = torch.tensor([[3, 5, 31], [3, 5, 31], [2, 3, 31]])
    rows = [TASK.completion((3, 5, 31), "binary"), Vocab.encode("L * 05 = 07 $"),
            Vocab.encode("= 08 $")]
    width = max(map(len, rows))
    completions = torch.tensor([r + [PAD] * (width - len(r)) for r in rows])  # (3, T)
    graded = TASK.grade(problems, completions)
    assert graded["reward"].tolist() == [1.0, 0.0, 1.0]
    assert graded["algorithm"] == ["binary", "linear", "other"]
    assert graded["well_formed"].tolist() == [True, True, False]
    assert graded["length"].tolist() == [len(r) for r in rows]
    assert graded["step_accuracy"].tolist() == [1.0, 0.0, 0.0]
    samples = completions[:, None].expand(3, 2, width)  # (n, m, T)
    assert TASK.is_correct(problems, samples).tolist() == [[True] * 2, [False] * 2, [True] * 2]


@pytest.mark.parametrize("make, message", [
    (lambda: ModExpTask(moduli=(1,)), "moduli"),
    (lambda: ModExpTask(moduli=()), "moduli"),
    (lambda: ModExpTask(train_b=(1, 40), test_b=(31, 100)), "overlap"),
    (lambda: ModExpTask(train_b=(40, 50), test_b=(31, 100)), "overlap"),
    (lambda: ModExpTask(train_b=(30, 1)), "train_b"),
    (lambda: ModExpTask(test_b=(-1, 0), train_b=(1, 5)), "test_b"),
    (lambda: ModExpTask(max_len=300), "max_len=300"),
    (lambda: ModExpTask(write_exponents=True), "max_len=512"),
    (lambda: TASK.completion((3, 5, 31), "ternary"), "algorithm='ternary'"),
    (lambda: TASK.sequences(torch.tensor([[3, 5, 31]]), ["binary", "linear"]), "2 algorithms"),
    (lambda: n_steps(5, "square"), "algorithm='square'"),
    (lambda: check_algorithm("Linear"), "unknown algorithm"),
    (lambda: TASK.batches(8, binary_share=1.5), "binary_share=1.5"),
    (lambda: TASK.batches(8, binary_share=-0.1), "binary_share=-0.1"),
    (lambda: TASK.batches(0), "batch_size=0"),
    (lambda: TASK.completion((3, 5, 1), "linear"), "c=1"),
    (lambda: TASK.completion((3, 1000, 31), "linear"), "b=1000"),
    (lambda: TASK.problems(4, "val", torch.Generator()), "split='val'"),
    (lambda: ModExpTask(train_b=(0, 200), test_b=(201, 300), max_len=2000).completion(
        (3, 999, 31), "linear"), "max_len=2000"),
])
def test_bad_input_is_refused_before_compute(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
