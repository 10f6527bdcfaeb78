"""Notebook 04: a k-shot training objective −log(1 − (1 − p)^k), evaluated by pass@k.

`experiment` trains and samples (one job per task, k and seed); `analysis` turns the pass@k
curves into paired differences and verdicts, and holds the exact scoring-rule theory (no
training); `views` draws (import those two as submodules).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.tasks.modular import ModularTask
from nblib.experiments.kshot_objective.experiment import (
    SLUG,
    TASKS,
    estimate_seconds,
    eval_steps,
    jobs,
    problems,
    run_all,
)
from nblib.models.lm import LMShape

QUESTION = ("Does training with the k-shot loss −log(1 − (1 − p)^k) trade pass@1 for pass@k? "
            "(Chen et al. 2021, arXiv 2107.03374; Pass@k Training, arXiv 2508.10751; SimKO, "
            "arXiv 2510.14807)")
FIGURE = "pareto"
__all__ = ["FIGURE", "QUESTION", "SLUG", "TASKS", "KshotConfig", "estimate_seconds",
           "eval_steps", "jobs", "problems", "run_all"]


@dataclass(frozen=True)
class KshotConfig(GridConfig):
    """Parameters of notebook 04 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (data split, initialisation, data order) per "
                          "condition", affects="analysis", low=1, high=50)
    tasks: list[str] = param(["modular", "sibling"], "tasks trained on (the first, the headline, "
                             "must be modular: its pass@k is exact)", affects="grid")
    ks: list[int] = param([1, 4, 16, 64], "k of the training loss −log(1 − (1 − p)^k); 1 is "
                          "next-token CE", affects="grid", item_low=1, item_high=4096)
    label_smoothing: list[float] = param([0.1, 0.4], "label-smoothed CE baselines of the headline "
                                         "task: the smoothing of each", affects="grid",
                                         item_low=0.001, item_high=0.99)
    modulus: int = param(97, "modular task: p of a + b mod p", affects="train", low=3, high=1000)
    train_fraction: float = param(0.3, "modular task: share of the p² pairs trained on",
                                  affects="train", low=0.05, high=0.95)
    n_parents: int = param(5, "sibling task: parents", affects="train", low=1, high=1000)
    n_children: int = param(40, "sibling task: children per parent in each of the two sets",
                            affects="train", low=2, high=10000)
    sibling_train: int = param(2000, "sibling task: distinct training triplets",
                               affects="train", low=10, high=10**7)
    d_model: int = param(64, "model width", affects="train", low=8, high=8192)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=64)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    steps: int = param(1500, "optimizer steps per model", affects="train", low=10, high=10**7)
    batch_size: int = param(64, "sequences per optimizer step", affects="train", low=1,
                            high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, cosine to final_lr_ratio)",
                      affects="train", low=1e-6, high=1.0)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", affects="train", low=0.0,
                                high=10.0)
    warmup_steps: int = param(50, "linear warmup steps", affects="train", low=0, high=10**6)
    final_lr_ratio: float = param(0.1, "learning rate at the end of the cosine, / peak",
                                  affects="train", low=0.0, high=1.0)
    n_evals: int = param(6, "exact evaluations per model (one-answer task), log-spaced, the last "
                         "at steps: the early-stopped CE baselines", affects="eval", low=1,
                         high=100)
    eval_problems: int = param(128, "problems per task and seed that pass@k is measured on",
                               affects="eval", low=2, high=10**6)
    samples: int = param(64, "n: answers sampled per problem at T = 1 (pass@k needs n ≥ k)",
                         affects="eval", low=1, high=10**5)
    pass_ks: list[int] = param([1, 2, 4, 8, 16, 32, 64], "k values of pass@k", affects="eval",
                               item_low=1, item_high=10**5)
    ntp_temperatures: list[float] = param([1.5, 2.0], "extra sampling temperatures of the k = 1 "
                                          "model (is the k-shot model just a hotter NTP model?)",
                                          affects="eval", item_low=0.05, item_high=100.0)
    theory_classes: int = param(8, "scoring-rule analysis: classes of the target distribution q",
                                affects="analysis", low=2, high=1000)
    theory_zipf: list[float] = param([1.0, 0.5, 2.0, 3.0], "scoring-rule analysis: targets "
                                     "q_i ∝ i^−zipf (the first is drawn)", affects="analysis",
                                     item_low=0.0, item_high=10.0)
    theory_ks: list[int] = param([1, 2, 4, 16, 64], "scoring-rule analysis: k values",
                                 affects="analysis", item_low=1, item_high=10**4)

    def check(self) -> None:
        if (not self.tasks or any(t not in TASKS for t in self.tasks)
                or len(set(self.tasks)) < len(self.tasks)):
            raise ConfigError(f"tasks={self.tasks}: use distinct names from {list(TASKS)}")
        if self.tasks[0] != "modular":
            raise ConfigError(f"tasks={self.tasks}: the first task is the headline and must be "
                              "'modular' (the Pareto verdict needs exact pass@k, i.e. one-token "
                              "answers)")
        if len(set(self.label_smoothing)) < len(self.label_smoothing):
            raise ConfigError(f"label_smoothing={self.label_smoothing}: no repeats")
        if 1 not in self.ks or len(self.ks) < 2 or len(set(self.ks)) < len(self.ks):
            raise ConfigError(f"ks={self.ks}: need k = 1 (the NTP baseline) and at least one "
                              "k > 1, no repeats")
        if not set(self.ks) <= set(self.pass_ks):
            raise ConfigError(f"ks={self.ks}, pass_ks={self.pass_ks}: every training k must be "
                              "one of the pass_ks (each model is judged at pass@k of its own k)")
        if max(self.pass_ks) > self.samples or 1 not in self.pass_ks:
            raise ConfigError(f"pass_ks={self.pass_ks}, samples={self.samples}: pass@k needs "
                              "k = 1 and every k ≤ samples (the unbiased estimator never "
                              "extrapolates)")
        LMShape(d_model=self.d_model, n_heads=self.n_heads).check()
        if "modular" in self.tasks:
            ModularTask(self.modulus, self.train_fraction)  # raises on an empty split
        if "sibling" in self.tasks and self.sibling_train >= self.n_parents * self.n_children**2:
            raise ConfigError(f"sibling_train={self.sibling_train} must be below the "
                              f"{self.n_parents * self.n_children**2} valid triplets "
                              "(n_parents · n_children²), or nothing is left to discover")
        if not self.theory_zipf or 1 not in self.theory_ks:
            raise ConfigError(f"theory_zipf={self.theory_zipf}, theory_ks={self.theory_ks}: "
                              "need at least one target and k = 1 (the proper case) among the "
                              "k values")
        if self.warmup_steps >= self.steps:
            raise ConfigError(f"warmup_steps={self.warmup_steps} must be below "
                              f"steps={self.steps}")
