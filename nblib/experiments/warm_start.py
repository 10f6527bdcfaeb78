"""Notebook 01: warm-starting pretraining from a previous-generation model. A small teacher is
trained first; a larger student is then trained at several budgets from scratch (next-token
prediction), or with distillation from the teacher whose weight is annealed to zero (KD → NTP) or
kept constant.

Every run is recorded as soon as it finishes (`nblib.train.grid`), so an interrupted notebook
resumes where it stopped. Compute is counted in FLOPs (`flops_per_token`): the student's training
FLOPs, plus the teacher's forward passes on the steps where distillation is on. The comparisons
and verdicts live in `warm_start_analysis`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.corpora import PACKAGED
from nblib.data.tokenizer import load_tokens
from nblib.eval.lm_loss import eval_windows, mean_loss
from nblib.models.lm import LMShape, build_lm, count_params, flops_per_token
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, wsd_budgets
from nblib.train.distill import Distillation, KDSchedule
from nblib.train.grid import run_jobs
from nblib.train.objectives import next_token_loss
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "01_warm_start_distillation"
SCRATCH = "scratch"  # the condition name of plain next-token prediction from scratch
TEACHER_FIELDS = ("corpus", "vocab_size", "context", "batch_size", "n_layers", "n_heads", "teacher_width",
                  "teacher_tpp", "teacher_lr", "warmup_steps", "decay_fraction", "eval_windows")
STUDENT_FIELDS = TEACHER_FIELDS + ("student_width", "lr", "temperature", "curve_points")  # a job adds the rest


@dataclass(frozen=True)
class WarmStartConfig:
    """Parameters of notebook 01 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds (teacher, student init and data order)", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    corpus: str = param("sotu", "training corpus (packaged name or hf:<dataset>)")
    vocab_size: int = param(512, "byte-level BPE vocabulary (shared by teacher and student)", low=257, high=65536)
    context: int = param(64, "tokens per training window", low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", low=1, high=4096)
    n_layers: int = param(2, "transformer blocks of teacher and student", low=1, high=64)
    n_heads: int = param(2, "attention heads of teacher and student", low=1, high=64)
    teacher_width: int = param(16, "teacher d_model (the previous generation)", low=8, high=8192)
    teacher_tpp: float = param(300, "teacher's training tokens per non-embedding parameter", low=1, high=1e6)
    teacher_lr: float = param(6e-3, "teacher's peak learning rate", low=1e-6, high=1.0)
    student_width: int = param(32, "student d_model (the next generation)", low=8, high=8192)
    tpp: list[float] = param([4, 8, 16, 32, 64], "student budgets, tokens per non-embedding parameter",
                             item_low=0.01, item_high=1e6)
    lr: float = param(3e-3, "student's peak learning rate", low=1e-6, high=1.0)
    warmup_steps: int = param(5, "linear warmup steps of every run", low=0, high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each run spent decaying the LR to 0", low=0.01, high=1.0)
    conditions: list[str] = param(["linear:0.3", "linear:0.6", "cosine:0.3", "step:0.3", "constant:0.5"],
                                  "KD schedules 'shape:value' compared with training from scratch")
    headline: str = param("linear:0.3", "the condition the verdicts are about (one of conditions)")
    temperature: float = param(1.0, "distillation temperature T", low=0.05, high=100.0)
    eval_windows: int = param(512, "held-out windows for every loss", low=4, high=10**6)
    curve_points: int = param(16, "validation points along each run at the largest budget", low=0, high=1000)
    workers: int = param(2, "training runs at once (processes, CPU only)", low=1, high=64)

    def check(self) -> None:
        if self.corpus not in PACKAGED and not self.corpus.startswith("hf:"):
            raise ConfigError(f"corpus={self.corpus!r}: use one of {PACKAGED} or 'hf:<dataset>'")
        for width in (self.teacher_width, self.student_width):
            LMShape(d_model=width, n_heads=self.n_heads).check()
        schedules = [KDSchedule.parse(c) for c in self.conditions]  # raises on a malformed one
        if not schedules or len(set(self.conditions)) != len(self.conditions):
            raise ConfigError(f"conditions={self.conditions}: need at least one, without repeats")
        if self.headline not in self.conditions:
            raise ConfigError(f"headline={self.headline!r} is not one of conditions={self.conditions}")
        if len(set(self.tpp)) < 3:
            raise ConfigError(f"tpp={self.tpp}: the trend over compute needs at least 3 budgets")
        first = student_budgets(self)[0]
        if first.decay_start <= self.warmup_steps:
            raise ConfigError(f"tpp={min(self.tpp)} gives the student only {first.total_steps} steps, too few to "
                              f"warm up ({self.warmup_steps} steps) and decay: raise the smallest tpp, lower "
                              "warmup_steps or batch_size")


# --- shapes, budgets and compute -------------------------------------------------------------------
def shape(cfg: WarmStartConfig, width: int) -> LMShape:
    return LMShape(vocab_size=cfg.vocab_size, d_model=width, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                   context=cfg.context)


def n_params(s: LMShape) -> int:
    """Non-embedding parameters (the N that budgets are counted in)."""
    return count_params(build_lm(s))["non_embedding"]


def tokens_per_step(cfg: WarmStartConfig) -> int:
    return cfg.batch_size * cfg.context


def student_budgets(cfg: WarmStartConfig) -> list[Budget]:
    return wsd_budgets(n_params(shape(cfg, cfg.student_width)), cfg.tpp, tokens_per_step(cfg), cfg.decay_fraction)


def scratch_budgets(cfg: WarmStartConfig) -> list[Budget]:
    """The student budgets plus one above the largest that costs at least as much as the largest
    distilled run with its teacher's forward passes, so scratch's loss can be read off at every
    distilled run's total compute (interpolated, never extrapolated)."""
    extra = max(cfg.tpp) * (1 + teacher_forward_share(cfg)) * 1.05
    return wsd_budgets(n_params(shape(cfg, cfg.student_width)), [*cfg.tpp, extra], tokens_per_step(cfg),
                       cfg.decay_fraction)


def teacher_budget(cfg: WarmStartConfig) -> Budget:
    return wsd_budgets(n_params(shape(cfg, cfg.teacher_width)), [cfg.teacher_tpp], tokens_per_step(cfg),
                       cfg.decay_fraction)[0]


def teacher_forward_share(cfg: WarmStartConfig) -> float:
    """Teacher forward FLOPs per token / student training FLOPs per token."""
    return (flops_per_token(shape(cfg, cfg.teacher_width))["forward"]
            / flops_per_token(shape(cfg, cfg.student_width))["train"])


def plan(cfg: WarmStartConfig, corpus_tokens: int | None = None) -> pd.DataFrame:
    """One row per student budget: steps, tokens, student training FLOPs, epochs of the corpus,
    and the steps on which each KD schedule runs the teacher."""
    student_flops = flops_per_token(shape(cfg, cfg.student_width))["train"]
    rows = []
    for b in student_budgets(cfg):
        tokens = b.total_steps * tokens_per_step(cfg)
        row = {"tpp": b.tpp, "steps": b.total_steps, "tokens": tokens, "student_flops": tokens * student_flops,
               "epochs": tokens / corpus_tokens if corpus_tokens else float("nan")}
        for c in cfg.conditions:
            row[f"KD steps {c}"] = KDSchedule.parse(c).last_kd_step(b.total_steps)
        rows.append(row)
    return pd.DataFrame(rows)


def total_steps(cfg: WarmStartConfig) -> int:
    """Optimizer steps of every run (teachers, scratch with its decay branches, every KD run)."""
    teacher = teacher_budget(cfg).total_steps
    scratch = scratch_budgets(cfg)
    scratch_steps = max(b.decay_start for b in scratch) + sum(b.total_steps - b.decay_start for b in scratch)
    kd = sum(b.total_steps for b in student_budgets(cfg)) * len(cfg.conditions)
    return cfg.seeds * (teacher + scratch_steps + kd)


# --- runs ----------------------------------------------------------------------------------------
def _data(cfg: WarmStartConfig) -> tuple[torch.Tensor, torch.Tensor]:
    train = torch.from_numpy(load_tokens(cfg.corpus, "train", cfg.vocab_size).astype("int64"))
    val = eval_windows(load_tokens(cfg.corpus, "val", cfg.vocab_size), cfg.context, cfg.eval_windows)
    return train, val  # (n_tokens,), (eval_windows, context + 1)


def teachers_folder(cfg: WarmStartConfig):
    return checkpoints_dir(SLUG, fingerprint(cfg, TEACHER_FIELDS), "teachers")


def students_folder(cfg: WarmStartConfig):
    return checkpoints_dir(SLUG, fingerprint(cfg, STUDENT_FIELDS), "students")


def _trainer(cfg: WarmStartConfig, model, lr: float, seed: int, train: torch.Tensor, schedule: Schedule,
             val=None, eval_every: int = 0, objective=next_token_loss, log_every: int = 10) -> Trainer:
    train_cfg = TrainConfig(lr=lr, schedule=schedule, seed=seed, eval_every=eval_every, log_every=log_every)
    return Trainer(model, train_cfg, RandomWindows(train, cfg.batch_size, cfg.context), val_windows=val,
                   objective=objective)


def train_teacher(cfg: WarmStartConfig, job: dict, device: str = "cpu") -> dict:
    """The previous-generation model of one seed: one WSD run to teacher_tpp, saved for the students."""
    start = time.perf_counter()
    train, val = _data(cfg)
    s, b = shape(cfg, cfg.teacher_width), teacher_budget(cfg)
    model = build_lm(s, seed=10_000 + job["seed"]).to(device)
    schedule = Schedule("wsd", cfg.warmup_steps, decay_start=b.decay_start, decay_steps=b.total_steps - b.decay_start)
    _trainer(cfg, model, cfg.teacher_lr, 10_000 + job["seed"], train, schedule).fit(b.total_steps)
    path = teachers_folder(cfg) / f"teacher-seed{job['seed']}.pt"
    torch.save(model.state_dict(), path)
    tokens = b.total_steps * tokens_per_step(cfg)
    return {"loss": mean_loss(model, val), "path": path.name, "N": n_params(s), "tokens": tokens,
            "train_flops": tokens * flops_per_token(s)["train"], "seconds": time.perf_counter() - start}


def load_teacher(cfg: WarmStartConfig, seed: int, device: str = "cpu") -> torch.nn.Module:
    """The teacher of `seed`, trained by `train_teacher` (an error if it has not been)."""
    path = teachers_folder(cfg) / f"teacher-seed{seed}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no teacher for seed {seed} at {path}: run run_teachers(cfg) first")
    model = build_lm(shape(cfg, cfg.teacher_width))
    model.load_state_dict(torch.load(path, map_location="cpu"))
    return model.to(device).eval()


def _curve(history: list[dict]) -> list[dict]:
    return [{"tokens": h["tokens"], "loss": h["val_loss"]} for h in history if "val_loss" in h]


def _eval_every(cfg: WarmStartConfig, steps: int, tpp: float) -> int:
    """Validation points along the run only at the largest budget (the training-curve figure)."""
    return max(1, steps // cfg.curve_points) if cfg.curve_points and tpp == max(cfg.tpp) else 0


def train_scratch(cfg: WarmStartConfig, job: dict, device: str = "cpu") -> dict:
    """Next-token prediction from scratch: one WSD run with an annealed decay branch at every budget
    (the same as a separate run per budget with the same seed, at the cost of one)."""
    start = time.perf_counter()
    train, val = _data(cfg)
    s, budgets = shape(cfg, cfg.student_width), scratch_budgets(cfg)
    flops = flops_per_token(s)["train"]
    top = next(b for b in budgets if b.tpp == max(cfg.tpp))
    main = _trainer(cfg, build_lm(s, seed=job["seed"]).to(device), cfg.lr, job["seed"], train,
                    Schedule("wsd", cfg.warmup_steps), val, _eval_every(cfg, top.total_steps, top.tpp))
    points = []
    for b, branch in annealed_branches(main, budgets):
        tokens, loss = b.total_steps * tokens_per_step(cfg), mean_loss(branch.model, val)
        curve = _curve(branch.history) + [{"tokens": tokens, "loss": loss}] if b is top else []
        points.append({"tpp": b.tpp, "tokens": tokens, "student_flops": tokens * flops, "teacher_tokens": 0,
                       "loss": loss, "curve": curve})
    return {"points": points, "seconds": time.perf_counter() - start}


def train_distilled(cfg: WarmStartConfig, job: dict, device: str = "cpu") -> dict:
    """One student trained with a KD schedule at one budget (its own WSD run: the schedule's length
    depends on the budget)."""
    start = time.perf_counter()
    train, val = _data(cfg)
    s = shape(cfg, cfg.student_width)
    b = next(b for b in student_budgets(cfg) if b.tpp == job["tpp"])
    objective = Distillation(load_teacher(cfg, job["seed"], device), KDSchedule.parse(job["condition"]),
                             b.total_steps, cfg.temperature)
    schedule = Schedule("wsd", cfg.warmup_steps, decay_start=b.decay_start, decay_steps=b.total_steps - b.decay_start)
    trainer = _trainer(cfg, build_lm(s, seed=job["seed"]).to(device), cfg.lr, job["seed"], train, schedule, val,
                       _eval_every(cfg, b.total_steps, b.tpp), objective)
    trainer.fit(b.total_steps)
    tokens = b.total_steps * tokens_per_step(cfg)
    loss = mean_loss(trainer.model, val)
    curve = _curve(trainer.history) + [{"tokens": tokens, "loss": loss}] if trainer.cfg.eval_every else []
    return {"points": [{"tpp": b.tpp, "tokens": tokens, "student_flops": tokens * flops_per_token(s)["train"],
                        "teacher_tokens": objective.teacher_tokens, "loss": loss, "curve": curve}],
            "seconds": time.perf_counter() - start}


def train_student(cfg: WarmStartConfig, job: dict, device: str = "cpu") -> dict:
    """A student job: {"condition": "scratch", "seed", "budgets"} or {"condition": KD schedule, "seed", "tpp"}."""
    if job["condition"] == SCRATCH:
        return train_scratch(cfg, job, device)
    return train_distilled(cfg, job, device)


def run_teachers(cfg: WarmStartConfig, device="cpu", workers: int = 1) -> pd.DataFrame:
    """One teacher per seed (loaded when already trained with the same settings)."""
    jobs = [{"seed": s} for s in range(cfg.seeds)]
    _data(cfg)  # tokenizer and caches once, before any worker
    results = run_jobs(train_teacher, cfg, jobs, teachers_folder(cfg), device, workers)
    return pd.DataFrame([{"seed": j["seed"], **{k: v for k, v in r.items() if k != "path"}}
                         for j, r in zip(jobs, results, strict=True)])


def student_jobs(cfg: WarmStartConfig) -> list[dict]:
    """Every student run, the longest first (so parallel workers finish together)."""
    budgets = [b.tpp for b in scratch_budgets(cfg)]
    jobs = [{"condition": SCRATCH, "seed": s, "budgets": budgets} for s in range(cfg.seeds)]
    jobs += [{"condition": c, "seed": s, "tpp": t} for t in sorted(set(cfg.tpp), reverse=True)
             for c in cfg.conditions for s in range(cfg.seeds)]
    return jobs


def run_students(cfg: WarmStartConfig, device="cpu", workers: int = 1, bar=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every student run (teachers must exist): one row per (condition, seed, budget) with its
    held-out loss and compute, and the validation curves at the largest budget."""
    jobs = student_jobs(cfg)
    results = run_jobs(train_student, cfg, jobs, students_folder(cfg), device, workers, bar,
                       label=lambda job: f"{job['condition']} seed={job['seed']}")
    teacher_forward = flops_per_token(shape(cfg, cfg.teacher_width))["forward"]
    rows, curves = [], []
    for job, res in zip(jobs, results, strict=True):
        for p in res["points"]:
            rows.append({"condition": job["condition"], "seed": job["seed"], "tpp": p["tpp"], "tokens": p["tokens"],
                         "student_flops": p["student_flops"], "teacher_tokens": p["teacher_tokens"],
                         "total_flops": p["student_flops"] + teacher_forward * p["teacher_tokens"],
                         "loss": p["loss"]})
            curves += [{"condition": job["condition"], "seed": job["seed"], **c} for c in p["curve"]]
    return pd.DataFrame(rows), pd.DataFrame(curves)


def kd_end_tokens(cfg: WarmStartConfig, condition: str) -> float:
    """Tokens at which the KD phase of `condition` ends in the largest-budget run (inf: never)."""
    b = max(student_budgets(cfg), key=lambda b: b.total_steps)
    schedule = KDSchedule.parse(condition)
    if schedule.shape == "constant":
        return math.inf
    return schedule.last_kd_step(b.total_steps) * tokens_per_step(cfg)
