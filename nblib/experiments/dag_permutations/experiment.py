"""Notebook 07's compute.

1. The seed sets, the same for every seed: `people` synthetic biographies, one fixed text each
   (their true DAG: the first sentence names the person and every later one refers back to it;
   the employer's city needs the employer), and the first `max_tokens` pretrained-model tokens
   (whole sentences, pysbd) of `speeches` sotu speeches from the train split.
2. The DAGs: the packaged pretrained model prefills every seed document once; its attention,
   aggregated to sentences and divided by a length-proportional baseline (`eval.attention_dag`),
   is the lift matrix. Lifts are computed once and cached; a threshold turns them into edges.
3. One tiny Llama per (corpus, condition, seed), trained from scratch at one token budget on a
   stream of the seed documents, each drawn afresh in its condition's sentence order: repeated
   (as written), uniform (a uniformly random permutation), attention (a uniformly random
   topological sort of the attention DAG), true (of the true DAG; bios only). A bios stream also
   holds, at a fixed share, the QA documents of half the people (the same in every condition);
   the other half's QA is the extraction test.
4. Evaluation at step 0 and at checkpoints: bios, the loss on new people in natural order and in
   a true-DAG reordering, QA answers of the held-out half (value-token loss and exact match, the
   answer's every token the argmax); sotu, the loss on held-out speeches in natural order. Each
   stream is metered (`data.repetition`) as it is packed.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.packing import pack, pad_rows
from nblib.data.repetition import Meter
from nblib.data.sentences import join, split_sentences
from nblib.data.tasks import bios
from nblib.data.toposort import LinearExtensions
from nblib.env import derive_seed
from nblib.eval.lm_loss import token_losses
from nblib.experiments.dag_permutations import SLUG
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.batches import PassageBatches
from nblib.train.grid import JobResults, run_jobs
from nblib.train.trainer import Trainer, constant_after_warmup, seconds_per_step

WORLD = bios.World(0, qa=True)
EMPLOYER, EMPLOYER_CITY = bios.ATTRIBUTES.index("employer"), bios.ATTRIBUTES.index("employer_city")
MAX_SENTENCES = 20  # per seed speech: exact uniform sorts count order ideals (<= 25 nodes a part)
TRUE_EDGES = tuple((0, i) for i in range(1, len(bios.ATTRIBUTES))) + ((EMPLOYER, EMPLOYER_CITY),)


# ------------------------------------------------------------------ seed sets


@dataclass(frozen=True)
class SeedDoc:
    """One seed document: its sentences as text (for the pretrained model) and as the trained
    model's tokens, with per-token fact flags (bios)."""

    text: list[str]  # sentences
    ids: list[tuple[int, ...]]  # per sentence, the trained model's token ids
    facts: list[tuple[bool, ...]] | None  # per sentence, does a token carry a name or value


def bios_people(cfg) -> list[bios.Person]:
    return WORLD.people(cfg.people, 0, "train")


def bios_seed(cfg) -> list[SeedDoc]:
    """One canonical text per person (frames, openers and subjects drawn once)."""
    rng, out = random.Random("dag-seed-bios"), []
    for person in bios_people(cfg):
        doc = bios.render(person, WORLD, rng)
        out.append(SeedDoc([" ".join(w for w, _ in s) for s in doc],
                           [tuple(WORLD.encode([w for w, _ in s])) for s in doc],
                           [tuple(k != bios.TEXT for _, k in s) for s in doc]))
    return out


@lru_cache(maxsize=2)
def _tokenizer(vocab_size: int):
    from nblib.data.tokenizer import load_tokenizer

    return load_tokenizer("sotu", vocab_size)


def _encode_sentences(sentences: list[str], vocab_size: int) -> list[tuple[int, ...]]:
    """Each sentence on its own, after a space (so any order joins them alike)."""
    tok = _tokenizer(vocab_size)
    return [tuple(tok.encode(" " + s, add_special_tokens=False)) for s in sentences]


def sotu_texts(cfg, tokenizer) -> list[list[str]]:
    """The seed speeches' sentences: `speeches` train-split speeches (a fixed draw), each cut to
    whole sentences within `max_tokens` tokens of the pretrained model, at most MAX_SENTENCES."""
    from nblib.data.corpora import corpus_split
    from nblib.eval.attention_dag import fit_to_tokens

    docs = corpus_split("sotu", "train")
    chosen = random.Random("dag-seed-sotu").sample(range(len(docs)), cfg.speeches)
    out = []
    for i in chosen:
        text = fit_to_tokens(docs[i][:20 * cfg.max_tokens], tokenizer, cfg.max_tokens)
        sentences = [" ".join(s.text.split()) for s in split_sentences(text)]
        out.append(sentences[:MAX_SENTENCES])
    return out


