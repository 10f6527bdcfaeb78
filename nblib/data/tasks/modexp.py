"""Modular exponentiation a^b mod c written out by two algorithms, for notebook 08 ("more is
different" in RL): pretrain on a mix of both traces, RL on the final answer, and read the algorithm
the model uses off the trace it writes.

Every number is digits, one token per digit, at a fixed width: a, c, each running value and the
answer at `value_width` (the digits of the largest modulus), b at `b_width` (the digits of the
largest b of either range). So every prompt has the same length, and values or exponents unseen in
training are still spelled with trained tokens. A completion is an algorithm tag (`L` or `B`), the
trace, `=`, the answer and the stop token `$`. A step is an operation (`*`: r ← r·a mod c, `sq`:
r ← r² mod c) and the running value after it, starting from r = 1; with `write_exponents` a step
also writes the exponent reached (`sq 004 : 19`). a = 3, b = 5 = 101₂, c = 31:

    prompt             03 ^ 005 mod 31 =
    linear (b steps)   L * 03 * 09 * 27 * 19 * 26 = 26 $        r_1 = a mod c, r_k+1 = r_k·a
    binary (per bit)   B sq 01 * 03 sq 09 sq 19 * 26 = 26 $     per bit of b, MSB first: sq, and
                                                                * after it for a 1-bit
    binary, exponents  B sq 000 : 01 * 001 : 03 sq 002 : 09 sq 004 : 19 * 005 : 26 = 26 $

The linear trace has b steps, the binary one bit_length(b) + popcount(b) ≤ 2·log2(b) + 2 (its
first step squares r = 1, so every bit is one uniform rule). b = 0 has an empty trace (`L = 01 $`,
`B = 01 $`); b = 1 is `L * a = a $` and `B sq 01 * a = a $`. Pretraining puts the loss on the
completion only; the reward reads only the answer after `=`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from nblib.config import ConfigError
from nblib.train.objectives import answer_masked_targets

POW, MOD, EQUALS, MUL, SQ, COLON, LINEAR_TAG, BINARY_TAG, STOP, PAD = range(10, 20)  # after 0-9
SYMBOLS = {"^": POW, "mod": MOD, "=": EQUALS, "*": MUL, "sq": SQ, ":": COLON, "L": LINEAR_TAG,
           "B": BINARY_TAG, "$": STOP, "_": PAD}
ALGORITHMS = ("linear", "binary")
TAGS = {"linear": LINEAR_TAG, "binary": BINARY_TAG}
OPS = {MUL: "*", SQ: "sq"}
SPLITS = ("train", "test")
SMALL_B = 16  # above this, a binary trace is never longer than the linear one of the same b


def check_algorithm(name: str) -> None:
    """ConfigError unless `name` is "linear" or "binary"."""
    if name not in ALGORITHMS:
        raise ConfigError(f"parameter algorithm={name!r}: unknown algorithm, must be one of "
                          f"{list(ALGORITHMS)}")


class Vocab:
    """Digits 0-9 and the symbols ^ mod = * sq : L B $ (stop) _ (padding): 20 tokens."""

    size = 10 + len(SYMBOLS)
    stop_id, pad_id = STOP, PAD
    _names = {**{i: str(i) for i in range(10)}, **{i: s for s, i in SYMBOLS.items()}}

    @staticmethod
    def encode(text: str) -> list[int]:
        """Ids of whitespace-separated symbols and digit runs, e.g. '03 ^ 005 mod 31 ='."""
        ids = []
        for word in text.split():
            if word in SYMBOLS:
                ids.append(SYMBOLS[word])
            elif all(ch in "0123456789" for ch in word):
                ids.extend(int(ch) for ch in word)
            else:
                raise ValueError(f"word {word!r} is neither digits nor a symbol of {list(SYMBOLS)}")
        return ids

    @classmethod
    def decode(cls, ids) -> str:
        """Readable text: digit runs joined, other tokens spaced, trailing padding dropped."""
        ids = [int(i) for i in ids]
        while ids and ids[-1] == PAD:
            ids.pop()
        words, after_digit = [], False
        for i in ids:
            if i not in cls._names:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{cls.size - 1})")
            if i < 10 and after_digit:
                words[-1] += str(i)
            else:
                words.append(cls._names[i])
            after_digit = i < 10
        return " ".join(words)


class Step(NamedTuple):
    op: str  # "*" or "sq"
    value: int  # running value after the step
    exponent: int | None = None  # exponent reached (None where the trace does not write it)


class Parsed(NamedTuple):
    algorithm: str | None  # from the tag; None without one
    steps: tuple[Step, ...]  # the steps read before the first malformed token
    answer: int | None  # the value between '=' and the stop token, None unless exactly spelled
    well_formed: bool  # tag, grammatical trace of its algorithm, '=', answer, stop


def n_steps(b: int, algorithm: str) -> int:
    """Exact trace steps: b (linear) or bit_length(b) + popcount(b) (binary)."""
    check_algorithm(algorithm)
    if b < 0:
        raise ConfigError(f"b={b}: exponents must be at least 0")
    return b if algorithm == "linear" else b.bit_length() + b.bit_count()


def reference_steps(a: int, b: int, c: int, algorithm: str) -> tuple[Step, ...]:
    """The steps of `algorithm` for a^b mod c, exponents included; the last value is pow(a, b, c)
    (for b = 0 there are none and the answer is 1 mod c)."""
    n_steps(b, algorithm)  # validates
    bits = format(b, "b") if b else ""
    ops = ["*"] * b if algorithm == "linear" else \
        [op for bit in bits for op in (("sq", "*") if bit == "1" else ("sq",))]
    value, exponent, steps = 1 % c, 0, []
    for op in ops:
        if op == "*":
            value, exponent = value * a % c, exponent + 1
        else:
            value, exponent = value * value % c, 2 * exponent
        steps.append(Step(op, value, exponent))
    return tuple(steps)


def _number(tokens: list[int], width: int) -> int | None:
    """The integer spelled by exactly `width` digit tokens, else None."""
    if len(tokens) != width or any(t > 9 for t in tokens):
        return None
    return int("".join(map(str, tokens)))


def _grammatical(algorithm: str, steps: Sequence[Step]) -> bool:
    """Linear: only '*'. Binary: (sq *?)*, opening with sq, never '*' twice in a row."""
    if algorithm == "linear":
        return all(s.op == "*" for s in steps)
    return all(s.op == "sq" or (k > 0 and steps[k - 1].op == "sq") for k, s in enumerate(steps))


@dataclass(frozen=True)
class ModExpTask:
    """a^b mod c: a uniform in [1, c − 1], c uniform over `moduli`, b uniform in the split's range
    (`train_b` for pretraining, `test_b` held out: longer exponents), ranges inclusive."""

    moduli: tuple[int, ...] = (31,)  # c is drawn from these (a prime keeps the group cyclic)
    train_b: tuple[int, int] = (1, 30)  # exponents of pretraining and RL
    test_b: tuple[int, int] = (31, 100)  # held-out exponents, disjoint from train_b
    max_len: int = 512  # maximum context: prompt + completion of any problem, either algorithm
    write_exponents: bool = False  # a step also writes the exponent reached (`* 003 : 27`)

    vocab = Vocab

    def __post_init__(self):
        moduli = tuple(self.moduli) if isinstance(self.moduli, list | tuple) else (self.moduli,)
        if not moduli or any(not _is_int(c) or c < 2 for c in moduli):
            raise ConfigError(f"parameter moduli={self.moduli!r}: every modulus must be an integer "
                              "of at least 2 (and one at least must be given)")
        object.__setattr__(self, "moduli", moduli)
        for name in ("train_b", "test_b"):
            span = getattr(self, name)
            if not (isinstance(span, list | tuple) and len(span) == 2 and all(map(_is_int, span))
                    and 0 <= span[0] <= span[1]):
                raise ConfigError(f"parameter {name}={span!r}: must be [low, high], integers with "
                                  "0 <= low <= high")
            object.__setattr__(self, name, tuple(span))
        (lo, hi), (test_lo, test_hi) = self.train_b, self.test_b
        if test_lo <= hi and lo <= test_hi:
            raise ConfigError(f"parameters train_b={self.train_b} and test_b={self.test_b} "
                              "overlap: held-out exponents must not be trained on")
        if not isinstance(self.write_exponents, bool):
            raise ConfigError(f"parameter write_exponents={self.write_exponents!r}: True or False")
        longest = max(self.prompt_len + self.max_completion_len(s) for s in SPLITS)
        if not _is_int(self.max_len) or longest > self.max_len:
            raise ConfigError(f"parameter max_len={self.max_len!r}: the longest sequence of these "
                              f"ranges has {longest} tokens (b up to {max(hi, test_hi)}); "
                              "raise max_len or shorten the b ranges")

    @property
    def value_width(self) -> int:
        return len(str(max(self.moduli)))  # digits of a, c, running values and the answer

    @property
    def b_width(self) -> int:
        return len(str(max(self.train_b[1], self.test_b[1])))

    @property
    def prompt_len(self) -> int:
        return 2 * self.value_width + self.b_width + 3  # a ^ b mod c =

    @property
    def step_len(self) -> int:
        return 1 + self.value_width + (self.b_width + 1 if self.write_exponents else 0)

    def completion_len(self, b: int, algorithm: str) -> int:
        """Exact tokens of a completion: tag, steps, '=', answer, stop."""
        return 1 + n_steps(b, algorithm) * self.step_len + 1 + self.value_width + 1

    def sequence_len(self, b: int, algorithm: str) -> int:
        return self.prompt_len + self.completion_len(b, algorithm)

    def max_completion_len(self, split: str) -> int:
        """Longest completion of either algorithm over the split's b range (max_new_tokens)."""
        lo, hi = self.b_range(split)
        # linear grows with b; a binary trace can only be the longer one for b <= SMALL_B
        candidates = {hi, *range(lo, min(hi, SMALL_B) + 1)}
        return max(self.completion_len(b, alg) for b in candidates for alg in ALGORITHMS)

    def b_range(self, split: str) -> tuple[int, int]:
        if split not in SPLITS:
            raise ConfigError(f"split={split!r}: must be one of {list(SPLITS)}")
        return self.train_b if split == "train" else self.test_b

    def problems(self, n: int, split: str, generator: torch.Generator) -> torch.Tensor:
        """(n, 3) problems (a, b, c) of `split`, drawn with `generator`."""
        lo, hi = self.b_range(split)
        which = torch.randint(len(self.moduli), (n,), generator=generator)  # (n,)
        c = torch.tensor(self.moduli)[which]  # (n,)
        a = torch.empty(n, dtype=torch.long)
        for i, modulus in enumerate(self.moduli):
            rows = which == i
            a[rows] = torch.randint(1, modulus, (int(rows.sum()),), generator=generator)
        b = torch.randint(lo, hi + 1, (n,), generator=generator)  # (n,)
        return torch.stack([a, b, c], dim=1)

    def answers(self, problems) -> torch.Tensor:
        """(n,) pow(a, b, c) of (n, 3) problems."""
        return torch.tensor([pow(a, b, c) for a, b, c in _rows(problems)], dtype=torch.long)

    def _spell(self, x: int, width: int, name: str) -> list[int]:
        if not 0 <= x < 10**width:
            raise ConfigError(f"{name}={x}: must lie in [0, {10**width - 1}] ({width} digits "
                              f"with moduli={self.moduli}, train_b={self.train_b}, "
                              f"test_b={self.test_b})")
        return [int(ch) for ch in str(x).zfill(width)]

    def prompt(self, problem) -> list[int]:
        """Token ids of `a ^ b mod c =`."""
        a, b, c = (int(x) for x in problem)
        if c < 2:
            raise ConfigError(f"modulus c={c}: must be at least 2")
        w = self.value_width
        return [*self._spell(a, w, "a"), POW, *self._spell(b, self.b_width, "b"), MOD,
                *self._spell(c, w, "c"), EQUALS]

    def prompts(self, problems) -> torch.Tensor:
        """(n, prompt_len) prompts."""
        return torch.tensor([self.prompt(p) for p in _rows(problems)], dtype=torch.long)

    def completion(self, problem, algorithm: str) -> list[int]:
        """Token ids of the tag, the trace of `algorithm`, '=', the answer and the stop token."""
        a, b, c = (int(x) for x in problem)
        self.prompt(problem)  # validates the problem
        if self.sequence_len(b, algorithm) > self.max_len:
            raise ConfigError(f"max_len={self.max_len}: the {algorithm} sequence of b = {b} has "
                              f"{self.sequence_len(b, algorithm)} tokens")
        ids, w = [TAGS[algorithm]], self.value_width
        for step in reference_steps(a, b, c, algorithm):
            ids.append(MUL if step.op == "*" else SQ)
            if self.write_exponents:
                ids += [*self._spell(step.exponent, self.b_width, "exponent"), COLON]
            ids += self._spell(step.value, w, "value")
        return ids + [EQUALS, *self._spell(pow(a, b, c), w, "answer"), STOP]

    def sequences(self, problems, algorithms: str | Sequence[str]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt + completion rows padded to the longest, (n, T), and the completion mask (n, T):
        True on the tag .. stop tokens, False on the prompt and the padding. `algorithms`: one
        name for every row or one per row."""
        rows = _rows(problems)
        names = [algorithms] * len(rows) if isinstance(algorithms, str) else list(algorithms)
        if len(names) != len(rows):
            raise ConfigError(f"{len(names)} algorithms for {len(rows)} problems")
        for name in set(names):
            check_algorithm(name)
        completions = [self.completion(p, name) for p, name in zip(rows, names, strict=True)]
        length = self.prompt_len + max(len(x) for x in completions)
        seqs = torch.full((len(rows), length), PAD, dtype=torch.long)  # (n, T)
        mask = torch.zeros((len(rows), length), dtype=torch.bool)  # (n, T)
        for i, (p, done) in enumerate(zip(rows, completions, strict=True)):
            end = self.prompt_len + len(done)
            seqs[i, :end] = torch.tensor(self.prompt(p) + done)
            mask[i, self.prompt_len:end] = True
        return seqs, mask

    def batches(self, batch_size: int, binary_share: float = 0.5) -> PretrainBatches:
        return PretrainBatches(self, batch_size, binary_share)

    def parse(self, completion) -> Parsed:
        """Read a completion (token ids after the prompt; anything after the first stop token is
        ignored). The answer needs '=', exactly value_width digits and the stop token."""
        ids = [int(t) for t in completion]
        stopped = STOP in ids
        body = ids[:ids.index(STOP)] if stopped else ids
        algorithm = {LINEAR_TAG: "linear", BINARY_TAG: "binary"}.get(body[0]) if body else None
        start = 1 if algorithm else 0
        end = body.index(EQUALS, start) if EQUALS in body[start:] else len(body)
        steps, trace_ok = self._read_steps(body[start:end])
        answer = _number(body[end + 1:], self.value_width) if stopped and end < len(body) else None
        well_formed = (algorithm is not None and trace_ok and answer is not None
                       and _grammatical(algorithm, steps))
        return Parsed(algorithm, steps, answer, well_formed)

    def _read_steps(self, tokens: list[int]) -> tuple[tuple[Step, ...], bool]:
        """(steps read, whether every token was part of a step)."""
        steps, i, w, bw = [], 0, self.value_width, self.b_width
        while i < len(tokens):
            if tokens[i] not in OPS:
                return tuple(steps), False
            op, exponent, i = OPS[tokens[i]], None, i + 1
            if self.write_exponents:
                exponent = _number(tokens[i:i + bw], bw)
                if exponent is None or tokens[i + bw:i + bw + 1] != [COLON]:
                    return tuple(steps), False
                i += bw + 1
            value = _number(tokens[i:i + w], w)
            if value is None:
                return tuple(steps), False
            steps.append(Step(op, value, exponent))
            i += w
        return tuple(steps), True

    def classify(self, completion) -> str:
        """"linear" or "binary" for a well-formed completion of that algorithm, else "other"."""
        parsed = self.parse(completion)
        return parsed.algorithm if parsed.well_formed else "other"

    def _parsed(self, completion) -> Parsed:
        return completion if isinstance(completion, Parsed) else self.parse(completion)

    def reward(self, problem, completion) -> float:
        """1.0 if the answer after '=' is pow(a, b, c), else 0.0; the trace is not checked.
        `completion`: token ids or what `parse` made of them (here and in `step_accuracy`)."""
        a, b, c = (int(x) for x in problem)
        return float(self._parsed(completion).answer == pow(a, b, c))

    def step_accuracy(self, problem, completion) -> float:
        """Share of correct steps against the trace of the tagged algorithm: step k is correct if
        its op (and exponent, when written) is the reference's k-th and its value follows from the
        previous written value (1 before the first). Missing and extra steps count as wrong; an
        untagged completion scores 0, an empty trace where none is due 1."""
        parsed = self._parsed(completion)
        if parsed.algorithm is None:
            return 0.0
        a, b, c = (int(x) for x in problem)
        reference = reference_steps(a, b, c, parsed.algorithm)
        total = max(len(reference), len(parsed.steps))
        previous, correct = 1 % c, 0
        for step, want in zip(parsed.steps, reference, strict=False):
            follows = step.value == (previous * (a if step.op == "*" else previous)) % c
            exponent_ok = not self.write_exponents or step.exponent == want.exponent
            correct += step.op == want.op and follows and exponent_ok
            previous = step.value
        return correct / total if total else 1.0

    def grade(self, problems, completions) -> dict:
        """Per row of (n, 3) problems and (n, T) completions: reward (n,), step_accuracy (n,),
        well_formed (n,), length (n,) (tokens up to the stop, or all), algorithm (list)."""
        rows = _rows(problems)
        outs = completions.tolist() if isinstance(completions, torch.Tensor) else \
            [[int(t) for t in x] for x in completions]
        parsed = [self.parse(x) for x in outs]
        return dict(
            reward=torch.tensor([self.reward(p, q) for p, q in zip(rows, parsed, strict=True)]),
            step_accuracy=torch.tensor([self.step_accuracy(p, q)
                                        for p, q in zip(rows, parsed, strict=True)]),
            well_formed=torch.tensor([q.well_formed for q in parsed]),
            length=torch.tensor([x.index(STOP) + 1 if STOP in x else len(x) for x in outs]),
            algorithm=[q.algorithm if q.well_formed else "other" for q in parsed])

    def is_correct(self, problems, samples: torch.Tensor) -> torch.Tensor:
        """(n, m) booleans: does samples[i, j] (n, m, T) answer problems[i] correctly?"""
        return torch.tensor([[self.reward(p, x) == 1.0 for x in row.tolist()]
                             for p, row in zip(_rows(problems), samples, strict=True)])

    def show(self, problem, completion=None, algorithm: str = "linear") -> str:
        """Readable prompt and completion (the reference one of `algorithm` if none is given)."""
        done = self.completion(problem, algorithm) if completion is None else list(completion)
        return Vocab.decode(self.prompt(problem) + [int(t) for t in done])


class PretrainBatches:
    """Pretraining draws for the Trainer: train-range problems, each row's trace binary with
    probability `binary_share` (else linear), as (inputs, targets) (B, T − 1) with the loss on the
    completion only (IGNORE on the prompt and the padding; T is the batch's longest row)."""

    def __init__(self, task: ModExpTask, batch_size: int, binary_share: float):
        if not _is_int(batch_size) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: must be a positive integer")
        if isinstance(binary_share, bool) or not isinstance(binary_share, int | float) \
                or math.isnan(binary_share) or not 0.0 <= binary_share <= 1.0:
            raise ConfigError(f"parameter binary_share={binary_share!r}: must lie in [0, 1]")
        self.task, self.batch_size, self.binary_share = task, batch_size, float(binary_share)

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        problems = self.task.problems(self.batch_size, "train", generator)  # (B, 3)
        binary = torch.rand(self.batch_size, generator=generator) < self.binary_share  # (B,)
        names = ["binary" if x else "linear" for x in binary.tolist()]
        seqs, mask = self.task.sequences(problems, names)  # (B, T) each
        return answer_masked_targets(seqs, mask)  # (B, T - 1) each


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _rows(problems) -> list[tuple[int, int, int]]:
    """(a, b, c) integer triples of an (n, 3) tensor or a list of triples."""
    rows = problems.tolist() if isinstance(problems, torch.Tensor) else list(problems)
    return [tuple(int(x) for x in row) for row in rows]
