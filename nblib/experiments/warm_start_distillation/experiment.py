"""Notebook 01's compute: the teachers, then the students (from scratch and distilled), each a
resumable job grid (`nblib.train.grid.run_jobs`) in a folder named by `cache_key`.

Compute is counted in FLOPs (`flops_per_token`): the student's training FLOPs, plus the teacher's
forward passes on the steps where distillation is on. The comparisons and verdicts live in
`analysis`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_model, save_model

from nblib.config import cache_key
from nblib.data.splits import token_splits
from nblib.eval.lm_loss import mean_loss
from nblib.experiments.warm_start_distillation import SLUG
from nblib.models.lm import LMShape, build_lm, count_params, flops_per_token, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, steps_for, wsd_budgets
from nblib.train.distill import Distillation, KDSchedule
from nblib.train.grid import job_id, run_jobs
from nblib.train.objectives import next_token_loss
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

SCRATCH = "scratch"  # the condition name of plain next-token prediction from scratch


TEACHER_SEED_OFFSET = 10_000  # teachers' seeds: 10_000 + seed, apart from the students' seeds


# --- shapes, budgets and compute -------------------------------------------------------------

def shape(cfg, width: int) -> LMShape:
    """The teacher's or the student's shape: the config's LM fields at d_model `width`."""
    return shape_of(cfg, d_model=width)


def n_params(s: LMShape) -> int:
    """Non-embedding parameters (the N that budgets are counted in)."""
    return count_params(build_lm(s))["non_embedding"]


def tokens_per_step(cfg) -> int:
    return cfg.batch_size * cfg.context


def student_budgets(cfg) -> list[Budget]:
    return wsd_budgets(n_params(shape(cfg, cfg.student_width)), cfg.tpp, tokens_per_step(cfg),
                       cfg.decay_fraction)


def scratch_budgets(cfg) -> list[Budget]:
    """The student budgets plus one above the largest that costs at least as much as the largest
    distilled run with its teacher's forward passes, so scratch's loss can be read off at every
    distilled run's total compute (interpolated, never extrapolated)."""
    extra = max(cfg.tpp) * (1 + teacher_forward_share(cfg)) * 1.05
    return wsd_budgets(n_params(shape(cfg, cfg.student_width)), [*cfg.tpp, extra],
                       tokens_per_step(cfg), cfg.decay_fraction)


def teacher_budget(cfg) -> Budget:
    return wsd_budgets(n_params(shape(cfg, cfg.teacher_width)), [cfg.teacher_tpp],
                       tokens_per_step(cfg), cfg.decay_fraction)[0]


def teacher_forward_share(cfg) -> float:
    """Teacher forward FLOPs per token / student training FLOPs per token."""
    return (flops_per_token(shape(cfg, cfg.teacher_width))["forward"]
            / flops_per_token(shape(cfg, cfg.student_width))["train"])


def plan(cfg, corpus_tokens: int | None = None) -> pd.DataFrame:
    """One row per student budget: steps, tokens, student training FLOPs, epochs of the corpus,
    and the steps on which each KD schedule runs the teacher."""
    student_flops = flops_per_token(shape(cfg, cfg.student_width))["train"]
    rows = []
    for b in student_budgets(cfg):
        tokens = b.total_steps * tokens_per_step(cfg)
        row = {"tpp": b.tpp, "steps": b.total_steps, "tokens": tokens,
               "student_flops": tokens * student_flops,
               "epochs": tokens / corpus_tokens if corpus_tokens else float("nan")}
        for c in cfg.conditions:
            row[f"KD steps {c}"] = KDSchedule.parse(c).last_kd_step(b.total_steps)
        rows.append(row)
    return pd.DataFrame(rows)


def step_counts(cfg) -> dict[str, int]:
    """Optimizer steps of every run, by kind: teacher steps, student steps without the teacher
    (scratch with its decay branches, KD runs after their KD phase), student steps with it."""
    budgets = student_budgets(cfg)
    kd = sum(KDSchedule.parse(c).last_kd_step(b.total_steps) for b in budgets
             for c in cfg.conditions)
    ntp = steps_for(scratch_budgets(cfg)) + sum(b.total_steps for b in budgets) * len(
        cfg.conditions) - kd
    return {"teacher": cfg.seeds * teacher_budget(cfg).total_steps, "student": cfg.seeds * ntp,
            "student_with_teacher": cfg.seeds * kd}


