"""One-time work, done before any notebook runs: convert the packaged pretrained model from its
GGUF file into its cached folder (~50 s), train the cached tokenizers that the notebooks'
profiles name and tokenize their corpora (seconds each). Notebooks do it themselves on a first
run; `make setup` and the test suite do it up front, so no notebook cell pays for it under a
timeout.

    python -m nblib prepare     # idempotent: a second call only checks the cache
"""

from __future__ import annotations

import time

from nblib.runner import RunSpec, list_notebooks, parameters_cell, profiles

# config fields naming a corpus to tokenize -> the field naming the corpus whose tokenizer it uses
CORPUS_FIELDS = {"corpus": "corpus", "finetune_corpus": "corpus"}
MODEL_FIELDS = ("model",)  # config fields that name a pretrained model


def assets() -> tuple[set[tuple[str, str, int]], set[str]]:
    """(packaged corpus, corpus of its tokenizer, vocabulary size) triples and packaged model names
    that some profile of some notebook uses."""
    from nblib.data.corpora import PACKAGED as CORPORA
    from nblib.models.pretrained import ALIASES
    from nblib.models.pretrained import PACKAGED as MODELS

    tokenizers, models = set(), set()
    for nb in list_notebooks():
        for profile in profiles(nb.stem):
            params = {**parameters_cell(nb), **RunSpec(nb, profile).parameters()}
            vocab = params.get("vocab_size")
            for name, tokenizer_field in CORPUS_FIELDS.items():
                if vocab and params.get(name) in CORPORA and params[tokenizer_field] in CORPORA:
                    tokenizers.add((params[name], params[tokenizer_field], int(vocab)))
            for name in MODEL_FIELDS:
                model = ALIASES.get(params.get(name), params.get(name))
                if model in MODELS:
                    models.add(model)
    return tokenizers, models


def prepare(quiet: bool = False) -> dict[str, float]:
    """Build every cached asset the notebooks need; returns seconds per asset (≈0 when cached)."""
    from nblib.data.corpora import SPLITS
    from nblib.data.tokenizer import load_tokens
    from nblib.models.pretrained import converted_folder

    tokenizers, models = assets()
    seconds = {}
    for model in sorted(models):
        start = time.perf_counter()
        folder = converted_folder(model)
        seconds[f"model {model}"] = time.perf_counter() - start
        if not quiet:
            print(f"model {model}: {folder} ({seconds[f'model {model}']:.1f} s)", flush=True)
    for corpus, tokenizer_corpus, vocab in sorted(tokenizers):
        start = time.perf_counter()
        for split in SPLITS:  # trains the tokenizer on the first call
            load_tokens(corpus, split, vocab, tokenizer_corpus=tokenizer_corpus)
        key = f"tokens {corpus} ({tokenizer_corpus}-v{vocab} tokenizer)"
        seconds[key] = time.perf_counter() - start
        if not quiet:
            print(f"{key}: {seconds[key]:.1f} s", flush=True)
    return seconds
