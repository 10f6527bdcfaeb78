"""Notebook 13's compute: one job per (family, seed), then the conditions that need two models.

1. Train a tiny Llama from scratch on fresh problems, each row's format uniform over its family's
   formats (base: direct, running, pairs; filler: the same plus filler), the loss on the
   completion after the tag. Both families of a seed start from the same weights and read the
   same problems.
2. On the evaluation problems (the same for every model), read the answer (argmax over the ten
   digits after '=') under each condition a model can be given alone: no trace (direct); the
   correct trace; its own trace (greedy, constrained to digits at the format's length); its own
   trace of the other format paraphrased into this one; its own trace with one step shifted by δ
   (position and δ drawn once, the same for every model) and the rest written by the model from
   there; its own trace cut after a share of its steps; filler (filler family only).
3. Across models: each base model answers from the trace of the next seed's base model (another
   model of its kind) and from the same seed's filler-family model (another training mix).

Jobs run through `train.grid.run_jobs`, each recorded the moment it finishes (a rerun resumes);
each job's final weights are saved for step 3 and the widget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import ConfigError, cache_key
from nblib.data.tasks.digit_sum import (
    FORMATS,
    TRACES,
    DigitSumTask,
    implied_answer,
    other_format,
    paraphrase,
)
from nblib.env import derive_seed
from nblib.experiments.cot_semantics import SLUG
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import CheckpointStore
from nblib.train.grid import JobResults, run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

EVAL_BATCH = 2048  # rows per forward pass


def family_formats(family: str) -> list[str]:
    """The formats a family is trained on (and so may be asked in)."""
    if family == "base":
        return ["direct", *TRACES]
    if family == "filler":
        return list(FORMATS)
    raise ConfigError(f"family {family!r}: must be 'base' or 'filler'")


def jobs(cfg) -> list[dict]:
    return [{"family": f, "seed": s} for f in cfg.families for s in cfg.seed_list]


def eval_problems(cfg) -> torch.Tensor:
    """(N, n_digits) evaluation problems, drawn once (seed 0) for every model."""
    gen = torch.Generator().manual_seed(derive_seed(0, "eval-problems"))
    return cfg.task().problems(cfg.eval_problems, gen)


def corruptions(cfg, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per evaluation problem, the step shifted (N,) (uniform over the format's steps) and the
    shift δ (N,) (uniform in 1..9), drawn once for every model."""
    gen = torch.Generator().manual_seed(derive_seed(0, "corruptions", fmt))
    n = cfg.eval_problems
    where = torch.randint(cfg.task().trace_len(fmt), (n,), generator=gen)
    delta = torch.randint(1, 10, (n,), generator=gen)
    return where, delta


