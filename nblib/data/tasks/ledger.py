"""A ledger of tagged lines and a question about two of them, for notebook 11 (context as a tool):
a task where judging a line irrelevant is easier than answering.

A line is an entity, a tag, a digit 0..4 and `;`. The question names an entity and a tag; the
answer is the sum (0..8, one digit) of the digits on the lines with both (always two). Every other
line is a distractor: an *easy* one names another entity, a *hard* one names the question's entity
with the other tag (close to the relevant lines in content, as Chroma's similar distractors are
close to the needle). With entities `a..h`, tags `x y`:

    context   c x 3 ; a y 4 ; a x 4 ; f y 1 ; a x 2 ;      5 lines, 2 relevant (a x), 1 hard
    answerer  <context> ? a x = 6 $                         4 + 2
    editor    ? a x | c x 3 ;   ? a x | a y 4 ;   ...       one (question, line) pair per line

(A first pilot summed digits 0..9 mod 10: the answerer never left chance in 2,000 steps.) The
tokens '|', '+' (keep) and '-' (drop) were made for an editor that is itself a tiny LM; notebook
11's editor reads the same (question, line) pairs as one-hot features instead
(`experiments.context_editing.editors.LineEditor`), and the tokens stay in the vocabulary so
that the answerer's recorded initialisation does not change.

Relevance needs no arithmetic (match two tokens), the answer needs both the match and a sum, so
deleting the distractors is easier than answering with them present. Deleting by the question's
entity alone (the lexical baseline) keeps the hard distractors; only entity *and* tag is the
oracle. Rows have different numbers of lines: they are right-padded, and each row's answer is read
at its own `=` (`answerer_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nblib.config import ConfigError
from nblib.train.objectives import answer_masked_targets

N_ENTITIES, N_TAGS = 8, 2
ENTITY0 = 10  # ids 10..17 are the entities a..h; 0..9 are the digits
TAG0 = ENTITY0 + N_ENTITIES  # ids 18, 19 are the tags x, y
SEMI, QUERY, EQUALS, STOP, BAR, KEEP, DROP, PAD = range(TAG0 + N_TAGS, TAG0 + N_TAGS + 8)
VOCAB_SIZE = PAD + 1
LINE_LEN = 4  # entity, tag, digit, ';'
EDITOR_LEN = 4 + LINE_LEN  # an editor row: '? e t |' and one line
RELEVANT = 2  # relevant lines per problem
LINE_DIGITS = 5  # a line's digit is 0..4, so the answer (the sum of two) is one digit, 0..8
NAMES = {**{ENTITY0 + i: "abcdefgh"[i] for i in range(N_ENTITIES)},
         **{TAG0 + i: "xy"[i] for i in range(N_TAGS)}, SEMI: ";", QUERY: "?", EQUALS: "=",
         STOP: "$", BAR: "|", KEEP: "+", DROP: "-", PAD: "_", **{d: str(d) for d in range(10)}}
IDS = {v: k for k, v in NAMES.items()}


def encode(text: str) -> list[int]:
    """Ids of whitespace-separated symbols, e.g. 'a x 4 ; ? a x ='."""
    try:
        return [IDS[s] for s in text.split()]
    except KeyError as err:
        raise ValueError(f"unknown ledger symbol {err.args[0]!r} in {text!r}") from None


def decode(ids) -> str:
    return " ".join(NAMES[int(i)] for i in ids)


@dataclass(frozen=True)
class Problem:
    """One ledger: lines (entity, tag, digit) in context order and the question (entity, tag)."""

    lines: tuple[tuple[int, int, int], ...]
    entity: int  # the question's entity, 0..N_ENTITIES−1
    tag: int  # the question's tag, 0..N_TAGS−1

    @property
    def answer(self) -> int:
        return sum(d for e, t, d in self.lines if (e, t) == (self.entity, self.tag))

    def relevant(self) -> list[bool]:
        """Per line: names the question's entity and tag (the oracle keeps exactly these)."""
        return [(e, t) == (self.entity, self.tag) for e, t, _ in self.lines]

    def lexical(self) -> list[bool]:
        """Per line: names the question's entity (string match on it; keeps hard distractors)."""
        return [e == self.entity for e, _, _ in self.lines]

    def hard(self) -> list[bool]:
        return [e == self.entity and t != self.tag for e, t, _ in self.lines]

    def kept(self, keep) -> Problem:
        """The problem with only the lines where `keep` is true, in their order."""
        if len(keep) != len(self.lines):
            raise ValueError(f"a keep mask of {len(keep)} entries for {len(self.lines)} lines")
        return Problem(tuple(ln for ln, k in zip(self.lines, keep, strict=True) if k),
                       self.entity, self.tag)

    def context_ids(self) -> list[int]:
        return [i for e, t, d in self.lines for i in (ENTITY0 + e, TAG0 + t, d, SEMI)]

    def question_ids(self) -> list[int]:
        return [QUERY, ENTITY0 + self.entity, TAG0 + self.tag]

    def answerer_ids(self, with_answer: bool = True) -> list[int]:
        """context, '? e t =', then the answer and '$' when `with_answer`."""
        tail = [self.answer, STOP] if with_answer else []
        return self.context_ids() + self.question_ids() + [EQUALS] + tail

    def editor_rows(self) -> list[list[int]]:
        """One (question, line) pair per line as tokens, '? e t | e' t' d ;': what an editor
        judges a line by."""
        q = self.question_ids() + [BAR]
        return [q + [ENTITY0 + e, TAG0 + t, d, SEMI] for e, t, d in self.lines]

    def text(self) -> str:
        return decode(self.answerer_ids(with_answer=False))


