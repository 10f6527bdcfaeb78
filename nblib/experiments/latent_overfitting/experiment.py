"""Notebook 05's compute: one tiny Llama per (condition, people, seed), trained from scratch on a
stream of synthetic biographies at one token budget (`steps` × `batch_size` × `context` tokens,
packed; warmup then a constant learning rate, so a checkpoint is the same model whatever the total
budget), evaluated at step 0 and at checkpoints on fixed sets of documents:

- `new`: people never trained on, written with the training frames (unseen facts in seen
  templates: the validation loss, and its two halves for the cross-fitted minimum);
- `new_held_out`: the same people in the held-out frames;
- `seen_held_out`: people of the training stream in the held-out frames (seen facts in wordings
  never trained on: is the concept known?);
- `seen`: training people in a fresh rendering with the training frames.

Each set's loss is read per token kind (text, name, value; `nblib.data.tasks.bios`). The stream
of every job is metered (`nblib.data.repetition`) exactly as it was trained on.
Jobs run through `train.grid.run_jobs`, each recorded the moment it finishes (a rerun resumes).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.packing import pack, pad_rows
from nblib.data.repetition import Meter
from nblib.data.tasks import bios
from nblib.env import derive_seed
from nblib.eval.lm_loss import token_losses
from nblib.experiments.latent_overfitting import SLUG
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.batches import PassageBatches
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import JobResults, run_jobs
from nblib.train.trainer import Trainer, constant_after_warmup, seconds_per_step

EVAL_SETS = ("new", "new_held_out", "seen_held_out", "seen")
KINDS = {"all": None, "text": bios.TEXT, "name": bios.NAME, "value": bios.VALUE}
WORLD = bios.World(0)  # vocabulary and companies: one world for every run


def checkpoint_steps(cfg) -> list[int]:
    """Step 0, a few log-spaced early steps and `n_checkpoints` evenly spaced ones to `steps`."""
    even = np.linspace(cfg.steps / cfg.n_checkpoints, cfg.steps, cfg.n_checkpoints)
    early = geometric_steps(cfg.steps, 5, first=max(1, cfg.steps // 100))
    return sorted({0, *(int(round(s)) for s in even), *(s for s in early if s < even[0])})


def jobs(cfg) -> list[dict]:
    """Every (condition, people, seed): the fresh baseline (people 0: a new person every
    document), rephrasing at each people count of `diversity`, canonical repetition and shuffled
    rephrasing at `people`."""
    grid = [("fresh", 0)] + [("rephrased", n) for n in cfg.diversity]
    grid += [(c, cfg.people) for c in cfg.conditions if c in ("repeated", "shuffled")]
    return [{"condition": c, "people": n, "seed": s} for c, n in grid for s in cfg.seed_list]


def training_people(people: int, seed: int) -> list[bios.Person]:
    return WORLD.people(people, derive_seed(seed, "people", people), "train")


def stream(job: dict):
    """The job's endless stream of rendered documents and, alongside, each document's person."""
    condition, seed = job["condition"], job["seed"]
    rng = random.Random(derive_seed(seed, "stream", condition, job["people"]))
    if condition == "fresh":
        for person in bios.fresh_people(WORLD, derive_seed(seed, "fresh")):
            yield bios.render(person, WORLD, rng), person
        return
    people = training_people(job["people"], seed)
    canonical = {p.name: bios.render(p, WORLD, rng) for p in people}  # "repeated": one text each
    order = "shuffled" if condition == "shuffled" else "canonical"
    while True:  # epochs over the people, each in a new random order
        for person in rng.sample(people, len(people)):
            doc = canonical[person.name] if condition == "repeated" else \
                bios.render(person, WORLD, rng, order)
            yield doc, person


def read_stream(cfg, job: dict) -> tuple[torch.Tensor, dict]:
    """One pass over the job's stream up to the token budget: the packed training windows
    (steps · batch_size, context + 1) and what was read: the meter's result, the documents and
    the people in order of first appearance."""
    meter, people = Meter(cfg.ngram), {}

    def documents():
        for doc, person in stream(job):
            meter.add([[w for w, _ in s] for s in doc], [[k != bios.TEXT for _, k in s]
                                                         for s in doc])
            people.setdefault(person.name, person)
            yield WORLD.encode(bios.words_and_kinds(doc)[0])

    sequences = pack(documents(), cfg.context, cfg.steps * cfg.batch_size, WORLD.doc_id)
    rep = meter.result()
    return sequences, {"repetition": rep.as_dict(), "documents": rep.n_documents,
                       "people": list(people.values())}


def eval_set(people: list[bios.Person], which: str, tag: str) -> tuple[torch.Tensor, ...]:
    """`people` written once each with frames `which`, canonical order, by a generator named
    `tag`: padded ids (n, L + 1) and token kinds (n, L)."""
    rng = random.Random(f"eval-{tag}")
    docs = [bios.words_and_kinds(bios.render(p, WORLD, rng, which=which)) for p in people]
    return pad_rows([WORLD.encode(w) for w, _ in docs], WORLD.doc_id, WORLD.pad_id,
                    labels=[k for _, k in docs])


def eval_sets(cfg, job: dict, seen: list[bios.Person]) -> dict[str, tuple[torch.Tensor, ...]]:
    """The four evaluation sets; the new people read the same text in every job, the seen ones
    (the first `test_people` of the job's stream) depend on the job's seed."""
    new, seen = WORLD.people(cfg.test_people, 0, "test"), seen[:cfg.test_people]
    return {"new": eval_set(new, "train", "new"),
            "new_held_out": eval_set(new, "held_out", "new_held_out"),
            "seen_held_out": eval_set(seen, "held_out", f"seen_held_out-{job['seed']}"),
            "seen": eval_set(seen, "train", f"seen-{job['seed']}")}


@torch.no_grad()
def evaluate(model, sets: dict, step: int) -> dict:
    """Mean loss (nats/token) of every set per token kind, and of the `new` set's two halves
    per kind (people of even and odd index: the cross-fitted minimum's two samples)."""
    model.eval()
    out = {"step": step}
    for name, (ids, kinds) in sets.items():
        losses = token_losses(model, ids)  # (n, L)
        for kind, code in KINDS.items():
            mask = kinds >= 0 if code is None else kinds == code  # (n, L)
            out[f"{name}_{kind}"] = float(losses[mask].mean())
            if name == "new":
                for half, rows in (("a", slice(0, None, 2)), ("b", slice(1, None, 2))):
                    out[f"new_{kind}_{half}"] = float(losses[rows][mask[rows]].mean())
    model.train()
    return out


def make_trainer(cfg, job: dict, sequences: torch.Tensor, device="cpu") -> Trainer:
    model = build_lm(shape_of(cfg, vocab_size=WORLD.vocab_size), seed=derive_seed(job["seed"],
                                                                                  "init"))
    return Trainer(model.to(device), constant_after_warmup(cfg, derive_seed(job["seed"], "data")),
                   PassageBatches(sequences, cfg.batch_size))


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Meter, train and evaluate one (condition, people, seed). JSON-able."""
    start = time.perf_counter()
    sequences, read = read_stream(cfg, job)  # (rows, context + 1)
    seen = read["people"]
    sets = {name: tuple(t.to(device) for t in rows)
            for name, rows in eval_sets(cfg, job, seen).items()}
    trainer = make_trainer(cfg, job, sequences, device)
    evals = []
    for step in checkpoint_steps(cfg):
        trainer.fit(step)
        evals.append(evaluate(trainer.model, sets, step))
    losses = [h["train_loss"] for h in trainer.history if "train_loss" in h]
    _, kinds = sets["new"]
    shares = {k: float((kinds == code).sum() / (kinds >= 0).sum()) for k, code in KINDS.items()
              if code is not None}
    return {"evals": evals, "train_loss": losses, "repetition": read["repetition"],
            "token_shares": shares, "documents": read["documents"], "distinct_people": len(seen),
            "tokens": int(sequences[:, :-1].numel()),
            "params": count_params(trainer.model)["total"],
            "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Job results keyed by every field that shapes training or evaluation."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


@dataclass(frozen=True)
class Results:
    """Every job's checkpoints and stream meter as tables."""

    curves: pd.DataFrame  # one row per (condition, people, seed, step): losses per set and kind
    streams: pd.DataFrame  # one row per job: the repetition meter, documents, exposures
    steps: list[int]  # the checkpoint steps, step 0 first
    params: int  # parameters of the model (the same for every job)
    token_shares: dict  # kind -> share of the new people's target tokens (text, name, value)
    seconds: dict  # job label -> wall seconds


def label(job: dict) -> str:
    return f"{job['condition']}-{job['people']}-seed{job['seed']}"


def tables(cfg, results: JobResults) -> Results:
    curves, streams = [], []
    for job, res in zip(results.jobs, results, strict=True):
        curves += [{**job, **e} for e in res["evals"]]
        exposures = res["documents"] / job["people"] if job["people"] else 1.0
        streams.append({**job, **res["repetition"], "distinct_people": res["distinct_people"],
                        "tokens": res["tokens"],
                        "exposures_per_person": exposures})
    seconds = {label(j): round(r["seconds"], 1) for j, r in zip(results.jobs, results,
                                                                  strict=True)}
    return Results(pd.DataFrame(curves), pd.DataFrame(streams), checkpoint_steps(cfg),
                   results[0]["params"], results[0]["token_shares"], seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every job, trained or read back from the record."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=label)
    return tables(cfg, results)


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: timed training steps and one timed evaluation on this
    machine (a throwaway model), plus the stream's generation, scaled to every job in rounds of
    `workers`."""
    job = jobs(cfg)[0]
    start = time.perf_counter()
    docs = list(islice(stream(job), 200))
    per_doc = (time.perf_counter() - start) / 200
    n_docs = cfg.steps * cfg.batch_size * cfg.context / np.mean(
        [sum(len(s) for s in d) + 1 for d, _ in docs])
    sequences = pack((WORLD.encode(bios.words_and_kinds(d)[0]) for d, _ in docs * 50),
                     cfg.context, 8 * cfg.batch_size, WORLD.doc_id)
    trainer = make_trainer(cfg, job, sequences, device)
    train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
    sets = eval_sets(cfg, job, [p for _, p in docs])
    start = time.perf_counter()
    evaluate(trainer.model, sets, 0)
    eval_s = (time.perf_counter() - start) * len(checkpoint_steps(cfg))
    per_job = train_s + eval_s + per_doc * n_docs * 3  # render, encode and meter each document
    rounds = math.ceil(len(jobs(cfg)) / max(1, workers))  # a GPU runs one job at a time
    return float(rounds * per_job)


def baselines(cfg) -> dict:
    """Losses (nats/token) on the new people's text of predictors that learn nothing about
    people: uniform over the vocabulary, and the unigram frequencies of the fresh stream's
    tokens (add-one smoothed); the untrained model sits near the uniform one."""
    job = {"condition": "fresh", "people": 0, "seed": cfg.first_seed}
    sequences, _ = read_stream(cfg, job)  # (rows, context + 1)
    counts = 1 + np.bincount(sequences[:, 1:].reshape(-1).numpy(), minlength=WORLD.vocab_size)
    ids, kinds = eval_set(WORLD.people(cfg.test_people, 0, "test"), "train", "new")
    targets = ids[:, 1:][kinds >= 0].numpy()  # (tokens,)
    log_p = np.log(counts / counts.sum())
    return {"uniform": float(np.log(WORLD.vocab_size)), "unigram": float(-log_p[targets].mean())}
