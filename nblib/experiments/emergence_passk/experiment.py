"""Notebook 06's compute: one tiny Llama per (width, seed) trained from scratch on d-digit
addition (warmup, then a constant learning rate, so a checkpoint at step t is the same model
whatever the total budget), evaluated at step 0 and at log-spaced checkpoints on the held-out
problems:

- exact log p of each problem's answer string and stop token (`eval.exact.answer_logprobs`, one
  teacher-forced pass), hence exact pass@k for every k of `pass_ks`;
- greedy exact match (the KV-cached sampler at T = 0);
- `samples` answers per problem at T = 1 (the KV-cached sampler) graded exactly: the unbiased
  pass@k of `eval.passk`, the cross-check of the exact one;
- the validation loss: mean cross-entropy per answer token (digits and stop) of the same problems,
  which is −mean log p / (d + 2): a transform of the same likelihoods, averaged before the
  exponential instead of after it.

Jobs run through `train.grid.run_jobs`, each recorded the moment it finishes (a rerun resumes).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.tasks.addition import AdditionTask
from nblib.env import derive_seed
from nblib.eval.decoding import generate
from nblib.eval.exact import answer_logprobs, exact_pass_at_k
from nblib.eval.passk import pass_at_k
from nblib.experiments.emergence_passk import SLUG
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import JobResults, run_jobs
from nblib.train.trainer import Trainer, constant_after_warmup, seconds_per_step

SAMPLE_BATCH = 8192  # rows decoded at once (part of what a sampling seed reproduces)


def task_of(cfg) -> AdditionTask:
    return AdditionTask(cfg.digits, cfg.test_problems, split_seed=0)


def checkpoint_steps(cfg) -> list[int]:
    """Step 0 (the untrained model: a model that never moves) and `n_checkpoints` log-spaced
    steps from `first_checkpoint` to `steps`."""
    return [0] + geometric_steps(cfg.steps, cfg.n_checkpoints, first=cfg.first_checkpoint)


def jobs(cfg) -> list[dict]:
    return [{"width": w, "seed": s} for w in cfg.widths for s in cfg.seed_list]


def make_trainer(cfg, task: AdditionTask, width: int, seed: int, device="cpu") -> Trainer:
    model = build_lm(shape_of(cfg, d_model=width, vocab_size=task.vocab.size,
                              context=task.seq_len), seed=seed)
    return Trainer(model.to(device), constant_after_warmup(cfg, derive_seed(seed, "data")),
                   task.batches(cfg.batch_size))


def evaluate(cfg, model, task: AdditionTask, pairs: torch.Tensor, seed: int, step: int) -> dict:
    """One checkpoint on the held-out `pairs` (P, 2): per-problem log p, greedy correctness and
    sampled correct counts; the validation loss per answer token."""
    prompts, answers = task.prompts(pairs), task.answers(pairs)  # (P, 2d+2), (P, d+1)
    log_p = answer_logprobs(model, prompts, answers, stop_id=task.vocab.stop_id)  # (P,)
    n_new = task.answer_len + 1
    greedy = generate(model, prompts, n_new, stop_id=task.vocab.stop_id,
                      pad_id=task.vocab.pad_id, batch_size=SAMPLE_BATCH, cached=True)  # (P, d+2)
    gen = torch.Generator().manual_seed(derive_seed(seed, "samples", step))
    rows = prompts.repeat_interleave(cfg.samples, 0)  # (P·n, 2d+2)
    drawn = generate(model, rows, n_new, 1.0, gen, stop_id=task.vocab.stop_id,
                     pad_id=task.vocab.pad_id, batch_size=SAMPLE_BATCH, sampler="multinomial",
                     cached=True).view(len(pairs), cfg.samples, n_new)  # (P, n, d+2)
    return {"step": step, "log_p": log_p.tolist(),
            "greedy": task.is_correct(pairs, greedy[:, None])[:, 0].tolist(),
            "correct": task.is_correct(pairs, drawn).sum(1).tolist(),
            "val_loss": float(-log_p.mean() / n_new)}


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Train one (width, seed) model, evaluating it at every checkpoint. JSON-able."""
    start = time.perf_counter()
    task = task_of(cfg)
    pairs = task.test_pairs()
    trainer = make_trainer(cfg, task, job["width"], job["seed"], device)
    evals = []
    for step in checkpoint_steps(cfg):
        trainer.fit(step)
        evals.append(evaluate(cfg, trainer.model, task, pairs, job["seed"], step))
    losses = [h["train_loss"] for h in trainer.history if "train_loss" in h]
    return {"evals": evals, "train_loss": losses, "params": count_params(trainer.model)["total"],
            "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Job results keyed by every field that shapes training or evaluation."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


@dataclass(frozen=True)
class Results:
    """Every job's checkpoints as tables and per-problem arrays."""

    curves: pd.DataFrame  # one row per (width, seed, step): greedy, exact pass@1, val_loss, ...
    passk: pd.DataFrame  # one row per (width, seed, step, k): exact and (k ≤ n) sampled pass@k
    log_p: dict  # (width, seed) -> (checkpoints, P) exact log p of each problem's answer
    greedy: dict  # (width, seed) -> (checkpoints, P) greedy exact match (bool)
    steps: list[int]  # the checkpoint steps, step 0 first
    params: dict  # width -> total parameters
    seconds: dict  # job label -> wall seconds


def tables(cfg, results: JobResults) -> Results:
    curves, passk, log_p, greedy, params = [], [], {}, {}, {}
    steps = checkpoint_steps(cfg)
    for job, res in zip(results.jobs, results, strict=True):
        key = (job["width"], job["seed"])
        lp = np.array([e["log_p"] for e in res["evals"]])  # (C, P)
        gr = np.array([e["greedy"] for e in res["evals"]], bool)  # (C, P)
        log_p[key], greedy[key], params[job["width"]] = lp, gr, res["params"]
        exact = exact_pass_at_k(lp, cfg.pass_ks)  # (K, C, P)
        for c, e in enumerate(res["evals"]):
            counts = np.array(e["correct"])  # (P,)
            sampled = pass_at_k(cfg.samples, counts, cfg.sampled_ks).mean(-1)  # (len(sampled_ks),)
            curves.append({**job, "step": e["step"], "greedy": float(gr[c].mean()),
                           "exact": float(np.exp(lp[c]).mean()), "val_loss": e["val_loss"],
                           "sampled_pass1": float(counts.mean() / cfg.samples),
                           "mean_log_p": float(lp[c].mean())})
            by_k = dict(zip(cfg.sampled_ks, sampled.tolist(), strict=True))
            passk += [{**job, "step": e["step"], "k": k, "exact": float(exact[i, c].mean()),
                       "sampled": by_k.get(k, float("nan"))}
                      for i, k in enumerate(cfg.pass_ks)]
    seconds = {f"d{j['width']}-seed{j['seed']}": round(r["seconds"], 1)
               for j, r in zip(results.jobs, results, strict=True)}
    return Results(pd.DataFrame(curves), pd.DataFrame(passk), log_p, greedy, steps, params,
                   seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every (width, seed) job, trained or read back from the record."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda j: f"d={j['width']} seed={j['seed']}")
    return tables(cfg, results)


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: timed training steps and one timed evaluation per
    width on this machine (throwaway models), scaled to every job in rounds of `workers`."""
    task, per_job = task_of(cfg), []
    pairs = task.test_pairs()
    for width in cfg.widths:
        trainer = make_trainer(cfg, task, width, 0, device)
        train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
        start = time.perf_counter()
        evaluate(cfg, trainer.model, task, pairs, 0, 0)
        eval_s = (time.perf_counter() - start) * len(checkpoint_steps(cfg))
        per_job += [train_s + eval_s] * cfg.seeds
    rounds = math.ceil(len(per_job) / max(1, workers))  # a GPU runs one job at a time
    return float(rounds * np.mean(per_job))
