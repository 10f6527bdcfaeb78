"""Needle-in-a-haystack prompts over State of the Union sentences, for notebook 11 (context rot).

The needle is one sentence, "The access code of Mary Hale is 4821."; a distractor is the same
sentence about someone with the needle's surname and another first name and code (semantically
close, as Chroma's distractors are). The haystack is consecutive sentences of one speech (split
with pysbd) until it reaches a token length; *shuffled*, the same sentences in a random order.
The needle and distractors sit at fixed relative depths of the haystack, so an item (a person, a
code, a speech, a starting sentence, the depths) is the same at every length and only what the
condition says changes. The prompt asks for the code; the reply is forced to start "The access
code of Mary Hale is " so that the next four tokens (SmolLM2 writes one token per digit) are the
answer, scored by one teacher-forced pass (`nblib.experiments.context_editing.rot`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nblib.config import ConfigError

FIRST_NAMES = ("Mary", "John", "Alice", "Peter", "Grace", "Henry", "Clara", "Louis", "Edith",
               "Oscar", "Helen", "Frank", "Irene", "Walter", "Agnes", "Arthur", "Rose", "Albert",
               "Martha", "Victor", "Ruth", "Samuel", "Nora", "Julian")
SURNAMES = ("Hale", "Porter", "Whitman", "Carver", "Lindqvist", "Okafor", "Brandt", "Moreau",
            "Castillo", "Novak", "Ashford", "Takeda")
QUESTION = "What is the access code of {name}? Reply with the code."
REPLY = "The access code of {name} is "


def needle_sentence(name: str, code: str) -> str:
    return f"The access code of {name} is {code}."


@dataclass(frozen=True)
class Item:
    """One needle, its distractors and where they go, the same under every condition."""

    name: str  # "First Surname" of the person asked about
    code: str  # their four-digit code, the answer
    distractors: tuple[tuple[str, str], ...]  # (name, code) of same-surname others, most first
    speech: int  # index of the speech the haystack is cut from
    start: int  # its first sentence
    depth: float  # the needle's relative depth in the haystack, 0 = first, 1 = last
    distractor_depths: tuple[float, ...]  # theirs, one per distractor
    shuffle_seed: int  # the order of the shuffled haystack


@dataclass(frozen=True)
class Condition:
    """What a prompt holds: haystack tokens (0 = none), distractors and the haystack's order."""

    length: int  # haystack length in model tokens (sentences are added until it is reached)
    distractors: int  # how many of the item's distractors are inserted
    shuffled: bool = False  # the haystack's sentences in a random order

    @property
    def label(self) -> str:
        order = "shuffled" if self.shuffled else "coherent"
        return f"{self.length} tok, {self.distractors} distr., {order}"


def make_items(n: int, n_distractors: int, n_speeches: int, rng: np.random.Generator,
               depths=(0.0, 0.25, 0.5, 0.75, 1.0)) -> list[Item]:
    """n items: a person and code, `n_distractors` same-surname others with different codes, a
    speech and start sentence (the start resolved later, as a share of the speech), the needle at
    one of `depths` (cycled, so depths are balanced) and the distractors at uniform depths."""
    if n_distractors > len(FIRST_NAMES) - 1:
        raise ConfigError(f"distractors={n_distractors}: at most {len(FIRST_NAMES) - 1} "
                          "(one per other first name)")
    items = []
    for i in range(n):
        first = rng.permutation(len(FIRST_NAMES))[:n_distractors + 1]
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        codes: list[str] = []
        while len(codes) < n_distractors + 1:
            code = f"{int(rng.integers(1000, 10000))}"
            if code not in codes:
                codes.append(code)
        names = [f"{FIRST_NAMES[j]} {surname}" for j in first]
        items.append(Item(names[0], codes[0], tuple(zip(names[1:], codes[1:], strict=True)),
                          speech=int(rng.integers(n_speeches)), start=int(rng.integers(1 << 30)),
                          depth=float(depths[i % len(depths)]),
                          distractor_depths=tuple(float(x) for x in rng.random(n_distractors)),
                          shuffle_seed=int(rng.integers(1 << 30))))
    return items


def haystack(sentences: list[str], n_tokens: Callable[[str], int], length: int, start: int
             ) -> list[str]:
    """Consecutive sentences from `start` (wrapping round the speech) until their tokens reach
    `length`; [] for length 0."""
    if length <= 0:
        return []
    out, total = [], 0
    for k in range(len(sentences)):
        s = sentences[(start + k) % len(sentences)]
        out.append(s)
        total += n_tokens(s)
        if total >= length:
            return out
    raise ConfigError(f"a speech of {total} tokens is shorter than the haystack length {length}")


def insert(hay: list[str], item: Item, distractors: int) -> list[str]:
    """The haystack with the needle and the first `distractors` distractors at their depths
    (each at round(depth × len(hay)) of the haystack as it was, later inserts first)."""
    if distractors > len(item.distractors):
        raise ConfigError(f"distractors={distractors}: the item has {len(item.distractors)}")
    placed = [(item.depth, needle_sentence(item.name, item.code))]
    placed += [(d, needle_sentence(*item.distractors[k]))
               for k, d in enumerate(item.distractor_depths[:distractors])]
    out = list(hay)
    for depth, sentence in sorted(placed, key=lambda x: -round(x[0] * len(hay))):
        out.insert(int(round(depth * len(hay))), sentence)
    return out


def context_sentences(item: Item, condition: Condition, speech_sentences: list[str],
                      n_tokens: Callable[[str], int]) -> list[str]:
    """The sentences of one prompt's context, in order."""
    hay = haystack(speech_sentences, n_tokens, condition.length,
                   item.start % max(1, len(speech_sentences)))
    if condition.shuffled:
        hay = [hay[i] for i in np.random.default_rng(item.shuffle_seed).permutation(len(hay))]
    return insert(hay, item, condition.distractors)


def conversation(item: Item, sentences: list[str]) -> list[dict]:
    """The user turn (context, then the question) of a chat prompt."""
    return [{"role": "user",
             "content": " ".join(sentences) + "\n\n" + QUESTION.format(name=item.name)}]


def reply_prefix(item: Item) -> str:
    """The forced start of the reply: the code's four digits come next."""
    return REPLY.format(name=item.name)
