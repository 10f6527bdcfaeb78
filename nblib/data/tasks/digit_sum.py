"""The sum of n digits mod 10, answered directly or after a chain of thought in one of two trace
formats, for notebook 13 (chain of thought: semantics or compute?).

A prompt is n digits, one token each; a completion is a format tag, the trace, `=`, the answer
digit and the stop token `$`. n = 6, digits 3 1 4 1 5 9 (sum 23, answer 3):

    prompt    3 1 4 1 5 9
    direct    D = 3 $                     no trace
    running   R 3 4 8 9 4 3 = 3 $         s_k = d_1 + … + d_k mod 10, k = 1..n: the answer is
                                          the last step (answering is copying)
    pairs     P 4 4 5 9 4 = 3 $           p_1 q_1 p_2 q_2 … p_m (m = n/2): pair sums
                                          p_j = d_2j−1 + d_2j mod 10, each followed by the running
                                          sum of pairs q_j = p_1 + … + p_j but the last: the answer
                                          q_m−1 + p_m is computed after the last step
    filler    F . . . . . . = 3 $         n filler tokens (the running trace's length), no content

Both traces determine the answer ("implied answer": the last running sum; q_m−1 + p_m)
and each can be rewritten into the other keeping what it implies (`paraphrase`), so a model
trained on both reads either. Every step of both reads tokens at fixed distances behind it (the
digit d_k is n + 1 tokens behind step k, d_k+1 n behind it, the previous steps 1 and 2 behind),
so neither format asks a two-block model for a lookup that moves with the step. A trace step is
a single digit, so decoding a trace of a known format is constrained to digits at a known length
(`trace_len`) and every trace is well formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nblib.config import ConfigError
from nblib.train.objectives import answer_masked_targets

DIRECT_TAG, RUNNING_TAG, PAIRS_TAG, FILLER_TAG, EQUALS, DOT, STOP, PAD = range(10, 18)
FORMATS = ("direct", "running", "pairs", "filler")
TRACES = ("running", "pairs")  # the formats with content
TAGS = {"direct": DIRECT_TAG, "running": RUNNING_TAG, "pairs": PAIRS_TAG, "filler": FILLER_TAG}
SYMBOLS = {"D": DIRECT_TAG, "R": RUNNING_TAG, "P": PAIRS_TAG, "F": FILLER_TAG, "=": EQUALS,
           ".": DOT, "$": STOP, "_": PAD}
VOCAB_SIZE = 10 + len(SYMBOLS)


def check_formats(names, allowed=FORMATS, what: str = "formats") -> None:
    """ConfigError unless `names` is a non-empty list of distinct names from `allowed`."""
    bad = [n for n in names if n not in allowed]
    if not names or bad or len(set(names)) < len(names):
        raise ConfigError(f"parameter {what}={list(names)}: {f'unknown {bad}, ' if bad else ''}"
                          f"must be distinct names from {list(allowed)} (at least one)")


def other_format(fmt: str) -> str:
    """The trace format that is not `fmt` (running <-> pairs)."""
    if fmt not in TRACES:
        raise ConfigError(f"format {fmt!r}: only {list(TRACES)} have another trace format")
    return TRACES[1 - TRACES.index(fmt)]


def encode(text: str) -> list[int]:
    """Ids of whitespace-separated digits and symbols, e.g. '3 1 4 R 3 4 8 = 8 $'."""
    ids = []
    for word in text.split():
        if word in SYMBOLS:
            ids.append(SYMBOLS[word])
        elif word.isdigit() and len(word) == 1:
            ids.append(int(word))
        else:
            raise ValueError(f"word {word!r} is neither one digit nor a symbol of "
                             f"{list(SYMBOLS)}")
    return ids


def decode(ids) -> str:
    """Readable text of token ids (padding dropped)."""
    names = {**{i: str(i) for i in range(10)}, **{i: s for s, i in SYMBOLS.items()}}
    return " ".join(names[int(i)] for i in ids if int(i) != PAD)


def trace(digits, fmt: str) -> list[int]:
    """The correct trace of `fmt` for one problem's digits (empty for direct)."""
    d = [int(x) for x in digits]
    if fmt == "running":
        return [sum(d[:k + 1]) % 10 for k in range(len(d))]
    if fmt == "pairs":
        pairs = [(d[2 * j] + d[2 * j + 1]) % 10 for j in range(len(d) // 2)]
        return _interleave(pairs, [sum(pairs[:j + 1]) % 10 for j in range(len(pairs) - 1)])
    if fmt == "filler":
        return [DOT] * len(d)
    if fmt == "direct":
        return []
    raise ConfigError(f"format {fmt!r}: must be one of {list(FORMATS)}")


def _interleave(pairs: list[int], sums: list[int]) -> list[int]:
    """p_1 q_1 p_2 q_2 … q_m−1 p_m from m pair sums and m − 1 running sums."""
    out = []
    for j, p in enumerate(pairs):
        out += [p, sums[j]] if j < len(sums) else [p]
    return out


def implied_answer(steps, fmt: str) -> int:
    """The answer a trace of `fmt` determines: the last running sum, or q_m−1 + p_m (pairs:
    p_1 q_1 … q_m−1 p_m, so the sum of its last two steps)."""
    steps = [int(x) for x in steps]
    if fmt == "running":
        return steps[-1] if steps else 0
    if fmt == "pairs":
        return sum(steps[-2:]) % 10
    raise ConfigError(f"format {fmt!r}: only {list(TRACES)} traces imply an answer")


def paraphrase(digits, steps, source: str, target: str) -> list[int]:
    """Rewrite a trace of `source` into `target` keeping the answer it implies (and its errors).
    running → pairs: p_j = s_2j − s_2j−2, q_j = s_2j; pairs → running: s_2j = q_j for j < m,
    s_n = q_m−1 + p_m, and s_2j−1 = s_2j−2 + d_2j−1 (the prompt's digit: the pairs trace has no
    odd partial sums)."""
    d, s = [int(x) for x in digits], [int(x) for x in steps]
    m = len(d) // 2
    if (source, target) == ("running", "pairs"):
        evens = [s[2 * j + 1] for j in range(m)]  # s_2, s_4, …, s_n
        pairs = [(e - (evens[j - 1] if j else 0)) % 10 for j, e in enumerate(evens)]
        return _interleave(pairs, evens[:-1])
    if (source, target) == ("pairs", "running"):
        evens = s[1::2] + [implied_answer(s, "pairs")]  # q_1 … q_m−1, then s_n
        out = []
        for j in range(m):
            out += [((evens[j - 1] if j else 0) + d[2 * j]) % 10, evens[j]]
        return out
    raise ConfigError(f"paraphrase {source!r} → {target!r}: only between {list(TRACES)}")


@dataclass(frozen=True)
class DigitSumTask:
    """n uniform digits; the answer is their sum mod 10 (chance: 1/10)."""

    n_digits: int = 10  # digits per problem (even: the pairs trace pairs them up)

    def __post_init__(self):
        n = self.n_digits
        if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n % 2:
            raise ConfigError(f"parameter n_digits={n!r}: must be an even integer of at least 2 "
                              "(the pairs trace sums the digits two by two)")

    @property
    def vocab_size(self) -> int:
        return VOCAB_SIZE

    @property
    def max_len(self) -> int:
        return self.n_digits + 1 + self.n_digits + 3  # prompt, tag, longest trace, = answer $

    def trace_len(self, fmt: str) -> int:
        return len(trace([0] * self.n_digits, fmt))

    def problems(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, n_digits) uniform digits."""
        return torch.randint(0, 10, (n, self.n_digits), generator=generator)

    def answers(self, problems: torch.Tensor) -> torch.Tensor:
        """(n,) sums mod 10."""
        return problems.sum(-1) % 10

    def prefix(self, problems: torch.Tensor, fmt: str, steps: torch.Tensor | None = None,
               answer_next: bool = True) -> torch.Tensor:
        """(n, T) prompt, tag and trace steps (n, k) (the correct full trace if None), then '='
        when `answer_next` (the model's next token is its answer)."""
        if steps is None:
            steps = torch.tensor([trace(p, fmt) for p in problems.tolist()],
                                 dtype=torch.long).reshape(len(problems), -1)
        tag = torch.full((len(problems), 1), TAGS[fmt], dtype=torch.long)
        parts = [problems, tag, steps.long()]
        if answer_next:
            parts.append(torch.full((len(problems), 1), EQUALS, dtype=torch.long))
        return torch.cat(parts, 1)

    def sequences(self, problems: torch.Tensor, formats: list[str]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full rows padded to max_len, (n, T), and the loss mask (n, T): True on the trace, '=',
        the answer and the stop token (not on the prompt, the tag or the padding)."""
        seqs = torch.full((len(problems), self.max_len), PAD, dtype=torch.long)  # (n, T)
        mask = torch.zeros_like(seqs, dtype=torch.bool)  # (n, T)
        answers = self.answers(problems).tolist()
        start = self.n_digits + 1
        for i, (p, fmt) in enumerate(zip(problems.tolist(), formats, strict=True)):
            row = p + [TAGS[fmt]] + trace(p, fmt) + [EQUALS, answers[i], STOP]
            seqs[i, :len(row)] = torch.tensor(row)
            mask[i, start:len(row)] = True
        return seqs, mask

    def batches(self, batch_size: int, formats: list[str]) -> Batches:
        return Batches(self, batch_size, formats)


class Batches:
    """Training draws for the Trainer: fresh problems (10^n of them: a row practically never
    repeats), each row's format uniform over `formats`, as (inputs, targets) (B, T − 1) with the
    loss on the completion after the tag."""

    def __init__(self, task: DigitSumTask, batch_size: int, formats: list[str]):
        check_formats(formats, what="train_formats")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: must be a positive integer")
        self.task, self.batch_size, self.formats = task, batch_size, list(formats)

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        problems = self.task.problems(self.batch_size, generator)  # (B, n)
        which = torch.randint(len(self.formats), (self.batch_size,), generator=generator)
        seqs, mask = self.task.sequences(problems, [self.formats[i] for i in which.tolist()])
        return answer_masked_targets(seqs, mask)  # (B, T − 1) each
