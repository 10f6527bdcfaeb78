"""Notebook 05: can a model overfit on concepts when no document repeats? Tiny LMs trained from
scratch on synthetic biographies (bioS after Allen-Zhu & Li, arXiv 2309.14316) at one token
budget: a new person in every document (the non-repeating baseline), a small set of people
rephrased afresh every time, the same set written once and repeated, and rephrasing with
sentences shuffled; a sweep over the number of people (Muennighoff et al. 2023, arXiv
2305.16264; WRAP, arXiv 2401.16380; EntiGraph, arXiv 2409.07431).

`experiment` trains and evaluates (one job per condition, people count and seed, through
`train.grid.run_jobs`), `analysis` holds the statistics and the pre-registered verdicts, `views`
the figures and the widget. Fields say what they shape: "train", "eval" (what is measured on the
checkpoints), "jobs" (which jobs run; each job's key carries its condition, people and seed),
"analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.models.lm import LMShape

SLUG = "05_latent_overfitting"
QUESTION = ("Can a model overfit on concepts when no document repeats? (Muennighoff et al. "
            "2023, arXiv 2305.16264; Allen-Zhu & Li, arXiv 2309.14316; WRAP, arXiv 2401.16380)")
FIGURE = "curves"
CONDITIONS = ("fresh", "rephrased", "repeated", "shuffled")


@dataclass(frozen=True)
class LatentConfig(GridConfig):
    """Parameters of notebook 05 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (the training people, their renderings, "
                          "initialisation and data order; the new people are the same for "
                          "every seed)", affects="jobs", low=1, high=50)
    people: int = param(50, "people of the small set (rephrased, repeated, shuffled; the "
                             "headline's)", affects="jobs", low=1, high=10**6)
    diversity: list[int] = param([25, 50, 100], "people counts of the rephrased condition (the "
                                 "diversity sweep; must include people)", affects="jobs",
                                 item_low=1, item_high=10**6)
    conditions: list[str] = param(list(CONDITIONS), "conditions run (fresh and rephrased always)",
                                  affects="jobs")
    test_people: int = param(128, "new people (never trained on) in the evaluation sets; also "
                                  "the most seen people evaluated", affects="eval", low=8,
                             high=10**5)
    d_model: int = param(64, "model width", affects="train", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    context: int = param(128, "tokens per packed training window", affects="train", low=16,
                         high=8192)
    steps: int = param(400, "optimizer steps per model (the token budget is steps x batch_size "
                            "x context)", affects="train", low=20, high=10**7)
    batch_size: int = param(16, "windows per optimizer step", affects="train", low=1,
                            high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, warmup then constant)", affects="train",
                      low=1e-6, high=1.0)
    warmup_steps: int = param(30, "linear warmup steps", affects="train", low=0, high=10**6)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", affects="train",
                                low=0.0, high=10.0)
    n_checkpoints: int = param(16, "evenly spaced evaluated checkpoints (plus step 0 and a few "
                                   "early log-spaced ones)", affects="eval", low=4, high=500)
    ngram: int = param(8, "n of the repetition meter's n-grams", affects="eval", low=2,
                       high=64)
    margin: float = param(0.02, "smallest rise of the validation loss worth the name, nats per "
                          "token", affects="analysis", low=1e-4, high=10.0)
    near_zero: float = param(0.1, "largest share of sentences or fact n-grams repeated beyond "
                             "the fresh stream that still counts as no repetition",
                             affects="analysis", low=0.0, high=1.0)
    onset_margin: float = param(0.1, "smallest slope of log(onset step) on log(people) worth "
                                "the name", affects="analysis", low=1e-3, high=10.0)

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        LMShape(d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                context=self.context).check()
        if len(set(self.diversity)) < len(self.diversity) or self.people not in self.diversity:
            raise ConfigError(f"parameter diversity={self.diversity}: no repeats, and it must "
                              f"include people={self.people} (the headline's count)")
        if len(self.diversity) < 2:
            raise ConfigError(f"parameter diversity={self.diversity}: at least two people counts "
                              "(the onset's slope needs two)")
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ConfigError(f"parameter conditions={self.conditions}: unknown {unknown}, each "
                              f"must be one of {list(CONDITIONS)}")
        if len(set(self.conditions)) < len(self.conditions) or \
                not {"fresh", "rephrased"} <= set(self.conditions):
            raise ConfigError(f"parameter conditions={self.conditions}: no repeats, and fresh "
                              "and rephrased are always run (the headline compares them)")
        check_order(self, "warmup_steps", "steps")
        check_order(self, "n_checkpoints", "steps", strict=False)


from nblib.experiments.latent_overfitting.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.latent_overfitting.experiment import (  # noqa: E402
    Results,
    baselines,
    estimate_seconds,
    jobs,
    run_all,
)

__all__ = ["CONDITIONS", "FIGURE", "HEADLINE", "QUESTION", "SLUG", "LatentConfig", "Results",
           "baselines", "closing_line", "decide", "estimate_seconds", "invariants", "jobs",
           "run_all", "statistics"]