@lru_cache(maxsize=2)
def _pretrained(device: str = "cpu"):
    from nblib.models.pretrained import load_pretrained

    return load_pretrained(device=device)


def seed_set(cfg, corpus: str) -> list[SeedDoc]:
    if corpus == "bios":
        return bios_seed(cfg)
    return [SeedDoc(t, _encode_sentences(t, cfg.vocab_size), None)
            for t in load_dags(cfg)["sotu_text"]]


# ------------------------------------------------------------------ the DAGs


def dags_file(cfg):
    return checkpoints_dir(SLUG, cache_key(cfg, "dag")) / "lifts.json"


def extract_dags(cfg, device="cpu", bar=None) -> dict:
    """Lift matrices (S, S) of every seed document, from one prefill each; read back from the
    cache when present. {"bios": [lift], "sotu": [lift], "sotu_text": [sentences]}."""
    from nblib.eval.attention_dag import sentence_attention

    path = dags_file(cfg)
    if path.exists():
        return json.loads(path.read_text())
    pre, layers = _pretrained(str(device)), (cfg.layers or None)
    out = {"bios": [], "sotu": [], "sotu_text": [], "seconds": 0.0}
    start = time.perf_counter()
    groups = [("bios", [d.text for d in bios_seed(cfg)])] if "bios" in cfg.corpora else []
    if "sotu" in cfg.corpora:
        out["sotu_text"] = sotu_texts(cfg, pre.tokenizer)
        groups.append(("sotu", out["sotu_text"]))
    for corpus, docs in groups:
        for sentences in docs:
            text, spans = join(sentences)
            att = sentence_attention(pre, text, layers, max(cfg.max_tokens, 512), spans)
            out[corpus].append(np.where(np.isfinite(att.lift), att.lift, -1.0).tolist())
            if bar is not None:
                bar.update(1)
    out["seconds"] = time.perf_counter() - start
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)
    return out


def load_dags(cfg) -> dict:
    path = dags_file(cfg)
    if not path.exists():
        raise FileNotFoundError(f"{path}: run extract_dags(cfg) first (the notebook's step 1)")
    return json.loads(path.read_text())


def attention_edges(lift, threshold: float) -> tuple[tuple[int, int], ...]:
    """Edges j -> i (j < i) where the lift, relative to the document's mean cross-sentence lift
    (`eval.attention_dag.relative_to_document`), exceeds `threshold` (-1 marks above the
    diagonal in the cache)."""
    from nblib.eval.attention_dag import dag_from_lift, relative_to_document

    lift = np.asarray(lift, dtype=float)
    return dag_from_lift(relative_to_document(np.where(lift < 0, np.nan, lift)), threshold).edges


def edges_of(cfg, corpus: str, condition: str) -> list[tuple | None]:
    """Per seed document, the edges its condition's orders respect (None: no constraint;
    "repeated" keeps the written order)."""
    n_docs = len(load_dags(cfg)[corpus])
    if condition == "uniform":
        return [()] * n_docs
    if condition == "true":
        return [TRUE_EDGES] * n_docs
    if condition == "attention":
        return [attention_edges(lift, cfg.threshold) for lift in load_dags(cfg)[corpus]]
    return [None] * n_docs


# ------------------------------------------------------------------ streams and jobs


def jobs(cfg) -> list[dict]:
    grid = [(c, k) for c in cfg.corpora for k in cfg.conditions
            if not (k == "true" and c != "bios")]
    return [{"corpus": c, "condition": k, "seed": s} for c, k in grid for s in cfg.seed_list]


def qa_split(cfg) -> tuple[list[bios.Person], list[bios.Person]]:
    """(people whose QA is trained on, people whose QA is the extraction test): even and odd."""
    people = bios_people(cfg)
    return people[0::2], people[1::2]


def _qa_doc(person) -> tuple[list[tuple[int, ...]], list[tuple[bool, ...]]]:
    doc = bios.qa_document(person, WORLD)
    return ([tuple(WORLD.encode([w for w, _ in s])) for s in doc],
            [tuple(k != bios.TEXT for _, k in s) for s in doc])


def stream(cfg, job: dict, seed: list[SeedDoc]):
    """The job's endless stream: (sentences of token ids, fact flags or None), epochs over the
    seed documents in a random order, each in its condition's sentence order; for bios, QA
    documents of the trained half at `qa_share`."""
    rng = np.random.default_rng(derive_seed(job["seed"], "stream", job["corpus"],
                                            job["condition"]))
    edges = edges_of(cfg, job["corpus"], job["condition"])
    sorts = [LinearExtensions(len(d.ids), e) if e is not None else None
             for d, e in zip(seed, edges, strict=True)]
    qa = [_qa_doc(p) for p in qa_split(cfg)[0]] if job["corpus"] == "bios" else []
    while True:
        for i in rng.permutation(len(seed)):
            if qa and rng.random() < cfg.qa_share / (1 - cfg.qa_share):
                yield qa[int(rng.integers(len(qa)))]
            doc = seed[i]
            order = sorts[i].sample(rng) if sorts[i] is not None else range(len(doc.ids))
            yield ([doc.ids[k] for k in order],
                   [doc.facts[k] for k in order] if doc.facts is not None else None)


