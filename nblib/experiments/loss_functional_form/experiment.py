"""Notebook 03's compute: a grid of tiny LMs over model size N and tokens D, every point annealed,
for fitting the functional form of L(N, D).

Each (width, seed) job is one warmup-stable-decay run with a decay branch ending at every budget
(tokens per non-embedding parameter); the validation loss of each annealed branch is one point.
Jobs run through `nblib.train.grid.run_jobs` (parallel processes, each result recorded when it
finishes, so an interrupted grid resumes), in a folder named by `cache_key(cfg, "train")`. The
fitting and the verdicts live in `analysis`.
"""

from __future__ import annotations

import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.splits import token_splits
from nblib.eval.lm_loss import mean_loss
from nblib.experiments.loss_functional_form import SLUG
from nblib.models.lm import LMShape, build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, steps_for, wsd_budgets
from nblib.train.grid import job_id, run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step


def shapes(cfg) -> list[LMShape]:
    """One shape per model size, narrowest first."""
    return [shape_of(cfg, d_model=w) for w in sorted(cfg.widths)]


def n_params(shape: LMShape) -> int:
    """Non-embedding parameters: the N of the fits (Kaplan et al.'s convention)."""
    return count_params(build_lm(shape))["non_embedding"]


def peak_lr(cfg, width: int) -> float:
    """lr at lr_width, scaled as 1/width (narrow models take larger steps; muP's rule for the
    hidden matrices), so that no size is handicapped by one shared learning rate."""
    return cfg.lr * cfg.lr_width / width


def budgets(cfg, shape: LMShape) -> list[Budget]:
    return wsd_budgets(n_params(shape), cfg.tpp, cfg.batch_size * cfg.context, cfg.decay_fraction)


def plan(cfg, corpus_tokens: int | None = None) -> pd.DataFrame:
    """One row per size and budget: N, steps, tokens D and (given the corpus size) epochs."""
    rows = []
    for shape in shapes(cfg):
        n = n_params(shape)
        for b in budgets(cfg, shape):
            tokens = b.total_steps * cfg.batch_size * cfg.context
            rows.append({"d_model": shape.d_model, "N": n, "tpp": b.tpp, "steps": b.total_steps,
                         "D": tokens,
                         "epochs": tokens / corpus_tokens if corpus_tokens else float("nan")})
    return pd.DataFrame(rows)


def total_steps(cfg) -> int:
    """Optimizer steps of the whole grid (all sizes and seeds, decay branches included)."""
    return cfg.seeds * sum(steps_for(budgets(cfg, s)) for s in shapes(cfg))


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected seconds of the grid: a few real optimizer steps of every model size, timed on
    `device` (one thread each when the jobs run in `workers` processes), times that size's steps
    (all seeds, decay branches included), shared by the workers."""
    train = _data(cfg).train
    threads = torch.get_num_threads()
    if torch.device(device).type == "cpu" and workers > 1:
        torch.set_num_threads(1)  # each worker process runs one thread
    try:
        seconds = sum(cfg.seeds * steps_for(budgets(cfg, shape))
                      * seconds_per_step(_trainer(cfg, shape, 0, train, device), steps=5,
                                         warmup=2)
                      for shape in shapes(cfg))
    finally:
        torch.set_num_threads(threads)
    return seconds / max(1, workers)


def summary(cfg, corpus_tokens: int) -> str:
    """The size of the grid in one sentence (printed by the setup cell)."""
    return (f"{len(cfg.widths) * cfg.seeds} runs, {total_steps(cfg):,} optimizer steps in all; "
            f"{corpus_tokens:,} training tokens in the corpus")


def runs_folder(cfg):
    """Where each job's result is recorded, keyed by every field that shapes the losses."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train"), "runs")


def _data(cfg):
    return token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)


def _trainer(cfg, shape: LMShape, seed: int, train: torch.Tensor, device) -> Trainer:
    """A WSD run of one size (no decay of its own: the branches decay)."""
    train_cfg = TrainConfig(lr=peak_lr(cfg, shape.d_model), schedule=Schedule(
        "wsd", cfg.warmup_steps), weight_decay=cfg.weight_decay, grad_clip=cfg.grad_clip,
        seed=seed, log_every=max(1, budgets(cfg, shape)[-1].total_steps // 100))
    model = build_lm(shape, seed=seed).to(device)
    return Trainer(model, train_cfg, RandomWindows(train, cfg.batch_size, cfg.context))


def train_run(cfg, job: dict, device: str = "cpu") -> dict:
    """One size and seed: a WSD run with a decay branch ending at each budget; the validation loss
    of every annealed branch."""
    shape = shape_of(cfg, d_model=job["width"])
    data = _data(cfg)
    main = _trainer(cfg, shape, job["seed"], data.train, device)
    points = []
    for budget, branch in annealed_branches(main, budgets(cfg, shape)):
        points.append({"tpp": budget.tpp, "steps": budget.total_steps,
                       "D": budget.total_steps * cfg.batch_size * cfg.context,
                       "loss": mean_loss(branch.model, data.val)})
    return {"N": n_params(shape), "points": points}


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> tuple[pd.DataFrame, dict]:
    """Every (size, seed) job, largest first; returns one row per annealed point and the seconds
    each job took (a job recorded by an earlier run is loaded, not retrained)."""
    jobs = [{"width": w, "seed": s} for w in sorted(cfg.widths, reverse=True)
            for s in cfg.seed_list]
    _data(cfg)  # tokenizer and caches once, before any worker
    results = run_jobs(train_run, cfg, jobs, runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"d_model={job['width']} seed={job['seed']}")
    n = results.table.N
    points = results.rows("points").rename(columns={"width": "d_model"})
    points.insert(2, "N", points.d_model.map(dict(zip(results.table.width, n, strict=True))))
    seconds = {f"d{job['width']}-seed{job['seed']}": round(results.seconds[job_id(job)], 1)
               for job in jobs}
    return points.sort_values(["N", "seed", "tpp"], ignore_index=True), seconds