def total_steps(cfg) -> int:
    """Optimizer steps of every run (teachers, scratch with its decay branches, every KD run)."""
    return sum(step_counts(cfg).values())


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected seconds of both grids: a few real optimizer steps of the teacher, the student and
    the distilled student (its teacher's forward pass included), timed on `device` (one thread
    each when the jobs run in `workers` processes), times the steps of each kind."""
    data = token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)
    threads = torch.get_num_threads()
    if torch.device(device).type == "cpu" and workers > 1:
        torch.set_num_threads(1)  # each worker process runs one thread
    try:
        teacher = build_lm(shape(cfg, cfg.teacher_width)).to(device)
        kd = Distillation(build_lm(shape(cfg, cfg.teacher_width)).to(device),
                          KDSchedule("constant", 1.0), 10, cfg.temperature)
        per_step = {"teacher": _timed(cfg, teacher, data.train),
                    "student": _timed(cfg, build_lm(shape(cfg, cfg.student_width)).to(device),
                                      data.train),
                    "student_with_teacher": _timed(cfg, build_lm(shape(
                        cfg, cfg.student_width)).to(device), data.train, kd)}
    finally:
        torch.set_num_threads(threads)
    steps = step_counts(cfg)
    return sum(steps[k] * per_step[k] for k in steps) / max(1, workers)


def _timed(cfg, model, train: torch.Tensor, objective=next_token_loss) -> float:
    """Seconds per optimizer step of a throwaway run of `model`."""
    trainer = _trainer(cfg, model, cfg.lr, 0, train, Schedule("wsd", cfg.warmup_steps),
                       objective=objective)
    return seconds_per_step(trainer, steps=5, warmup=2)


def summary(cfg, corpus_tokens: int) -> str:
    """The sizes and the cost of the experiment in one sentence (printed by the setup cell)."""
    return (f"teacher {n_params(shape(cfg, cfg.teacher_width)):,} and student "
            f"{n_params(shape(cfg, cfg.student_width)):,} non-embedding parameters; "
            f"{total_steps(cfg):,} optimizer steps in all; the teacher's forward pass costs "
            f"{teacher_forward_share(cfg):.1%} of a student training step per token; "
            f"{corpus_tokens:,} training tokens in the corpus")


# --- runs ------------------------------------------------------------------------------------
def _data(cfg):
    return token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)


def teachers_folder(cfg):
    """Teachers (weights and results), keyed by every field that shapes a teacher."""
    return checkpoints_dir(SLUG, cache_key(cfg, "teacher"), "teachers")


def students_folder(cfg):
    """Student results, keyed by every field that shapes a student (its teacher's included)."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train"), "students")


def _trainer(cfg, model, lr: float, seed: int, train: torch.Tensor, schedule: Schedule,
             val=None, eval_every: int = 0, objective=next_token_loss,
             log_every: int = 10) -> Trainer:
    train_cfg = TrainConfig(lr=lr, schedule=schedule, weight_decay=cfg.weight_decay,
                            grad_clip=cfg.grad_clip, seed=seed, eval_every=eval_every,
                            log_every=log_every)
    return Trainer(model, train_cfg, RandomWindows(train, cfg.batch_size, cfg.context),
                   val_windows=val, objective=objective)


def _wsd(cfg, b: Budget) -> Schedule:
    return Schedule("wsd", cfg.warmup_steps, decay_start=b.decay_start,
                    decay_steps=b.total_steps - b.decay_start)


def train_teacher(cfg, job: dict, device: str = "cpu") -> dict:
    """The previous-generation model of one seed: one WSD run to teacher_tpp, saved for the
    students."""
    data = _data(cfg)
    s, b = shape(cfg, cfg.teacher_width), teacher_budget(cfg)
    # init and data order, apart from the students'; kept as the offset of the reference run
    # (derive_seed(seed, "teacher") would change every number the notebook quotes)
    seed = TEACHER_SEED_OFFSET + job["seed"]
    model = build_lm(s, seed=seed).to(device)
    _trainer(cfg, model, cfg.teacher_lr, seed, data.train, _wsd(cfg, b)).fit(b.total_steps)
    path = save_teacher(cfg, job["seed"], model)
    tokens = b.total_steps * tokens_per_step(cfg)
    return {"loss": mean_loss(model, data.val), "path": path.name, "N": n_params(s),
            "tokens": tokens, "train_flops": tokens * flops_per_token(s)["train"]}


def load_teacher(cfg, seed: int, device: str = "cpu") -> torch.nn.Module:
    """The teacher of `seed`, trained by `train_teacher` (an error if it has not been)."""
    path = teacher_path(cfg, seed)
    if not path.is_file():
        raise FileNotFoundError(f"no teacher for seed {seed} at {path}: run run_teachers(cfg) "
                                "first")
    model = build_lm(shape(cfg, cfg.teacher_width))
    load_model(model, path, strict=True)  # every weight present (a tied pair: once)
    return model.to(device).eval()


def save_teacher(cfg, seed: int, model: torch.nn.Module) -> Path:
    """Write the teacher of `seed` to `teacher_path` (safetensors, nothing pickled)."""
    path = teacher_path(cfg, seed)
    # save_model, not save_file: it stores a tied lm_head/embedding pair once (save_file refuses
    # shared tensors), and load_model fills both names from the one kept
    save_model(model, str(path))
    return path


def teacher_path(cfg, seed: int) -> Path:
    """The teacher's weights (safetensors). Caches written before this format hold
    teacher-seed<seed>.pt (pickled): never read; `run_teachers` trains those teachers again."""
    return teachers_folder(cfg) / f"teacher-seed{seed}.safetensors"


def _forget_teachers_without_weights(cfg, jobs: list[dict]) -> None:
    """Drop the recorded result of every teacher whose weights file is missing (an old cache's
    .pt, or deleted weights), so `run_jobs` trains it again instead of reading it back."""
    for job in jobs:
        if not teacher_path(cfg, job["seed"]).is_file():
            (teachers_folder(cfg) / f"{job_id(job)}.json").unlink(missing_ok=True)


def _curve(history: list[dict]) -> list[dict]:
    return [{"tokens": h["tokens"], "loss": h["val_loss"]} for h in history if "val_loss" in h]


def _eval_every(cfg, steps: int, tpp: float, curve_tpp: float) -> int:
    """Validation points along the run only at the largest budget (the training-curve figure)."""
    return max(1, steps // cfg.curve_points) if cfg.curve_points and tpp == curve_tpp else 0


def train_scratch(cfg, job: dict, device: str = "cpu") -> dict:
    """Next-token prediction from scratch: one WSD run with an annealed decay branch at every
    budget (the same as a separate run per budget with the same seed, at the cost of one)."""
    data = _data(cfg)
    s = shape(cfg, cfg.student_width)
    budgets = wsd_budgets(n_params(s), job["budgets"], tokens_per_step(cfg), cfg.decay_fraction)
    flops = flops_per_token(s)["train"]
    top = next(b for b in budgets if b.tpp == job["curve_tpp"])
    main = _trainer(cfg, build_lm(s, seed=job["seed"]).to(device), cfg.lr, job["seed"],
                    data.train, Schedule("wsd", cfg.warmup_steps), data.val,
                    _eval_every(cfg, top.total_steps, top.tpp, job["curve_tpp"]))
    points = []
    for b, branch in annealed_branches(main, budgets):
        tokens, loss = b.total_steps * tokens_per_step(cfg), mean_loss(branch.model, data.val)
        curve = _curve(branch.history) + [{"tokens": tokens, "loss": loss}] if b is top else []
        points.append({"tpp": b.tpp, "tokens": tokens, "student_flops": tokens * flops,
                       "teacher_tokens": 0, "loss": loss, "curve": curve})
    return {"points": points}


def train_distilled(cfg, job: dict, device: str = "cpu") -> dict:
    """One student trained with a KD schedule at one budget (its own WSD run: the schedule's
    length depends on the budget)."""
    data = _data(cfg)
    s = shape(cfg, cfg.student_width)
    b = wsd_budgets(n_params(s), [job["tpp"]], tokens_per_step(cfg), cfg.decay_fraction)[0]
    objective = Distillation(load_teacher(cfg, job["seed"], device),
                             KDSchedule.parse(job["condition"]), b.total_steps, cfg.temperature)
    trainer = _trainer(cfg, build_lm(s, seed=job["seed"]).to(device), cfg.lr, job["seed"],
                       data.train, _wsd(cfg, b), data.val,
                       _eval_every(cfg, b.total_steps, b.tpp, job["curve_tpp"]), objective)
    trainer.fit(b.total_steps)
    tokens = b.total_steps * tokens_per_step(cfg)
    loss = mean_loss(trainer.model, data.val)
    curve = (_curve(trainer.history) + [{"tokens": tokens, "loss": loss}]
             if trainer.cfg.eval_every else [])
    return {"points": [{"tpp": b.tpp, "tokens": tokens,
                        "student_flops": tokens * flops_per_token(s)["train"],
                        "teacher_tokens": objective.teacher_tokens, "loss": loss,
                        "curve": curve}]}


def train_student(cfg, job: dict, device: str = "cpu") -> dict:
    """A student job: {"condition": "scratch", "seed", "budgets", "curve_tpp"} or
    {"condition": KD schedule, "seed", "tpp", "curve_tpp"}."""
    if job["condition"] == SCRATCH:
        return train_scratch(cfg, job, device)
    return train_distilled(cfg, job, device)


def run_teachers(cfg, device="cpu", workers: int = 1) -> pd.DataFrame:
    """One teacher per seed (loaded when already trained with the same settings): its held-out
    loss, size, tokens, training FLOPs and the seconds it took."""
    jobs = [{"seed": s} for s in cfg.seed_list]
    _data(cfg)  # tokenizer and caches once, before any worker
    _forget_teachers_without_weights(cfg, jobs)
    results = run_jobs(train_teacher, cfg, jobs, teachers_folder(cfg), device, workers)
    table = results.table.drop(columns="path")
    return table.assign(seconds=[results.seconds[job_id(job)] for job in jobs])


def student_jobs(cfg) -> list[dict]:
    """Every student run, the longest first (so parallel workers finish together)."""
    top = max(cfg.tpp)  # the budget whose runs record a validation curve
    budgets = [b.tpp for b in scratch_budgets(cfg)]
    jobs = [{"condition": SCRATCH, "seed": s, "budgets": budgets, "curve_tpp": top}
            for s in cfg.seed_list]
    jobs += [{"condition": c, "seed": s, "tpp": t, "curve_tpp": top}
             for t in sorted(set(cfg.tpp), reverse=True) for c in cfg.conditions
             for s in cfg.seed_list]
    return jobs


COLUMNS = ["condition", "seed", "tpp", "tokens", "student_flops", "teacher_tokens",
           "total_flops", "loss"]


def run_students(cfg, device="cpu", workers: int = 1, bar=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every student run (teachers must exist): one row per (condition, seed, budget) with its
    held-out loss and compute, and the validation curves at the largest budget."""
    results = run_jobs(train_student, cfg, student_jobs(cfg), students_folder(cfg), device,
                       workers, bar, label=lambda job: f"{job['condition']} seed={job['seed']}")
    points = results.rows("points")
    teacher_forward = flops_per_token(shape(cfg, cfg.teacher_width))["forward"]
    points["total_flops"] = points.student_flops + teacher_forward * points.teacher_tokens
    curves = pd.DataFrame([{"condition": p.condition, "seed": p.seed, **c}
                           for p in points.itertuples() for c in p.curve])
    return points[COLUMNS], curves


def kd_end_tokens(cfg, condition: str) -> float:
    """Tokens at which the KD phase of `condition` ends in the largest-budget run (inf: never)."""
    b = max(student_budgets(cfg), key=lambda b: b.total_steps)
    schedule = KDSchedule.parse(condition)
    if schedule.shape == "constant":
        return math.inf
    return schedule.last_kd_step(b.total_steps) * tokens_per_step(cfg)