def make_trainer(cfg, family: str, seed: int, device="cpu") -> Trainer:
    task = cfg.task()
    model = build_lm(shape_of(cfg, vocab_size=task.vocab_size, context=task.max_len),
                     seed=derive_seed(seed, "init"))
    schedule = Schedule("cosine", cfg.warmup_steps, cfg.steps, final_ratio=0.1)
    train_cfg = TrainConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, schedule=schedule,
                            seed=derive_seed(seed, "data"), log_every=max(1, cfg.steps // 100))
    return Trainer(model.to(device), train_cfg,
                   task.batches(cfg.batch_size, family_formats(family)))


@torch.no_grad()
def read_answers(model, prefix: torch.Tensor) -> torch.Tensor:
    """(N,) the digit the model puts most probability on after each row of `prefix` (N, T)."""
    device, out = next(model.parameters()).device, []
    was_training = model.training
    model.eval()
    for start in range(0, len(prefix), EVAL_BATCH):
        logits = model(input_ids=prefix[start:start + EVAL_BATCH].to(device)).logits
        out.append(logits[:, -1, :10].argmax(-1).cpu())  # (b,)
    model.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def write_trace(model, task: DigitSumTask, problems: torch.Tensor, fmt: str,
                start: torch.Tensor | None = None) -> torch.Tensor:
    """(N, trace_len) the model's greedy trace of `fmt`, each step the most probable digit; it
    continues from the steps `start` (N, k) when given (k = 0: from the tag)."""
    steps = torch.zeros(len(problems), 0, dtype=torch.long) if start is None else start.long()
    for _ in range(task.trace_len(fmt) - steps.shape[1]):
        prefix = task.prefix(problems, fmt, steps, answer_next=False)
        steps = torch.cat([steps, read_answers(model, prefix)[:, None]], 1)
    return steps


def implied(steps: torch.Tensor, fmt: str) -> list[int]:
    return [implied_answer(row, fmt) for row in steps.tolist()]


def corrupted_trace(model, task, problems, own: torch.Tensor, fmt: str, where, delta):
    """Own traces (N, L) with step `where` shifted by `delta` and the rest rewritten by the model
    from there, one group of rows per position."""
    out = own.clone()
    for k in sorted(set(where.tolist())):
        rows = (where == k).nonzero().flatten()
        start = own[rows, :k + 1].clone()
        start[:, k] = (start[:, k] + delta[rows]) % 10
        out[rows] = write_trace(model, task, problems[rows], fmt, start)
    return out


def evaluate(cfg, model, family: str) -> dict:
    """Answers (lists over the evaluation problems) under every single-model condition, the own
    traces, and what the corrupted traces imply."""
    task, problems = cfg.task(), eval_problems(cfg)
    out = {"direct": read_answers(model, task.prefix(problems, "direct")).tolist()}
    if "filler" in family_formats(family):
        out["filler"] = read_answers(model, task.prefix(problems, "filler")).tolist()
    own = {f: write_trace(model, task, problems, f) for f in TRACES}
    for f in TRACES:
        out[f"trace_{f}"] = own[f].tolist()
        out[f"own_{f}"] = read_answers(model, task.prefix(problems, f, own[f])).tolist()
        out[f"true_{f}"] = read_answers(model, task.prefix(problems, f)).tolist()
        para = torch.tensor([paraphrase(p, s, other_format(f), f) for p, s in
                             zip(problems.tolist(), own[other_format(f)].tolist(), strict=True)])
        out[f"paraphrase_{f}"] = read_answers(model, task.prefix(problems, f, para)).tolist()
        where, delta = corruptions(cfg, f)
        bad = corrupted_trace(model, task, problems, own[f], f, where, delta)
        out[f"corrupt_{f}"] = read_answers(model, task.prefix(problems, f, bad)).tolist()
        out[f"corrupt_implied_{f}"] = implied(bad, f)
        for q in cfg.early_fractions:
            kept = own[f][:, :int(round(q * task.trace_len(f)))]
            out[f"early_{f}_{q:g}"] = read_answers(model, task.prefix(problems, f, kept)).tolist()
    return out


def store_for(cfg, family: str, seed: int) -> CheckpointStore:
    """The evaluated checkpoints of one (family, seed), keyed by every field that shapes
    training."""
    return CheckpointStore(checkpoints_dir(SLUG, cache_key(cfg, "train"), f"{family}-seed{seed}"))


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Train one (family, seed), saving and evaluating it alone at every checkpoint."""
    start = time.perf_counter()
    trainer = make_trainer(cfg, job["family"], job["seed"], device)
    store, evals = store_for(cfg, job["family"], job["seed"]), []
    for step in cfg.eval_steps:
        trainer.fit(step)
        store.save(trainer.model, step, dict(job))
        evals.append({"step": step, **evaluate(cfg, trainer.model, job["family"])})
    return {"evals": evals,
            "loss": [h["train_loss"] for h in trainer.history if "train_loss" in h],
            "params": count_params(trainer.model)["total"],
            "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Job results keyed by every field that shapes training or evaluation."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def load_model(cfg, family: str, seed: int, step: int, device="cpu"):
    return store_for(cfg, family, seed).load(step, device=device)


def cross_answers(cfg, results: JobResults, device="cpu") -> dict:
    """(family, seed, step) of each base model → answers from other models' traces at the same
    checkpoint: `other_{f}` (the next seed's base model, cyclically) and `other_family_{f}` (the
    same seed's filler model)."""
    task, problems = cfg.task(), eval_problems(cfg)
    traces = {(j["family"], j["seed"], e["step"]): e for j, r in zip(results.jobs, results,
                                                                     strict=True)
              for e in r["evals"]}
    seeds, out = cfg.seed_list, {}
    for step in cfg.eval_steps:
        for i, seed in enumerate(seeds):
            model, answers = load_model(cfg, "base", seed, step, device), {}
            donors = {"other": ("base", seeds[(i + 1) % len(seeds)], step)}
            if cfg.filler_family:
                donors["other_family"] = ("filler", seed, step)
            for name, donor in donors.items():
                for f in TRACES:
                    steps = torch.tensor(traces[donor][f"trace_{f}"])
                    answers[f"{name}_{f}"] = read_answers(
                        model, task.prefix(problems, f, steps)).tolist()
                    answers[f"{name}_trace_{f}"] = traces[donor][f"trace_{f}"]
            out[("base", seed, step)] = answers
    return out


@dataclass(frozen=True)
class Results:
    """Every model's answers as tables."""

    # one row per (family, seed, step, condition, format, fraction, problem): the answer, whether
    # it is correct and (given a trace) whether it is the answer that trace implies; after a
    # corrupted step also whether it shifted by δ (follows) or stayed the uncorrupted one's (keeps)
    answers: pd.DataFrame
    accuracy: pd.DataFrame  # one row per (family, seed, step, condition, format, fraction)
    traces: dict  # (family, seed, step) -> "trace_{f}" (own) / "other_trace_{f}" ... -> (N, L)
    steps: list[int]  # the evaluated checkpoints, the last = the end of training
    loss: pd.DataFrame  # one row per (family, seed, logged step): training loss
    problems: np.ndarray  # (N, n_digits) evaluation problems
    truth: np.ndarray  # (N,) their answers
    params: int  # parameters of every model
    seconds: dict  # job label -> wall seconds


def _condition(key: str) -> tuple[str, str, float]:
    """'own_pairs' → (own, pairs, nan); 'early_running_0.5' → (early, running, 0.5);
    'direct' → (direct, none, nan)."""
    for f in (*TRACES, "filler"):
        if key == f:
            return key, "none", float("nan")
        if key.endswith(f"_{f}"):
            return key[:-len(f) - 1], f, float("nan")
        if f"_{f}_" in key:
            head, q = key.split(f"_{f}_")
            return head, f, float(q)
    return key, "none", float("nan")


def _implied_by_given_trace(evals: dict, condition: str, fmt: str) -> np.ndarray | None:
    """(N,) the answer the trace a condition gave the model implies (None without a trace or
    for the correct one): own, another model's, the paraphrase (it keeps its source's), the
    corrupted one."""
    if fmt not in TRACES or condition in ("true", "early"):
        return None
    if condition == "corrupt":
        return np.asarray(evals[f"corrupt_implied_{fmt}"])
    if condition == "paraphrase":
        source = other_format(fmt)
        return np.array([implied_answer(s, source) for s in evals[f"trace_{source}"]])
    key = "trace_" + fmt if condition == "own" else f"{condition}_trace_{fmt}"
    return np.array([implied_answer(s, fmt) for s in evals[key]])


def tables(cfg, results: JobResults, cross: dict) -> Results:
    problems = eval_problems(cfg)
    truth = cfg.task().answers(problems).numpy()
    rows, loss, traces = [], [], {}
    for job, e in ((j, e) for j, r in zip(results.jobs, results, strict=True)
                   for e in r["evals"]):
        key = (job["family"], job["seed"], e["step"])
        evals = {**e, **cross.get(key, {})}
        traces[key] = {k: np.asarray(v) for k, v in evals.items() if "trace" in k}
        for name, answers in evals.items():
            if "trace" in name or "implied" in name or name == "step":
                continue
            condition, fmt, q = _condition(name)
            a = np.asarray(answers)
            part = {"family": job["family"], "seed": job["seed"], "step": e["step"],
                    "condition": condition,
                    "format": fmt, "fraction": q, "problem": np.arange(len(a)), "answer": a,
                    "correct": a == truth}
            written = _implied_by_given_trace(evals, condition, fmt)
            if written is not None:
                part["matches_trace"] = a == written
            if condition == "corrupt":
                delta = corruptions(cfg, fmt)[1].numpy()
                own = _implied_by_given_trace(evals, "own", fmt)
                part.update(follows=a == (own + delta) % 10, keeps=a == own)
            rows.append(pd.DataFrame(part))
    for job, res in zip(results.jobs, results, strict=True):
        every = max(1, cfg.steps // 100)
        loss += [{**job, "step": min((i + 1) * every, cfg.steps), "loss": v}
                 for i, v in enumerate(res["loss"])]
    answers = pd.concat(rows, ignore_index=True)
    for col in ("follows", "keeps", "matches_trace"):  # NaN where a condition has none
        answers[col] = answers[col].astype(float)
    keys = ["family", "seed", "step", "condition", "format", "fraction"]
    accuracy = answers.groupby(keys, dropna=False)[["correct", "follows", "keeps",
                                                     "matches_trace"]].mean().reset_index()
    seconds = {f"{j['family']}-seed{j['seed']}": round(r["seconds"], 1)
               for j, r in zip(results.jobs, results, strict=True)}
    return Results(answers, accuracy, traces, list(cfg.eval_steps), pd.DataFrame(loss),
                   problems.numpy(), truth, int(results[0]["params"]), seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every (family, seed) job, trained or read back from the record, and the cross-model
    conditions (recomputed from the saved weights: a few forward passes)."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda j: f"{j['family']} seed={j['seed']}")
    return tables(cfg, results, cross_answers(cfg, results, device))


def baselines(cfg) -> dict:
    """Accuracies that need no model: a blind guess (1/10) and the best constant answer (the
    most frequent answer of the evaluation problems, chosen on them: optimistic)."""
    truth = cfg.task().answers(eval_problems(cfg)).numpy()
    return {"chance": 0.1, "constant": float(np.bincount(truth, minlength=10).max() / len(truth))}


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: timed training steps and one evaluation of a
    throwaway untrained model, scaled to every job in rounds of `workers`."""
    trainer = make_trainer(cfg, cfg.families[-1], 0, device)
    train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
    start = time.perf_counter()
    evaluate(cfg, trainer.model, cfg.families[-1])
    eval_s = (time.perf_counter() - start) * 1.5 * cfg.checkpoints  # and the cross-model answers
    rounds = math.ceil(len(jobs(cfg)) / max(1, workers))  # a GPU runs one job at a time
    return float(rounds * (train_s + eval_s))