@dataclass(frozen=True)
class LedgerTask:
    """Problems with a given number of distractors, a share of them hard."""

    max_distractors: int = 14  # the most distractor lines a problem has (context ≤ 2 + this)
    hard_share: float = 0.5  # the chance a distractor is hard (question's entity, other tag)

    def __post_init__(self):
        if not 0 <= self.max_distractors <= 200:
            raise ConfigError(f"max_distractors={self.max_distractors}: must be in 0..200")
        if not 0.0 <= self.hard_share <= 1.0:
            raise ConfigError(f"hard_share={self.hard_share}: must be in [0, 1]")

    @property
    def max_lines(self) -> int:
        return RELEVANT + self.max_distractors

    @property
    def max_len(self) -> int:
        """Tokens of the longest answerer row."""
        return self.max_lines * LINE_LEN + 4 + 2

    def problem(self, distractors: int, rng: np.random.Generator) -> Problem:
        """A problem with `distractors` distractor lines, the lines in random order."""
        if not 0 <= distractors <= self.max_distractors:
            raise ConfigError(f"distractors={distractors}: the task has 0..{self.max_distractors}"
                              " (more distractors than lines it was built for)")
        entity, tag = int(rng.integers(N_ENTITIES)), int(rng.integers(N_TAGS))
        lines = [(entity, tag, int(rng.integers(LINE_DIGITS))) for _ in range(RELEVANT)]
        for _ in range(distractors):
            if rng.random() < self.hard_share:
                lines.append((entity, 1 - tag, int(rng.integers(LINE_DIGITS))))
            else:
                other = (entity + 1 + int(rng.integers(N_ENTITIES - 1))) % N_ENTITIES
                lines.append((other, int(rng.integers(N_TAGS)), int(rng.integers(LINE_DIGITS))))
        order = rng.permutation(len(lines))
        return Problem(tuple(lines[i] for i in order), entity, tag)

    def problems(self, n: int, generator, distractors: int | None = None) -> list[Problem]:
        """n problems, each with `distractors` distractors (uniform in 0..max when None);
        `generator` a torch.Generator (one draw seeds the rest) or a numpy Generator."""
        rng = generator if isinstance(generator, np.random.Generator) else \
            np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
        return [self.problem(int(rng.integers(self.max_distractors + 1))
                             if distractors is None else distractors, rng)
                for _ in range(n)]


def pad_rows(rows: list[list[int]]) -> torch.Tensor:
    """(n, T) right-padded with PAD, T the longest row."""
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


def answerer_batch(problems: list[Problem]) -> tuple[torch.Tensor, torch.Tensor]:
    """Answerer rows without answers (n, T) and each row's `=` position (n,): the logits there
    are the answer's."""
    rows = [p.answerer_ids(with_answer=False) for p in problems]
    return pad_rows(rows), torch.tensor([len(r) - 1 for r in rows])


class Batches:
    """Training draws for the answerer: fresh problems, distractors uniform in 0..max, the loss on
    the answer and the stop token, as (inputs, targets) (B, T − 1)."""

    def __init__(self, task: LedgerTask, batch_size: int):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: must be a positive integer")
        self.task, self.batch_size = task, batch_size

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        problems = self.task.problems(self.batch_size, generator)
        seqs = torch.full((self.batch_size, self.task.max_len), PAD, dtype=torch.long)  # (B, T)
        mask = torch.zeros_like(seqs, dtype=torch.bool)  # (B, T)
        for i, p in enumerate(problems):
            row = p.answerer_ids()
            seqs[i, :len(row)] = torch.tensor(row)
            mask[i, len(row) - 2:len(row)] = True  # the answer and '$'
        return answer_masked_targets(seqs, mask)  # (B, T − 1) each
