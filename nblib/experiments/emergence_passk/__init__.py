"""Notebook 06: can emergence be forecast from pass@k? Tiny LMs trained from scratch on 3-digit
addition; at log-spaced checkpoints, greedy exact match and the exact pass@k of every held-out
problem (from one teacher-forced pass); fitted on the checkpoints before emergence only, forecasts
of the step at which pass@1 crosses a threshold (Snell et al. 2024, arXiv 2411.16035; PassUntil,
arXiv 2310.03262; Schaeffer et al. 2023, arXiv 2304.15004, and 2025, arXiv 2502.17578).

`experiment` trains and evaluates (one job per width and seed, through `train.grid.run_jobs`),
`analysis` holds the forecasts, statistics and the pre-registered verdicts, `views` the figures
and the widget. Fields say what they shape: "train", "eval" (what is measured on the trained
checkpoints), "jobs" (which jobs run; each job's key carries its width and seed), "analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.data.tasks.addition import AdditionTask, check_task
from nblib.models.lm import LMShape

SLUG = "06_emergence_passk"
QUESTION = ("Does pass@k early in training forecast when pass@1 emerges? (Snell et al. 2024, "
            "arXiv 2411.16035; PassUntil, arXiv 2310.03262; Schaeffer et al. 2023, arXiv "
            "2304.15004, and 2025, arXiv 2502.17578)")
FIGURE = "curves"
TARGETS = ("greedy", "exact")  # the pass@1 whose threshold crossing is forecast


@dataclass(frozen=True)
class EmergenceConfig(GridConfig):
    """Parameters of notebook 06 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initialisation and data order; the held-out "
                          "problems are the same for every seed)", affects="jobs", low=1, high=50)
    task: str = param("addition", "the task (nblib.data.tasks.addition.TASKS)", affects="train")
    digits: int = param(3, "digits per operand; answers have digits + 1 and a stop token",
                        affects="train", low=1, high=6)
    test_problems: int = param(512, "held-out problems, never trained on, evaluated at every "
                               "checkpoint", affects="train", low=8, high=10**5)
    widths: list[int] = param([64], "model widths d_model (a size family in the full profile; "
                              "the first is the headline's)", affects="jobs", item_low=8,
                              item_high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    steps: int = param(3000, "optimizer steps per model", affects="train", low=20, high=10**7)
    batch_size: int = param(64, "problems per optimizer step", affects="train", low=1,
                            high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, warmup then constant)", affects="train",
                      low=1e-6, high=1.0)
    warmup_steps: int = param(100, "linear warmup steps", affects="train", low=0, high=10**6)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", affects="train",
                                low=0.0, high=10.0)
    n_checkpoints: int = param(24, "evaluated checkpoints, log-spaced from first_checkpoint to "
                               "steps (and step 0)", affects="eval", low=4, high=200)
    first_checkpoint: int = param(10, "the first evaluated step after 0", affects="eval", low=1,
                                  high=10**6)
    pass_ks: list[int] = param([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], "k of the exact "
                               "pass@k recorded at every checkpoint", affects="eval",
                               item_low=1, item_high=10**6)
    samples: int = param(64, "answers sampled per problem at T = 1 at every checkpoint, for the "
                         "unbiased sampled pass@k (the cross-check of the exact one)",
                         affects="eval", low=1, high=10**5)
    sampled_ks: list[int] = param([1, 8, 64], "k of the sampled pass@k (each at most samples)",
                                  affects="eval", item_low=1, item_high=10**5)
    target: str = param("greedy", "the pass@1 forecast: greedy exact match or exact (mean p)",
                        affects="analysis", choices=TARGETS)
    threshold: float = param(0.5, "the pass@1 level whose crossing step is forecast",
                             affects="analysis", low=0.01, high=0.99)
    fit_below: float = param(0.05, "the forecasts see the checkpoints while the target pass@1 "
                             "is still at or below this (before emergence)", affects="analysis",
                             low=0.0, high=0.98)
    min_fit_points: int = param(3, "fewest checkpoints a forecast is fitted on", affects="analysis",
                                low=2, high=100)
    forecast_ks: list[int] = param([8, 16, 32, 64, 128, 256], "k whose pass@k crossings feed "
                                   "the pass@k forecast (each one of pass_ks)",
                                   affects="analysis", item_low=2, item_high=10**6)
    horizon: float = param(1.0, "forecasts are capped to [1, horizon x steps]: 1 scores a "
                           "forecast past the end of training as the end (it said: not in "
                           "this run)", affects="analysis", low=1.0, high=10**4)
    margin: float = param(0.1, "smallest error reduction worth the name, in log(step) (0.1: "
                          "10 percent of the step)", affects="analysis", low=1e-3, high=10.0)
    auroc_margin: float = param(0.05, "smallest per-problem AUROC gain over 0.5 worth the name",
                                affects="analysis", low=1e-3, high=0.5)

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        check_task(self.task)
        task = AdditionTask(self.digits, self.test_problems)  # raises on a bad split
        for w in self.widths:
            LMShape(d_model=w, n_heads=self.n_heads).check()
        for name in ("widths", "pass_ks", "sampled_ks", "forecast_ks"):
            values = getattr(self, name)
            if not values or len(set(values)) < len(values):
                raise ConfigError(f"parameter {name}={values}: at least one value, no repeats")
        if 1 not in self.pass_ks:
            raise ConfigError(f"parameter pass_ks={self.pass_ks}: must include k = 1")
        over = [k for k in self.sampled_ks if k > self.samples]
        if over:
            raise ConfigError(f"parameter sampled_ks={self.sampled_ks}: k={over} above "
                              f"samples={self.samples} (the unbiased estimator needs n >= k; "
                              "draw more samples or lower k)")
        if not set(self.sampled_ks) <= set(self.pass_ks):
            raise ConfigError(f"parameter sampled_ks={self.sampled_ks}: each must be one of "
                              f"pass_ks={self.pass_ks} (compared with the exact pass@k there)")
        missing = [k for k in self.forecast_ks if k not in self.pass_ks]
        if missing or len(self.forecast_ks) < 2:
            raise ConfigError(f"parameter forecast_ks={self.forecast_ks}: at least two, each one "
                              f"of pass_ks={self.pass_ks} (missing {missing})")
        chance_k = 1 - (1 - task.chance) ** max(self.forecast_ks)
        if chance_k >= self.threshold / 2:
            raise ConfigError(f"parameter forecast_ks={self.forecast_ks}: a blind guess already "
                              f"has pass@{max(self.forecast_ks)} = {chance_k:.3f}, at least "
                              f"half of threshold={self.threshold}; use smaller k or more digits")
        if task.chance >= self.threshold:
            raise ConfigError(f"parameter threshold={self.threshold}: at or below chance "
                              f"{task.chance:.3g} (a blind guess)")
        if self.fit_below >= self.threshold:
            raise ConfigError(f"parameter fit_below={self.fit_below}: must be below "
                              f"threshold={self.threshold} (the forecasts see only the "
                              "checkpoints before the crossing)")
        check_order(self, "warmup_steps", "steps")
        if self.first_checkpoint >= self.steps:
            raise ConfigError(f"parameter first_checkpoint={self.first_checkpoint}: must be "
                              f"below steps={self.steps}")


from nblib.experiments.emergence_passk.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    forecasts,
    invariants,
    statistics,
)
from nblib.experiments.emergence_passk.experiment import (  # noqa: E402
    Results,
    estimate_seconds,
    jobs,
    run_all,
)

__all__ = ["FIGURE", "HEADLINE", "QUESTION", "SLUG", "TARGETS", "EmergenceConfig", "Results",
           "closing_line", "decide", "estimate_seconds", "forecasts", "invariants", "jobs",
           "run_all", "statistics"]
