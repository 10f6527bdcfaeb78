"""Notebook 13: chain of thought, semantics or compute? Tiny Llamas trained from scratch on the sum
of n digits mod 10, answered directly or after a trace in one of two formats (running sums, whose
last step is the answer; pair sums then their running sums, whose answer needs one more step;
`nblib.data.tasks.digit_sum`). Each answerer is given no trace, its own, another model's, a
paraphrase of its own into the other format, filler, a corrupted trace, or a truncated one: does
the gain survive when the trace is not its own? (Lanham et al. 2023, arXiv 2307.13702; Pfau et
al. 2024, arXiv 2404.15758.)

`experiment` the compute (one job per family and seed through `train.grid.run_jobs`, then the
cross-model conditions), `analysis` the statistics and the pre-registered verdicts, `views` the
figures and the widget. Fields say what they shape: "train", "eval" (what is measured on the
trained models), "jobs" (which jobs run; each job's key carries its family and seed), "analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.data.tasks.digit_sum import TRACES, DigitSumTask
from nblib.models.lm import LMShape

SLUG = "13_cot_semantics"
QUESTION = ("Does a chain of thought help by its meaning or by the computation of the model that "
            "wrote it? Another model's trace, a paraphrase, filler and corrupted steps (Lanham et "
            "al. 2023, arXiv 2307.13702; Pfau et al. 2024, arXiv 2404.15758)")
FIGURE = "conditions"
FAMILIES = ("base", "filler")  # trained on direct, running, pairs rows; the same plus filler rows


@dataclass(frozen=True)
class CotSemanticsConfig(GridConfig):
    """Parameters of notebook 13 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initialisation and data order; the same streams "
                          "for both families)", affects="jobs", low=2, high=50)
    n_digits: int = param(6, "digits per problem (even)", affects="train", low=2, high=64)
    filler_family: bool = param(True, "also train the filler family (filler rows added to the "
                                "mix) for the filler conditions", affects="jobs")
    d_model: int = param(64, "residual width of every model", affects="train", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    steps: int = param(2000, "training optimizer steps", affects="train", low=1, high=10**7)
    checkpoints: int = param(4, "evaluated checkpoints, evenly spaced; the last (the end of "
                             "training) is every verdict's endpoint but the first-checkpoint "
                             "ones",
                             affects="eval", low=1, high=100)
    batch_size: int = param(64, "problems per step (each row's format uniform over its "
                            "family's formats)", affects="train", low=1, high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, warmup then cosine to a tenth)",
                      affects="train", low=1e-6, high=1.0)
    warmup_steps: int = param(100, "linear warmup steps", affects="train", low=0, high=10**6)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", affects="train",
                                low=0.0, high=10.0)
    eval_problems: int = param(1000, "evaluation problems (fresh digits, the same for every "
                               "model)", affects="eval", low=10, high=10**6)
    early_fractions: list[float] = param([0.0, 0.25, 0.5, 0.75, 1.0], "shares of the own trace "
                                         "kept before the answer is forced (early answering)",
                                         affects="eval", item_low=0.0, item_high=1.0)
    headline_format: str = param("pairs", "the trace format of the headline (pairs: the answer "
                                 "needs a step after the trace)", affects="analysis",
                                 choices=TRACES)
    equivalence_margin: float = param(0.05, "largest accuracy difference still called "
                                      "equivalent (TOST)", affects="analysis", low=1e-3,
                                      high=1.0)
    min_differing: float = param(0.05, "smallest share of problems on which the compared traces "
                                 "differ for an equivalence verdict to be more than "
                                 "INCONCLUSIVE (identical traces test nothing)",
                                 affects="analysis", low=0.0, high=1.0)
    gain_margin: float = param(0.05, "smallest accuracy gain worth the name", affects="analysis",
                               low=1e-3, high=1.0)

    def task(self) -> DigitSumTask:
        return DigitSumTask(self.n_digits)

    @property
    def eval_steps(self) -> list[int]:
        """The evaluated checkpoints: `checkpoints` evenly spaced steps, the last = steps."""
        return [int(round(self.steps * (i + 1) / self.checkpoints))
                for i in range(self.checkpoints)]

    @property
    def families(self) -> tuple[str, ...]:
        return FAMILIES if self.filler_family else FAMILIES[:1]

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        task = self.task()
        LMShape(d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                context=task.max_len).check()
        check_order(self, "warmup_steps", "steps")
        check_order(self, "checkpoints", "steps", strict=False)
        if len(set(self.early_fractions)) < len(self.early_fractions) or \
                list(self.early_fractions) != sorted(self.early_fractions):
            raise ConfigError(f"parameter early_fractions={self.early_fractions}: distinct and "
                              "increasing")


from nblib.experiments.cot_semantics.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.cot_semantics.experiment import (  # noqa: E402
    Results,
    baselines,
    estimate_seconds,
    jobs,
    run_all,
)

__all__ = ["FAMILIES", "FIGURE", "HEADLINE", "QUESTION", "SLUG", "CotSemanticsConfig", "Results",
           "baselines", "closing_line", "decide", "estimate_seconds", "invariants", "jobs",
           "run_all", "statistics"]