def read_stream(cfg, job: dict, seed: list[SeedDoc]) -> tuple[torch.Tensor, dict]:
    """The packed training windows (steps · batch_size, context + 1) and the stream's meter."""
    meter = Meter(cfg.ngram)
    start_id = WORLD.doc_id if job["corpus"] == "bios" else 0  # sotu: the EOS token

    def documents():
        for sentences, facts in stream(cfg, job, seed):
            meter.add(sentences, facts)
            yield [t for s in sentences for t in s]

    sequences = pack(documents(), cfg.context, cfg.steps * cfg.batch_size, start_id)
    return sequences, meter.result().as_dict()


# ------------------------------------------------------------------ evaluation


def _rows(docs: list[list[tuple[int, ...]]], labels: list[list[int]], start_id: int, pad_id: int):
    return pad_rows([[t for s in d for t in s] for d in docs], start_id, pad_id, labels=labels)


def bios_eval_sets(cfg) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Padded rows (n, L + 1) and labels (n, L): "val" (new people, natural order; labels: 0
    text, 1 name, 2 value), "val_reordered" (the same people in a random true-DAG order) and
    "qa" (the held-out half's QA documents; labels: the answer's index within the document for
    value tokens, -2 elsewhere)."""
    new, rng = WORLD.people(cfg.test_people, 0, "test"), random.Random("dag-eval")
    sorts, out = LinearExtensions(len(bios.ATTRIBUTES), TRUE_EDGES), {}
    nprng = np.random.default_rng(0)
    for name in ("val", "val_reordered"):
        docs, labels = [], []
        for person in new:
            doc = bios.render(person, WORLD, rng)
            order = sorts.sample(nprng) if name == "val_reordered" else range(len(doc))
            docs.append([tuple(WORLD.encode([w for w, _ in doc[k]])) for k in order])
            labels.append([kind for k in order for _, kind in doc[k]])
        out[name] = _rows(docs, labels, WORLD.doc_id, WORLD.pad_id)
    docs, labels = [], []
    for person in qa_split(cfg)[1]:
        doc = bios.qa_document(person, WORLD)
        docs.append([tuple(WORLD.encode([w for w, _ in s])) for s in doc])
        labels.append([a if kind == bios.VALUE else -2 for a, s in enumerate(doc)
                       for _, kind in s])
    out["qa"] = _rows(docs, labels, WORLD.doc_id, WORLD.pad_id)
    return out


def sotu_eval_windows(cfg) -> torch.Tensor:
    """`val_windows` windows of context + 1 tokens of held-out speeches (the val split), natural
    sentence order, encoded sentence by sentence as the training documents are."""
    from nblib.data.corpora import corpus_split

    def documents():
        for text in corpus_split("sotu", "val"):
            sentences = [" ".join(s.text.split()) for s in split_sentences(text[:4000])]
            yield [t for s in _encode_sentences(sentences, cfg.vocab_size) for t in s]

    return pack(documents(), cfg.context, cfg.val_windows, 0)


@torch.no_grad()
def evaluate(model, corpus: str, sets: dict, step: int) -> dict:
    """One checkpoint: mean losses (nats/token), also of the two halves of each validation set
    (even and odd rows: the cross-fitted minimum's samples), and, for bios, the QA answers'
    loss and exact match."""
    model.eval()
    out = {"step": step}
    if corpus == "sotu":
        losses = token_losses(model, sets["val"])  # (n, context)
        out["val_all"] = float(losses.mean())
        out["val_all_a"], out["val_all_b"] = float(losses[0::2].mean()), \
            float(losses[1::2].mean())
    else:
        for name in ("val", "val_reordered"):
            ids, kinds = sets[name]
            losses = token_losses(model, ids)  # (n, L)
            out[f"{name}_all"] = float(losses[kinds >= 0].mean())
            out[f"{name}_value"] = float(losses[kinds == bios.VALUE].mean())
            for half, rows in (("a", slice(0, None, 2)), ("b", slice(1, None, 2))):
                out[f"{name}_all_{half}"] = float(losses[rows][kinds[rows] >= 0].mean())
        ids, answer = sets["qa"]
        logits = model(input_ids=ids[:, :-1]).logits  # (n, L, V)
        right = logits.argmax(-1) == ids[:, 1:]  # (n, L)
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:],
                                                   reduction="none")  # (n, L)
        value = answer >= 0
        out["qa_value_loss"] = float(losses[value].mean())
        exact = [bool(right[r][answer[r] == a].all()) for r in range(len(ids))
                 for a in range(len(bios.ATTRIBUTES))]
        out["qa_accuracy"] = float(np.mean(exact))
    model.train()
    return out


def eval_sets(cfg, corpus: str) -> dict:
    return bios_eval_sets(cfg) if corpus == "bios" else {"val": sotu_eval_windows(cfg)}


def checkpoint_steps(cfg) -> list[int]:
    even = np.linspace(cfg.steps / cfg.n_checkpoints, cfg.steps, cfg.n_checkpoints)
    return sorted({0, *(int(round(s)) for s in even)})


def vocab_size(cfg, corpus: str) -> int:
    return WORLD.vocab_size if corpus == "bios" else cfg.vocab_size


def make_trainer(cfg, job: dict, sequences: torch.Tensor, device="cpu") -> Trainer:
    model = build_lm(shape_of(cfg, vocab_size=vocab_size(cfg, job["corpus"])),
                     seed=derive_seed(job["seed"], "init"))
    return Trainer(model.to(device), constant_after_warmup(cfg, derive_seed(job["seed"], "data")),
                   PassageBatches(sequences, cfg.batch_size))


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Meter, train and evaluate one (corpus, condition, seed). JSON-able."""
    start = time.perf_counter()
    sequences, repetition = read_stream(cfg, job, seed_set(cfg, job["corpus"]))
    sets = {k: tuple(t.to(device) for t in v) if isinstance(v, tuple) else v.to(device)
            for k, v in eval_sets(cfg, job["corpus"]).items()}
    trainer = make_trainer(cfg, job, sequences, device)
    evals = []
    for step in checkpoint_steps(cfg):
        trainer.fit(step)
        evals.append(evaluate(trainer.model, job["corpus"], sets, step))
    return {"evals": evals, "repetition": repetition,
            "tokens": int(sequences[:, :-1].numel()),
            "params": count_params(trainer.model)["total"],
            "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    return checkpoints_dir(SLUG, cache_key(cfg, "dag", "train", "eval"), "runs")


@dataclass(frozen=True)
class Results:
    """Every job's checkpoints and meter as tables."""

    curves: pd.DataFrame  # one row per (corpus, condition, seed, step)
    streams: pd.DataFrame  # one row per job: the repetition meter
    steps: list[int]  # the checkpoint steps, step 0 first
    params: dict  # corpus -> parameters of its model
    seconds: dict  # job label -> wall seconds


def label(job: dict) -> str:
    return f"{job['corpus']}-{job['condition']}-seed{job['seed']}"


def tables(cfg, results: JobResults) -> Results:
    curves, streams, params = [], [], {}
    for job, res in zip(results.jobs, results, strict=True):
        curves += [{**job, **e} for e in res["evals"]]
        streams.append({**job, **res["repetition"], "tokens": res["tokens"]})
        params[job["corpus"]] = res["params"]
    seconds = {label(j): round(r["seconds"], 1) for j, r in zip(results.jobs, results,
                                                                  strict=True)}
    return Results(pd.DataFrame(curves), pd.DataFrame(streams), checkpoint_steps(cfg), params,
                   seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every job, trained or read back from the record (the DAGs must be extracted first)."""
    load_dags(cfg)  # a clear error before any job starts
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=label)
    return tables(cfg, results)


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds: the prefills (about 0.003 s per pretrained-model token on a CPU
    core, an estimate) plus, per job, timed training steps and one timed evaluation on this
    machine, in rounds of `workers`."""
    prefill = 0.003 * (cfg.people * 100 * ("bios" in cfg.corpora)
                       + cfg.speeches * cfg.max_tokens * ("sotu" in cfg.corpora))
    per_job = []
    for corpus in cfg.corpora:
        job = {"corpus": corpus, "condition": "repeated", "seed": 0}
        vocab = vocab_size(cfg, corpus)
        sequences = torch.randint(0, vocab, (8 * cfg.batch_size, cfg.context + 1))
        trainer = make_trainer(cfg, job, sequences, device)
        train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
        sets = eval_sets(cfg, corpus) if corpus == "bios" else \
            {"val": torch.randint(0, vocab, (cfg.val_windows, cfg.context + 1))}
        start = time.perf_counter()
        evaluate(trainer.model, corpus, sets, 0)
        eval_s = (time.perf_counter() - start) * len(checkpoint_steps(cfg))
        n_jobs = sum(j["corpus"] == corpus for j in jobs(cfg))
        per_job += [train_s + eval_s] * n_jobs
    rounds = math.ceil(len(per_job) / max(1, workers))
    return float(prefill + rounds * np.mean(per_job))
