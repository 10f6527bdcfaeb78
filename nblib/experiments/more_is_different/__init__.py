"""Notebook 08: "more is different" in RL. A size family of tiny Llamas is pretrained identically
on a 50/50 mix of two algorithms' traces for a^b mod c (linear: b multiplications; binary:
square-and-multiply, about 2·log2 b steps; `nblib.data.tasks.modexp`), then RL'd with one GRPO
configuration (reward: the correct final answer). Which algorithm does each size end up using,
read off its trace and off how its accuracy decays with b? (Nanda et al. 2023, arXiv 2301.05217;
Zhong et al. 2023, arXiv 2306.17844; GRPO: Shao et al. 2024, arXiv 2402.03300.)

`rollouts` samples and rewards GRPO's groups (the loss is `nblib.train.grpo`'s), `experiment` the
compute (one job per width and seed through `train.grid.run_jobs`), `analysis` the statistics
and the pre-registered verdicts, `views` the figures and the widget. Fields say what they shape:
"train" (pretraining and RL), "eval" (what is measured at the RL checkpoints), "jobs" (which jobs
run; each job's key carries its width and seed), "analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.data.tasks.modexp import ALGORITHMS, ModExpTask
from nblib.models.lm import LMShape

SLUG = "08_more_is_different"
QUESTION = ("After the same RL, does a larger model use a more elegant algorithm than a smaller "
            "one? a^b mod c, linear vs square-and-multiply (Nanda et al. 2023, arXiv 2301.05217; "
            "Zhong et al. 2023, arXiv 2306.17844)")
FIGURE = "shares"
ADVANTAGES = ("grpo", "mean")  # (r − mean) / std of the group, or r − mean (Dr. GRPO)
LOSS_NORMS = ("constant", "sequence", "token")


@dataclass(frozen=True)
class MoreIsDifferentConfig(GridConfig):
    """Parameters of notebook 08 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initialisation, pretraining data order, RL prompts "
                          "and samples; the same streams for every width)", affects="jobs",
                       low=1, high=50)
    moduli: list[int] = param([31], "moduli c the problems draw from (a prime keeps the group "
                              "cyclic)", affects="train", item_low=2, item_high=997)
    train_b: list[int] = param([1, 16], "exponents b of pretraining and RL, [low, high] inclusive",
                               affects="train", item_low=0, item_high=999)
    test_b: list[int] = param([17, 24], "held-out larger exponents, [low, high] (never trained "
                              "on; they set the digits of b, hence the prompt)", affects="train",
                              item_low=0, item_high=999)
    write_exponents: bool = param(False, "each trace step also writes the exponent reached",
                                  affects="train")
    binary_share: float = param(0.5, "share of binary traces in the pretraining mix",
                                affects="train", low=0.0, high=1.0)
    widths: list[int] = param([16, 32, 64], "model widths d_model, smallest to largest (the size "
                              "family; the headline compares the last with the first)",
                              affects="jobs", item_low=8, item_high=4096)
    n_layers: int = param(2, "transformer blocks (every width)", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads (every width)", affects="train", low=1, high=64)
    pretrain_steps: int = param(700, "pretraining optimizer steps (every width)",
                                affects="train", low=1, high=10**7)
    batch_size: int = param(64, "pretraining problems per step", affects="train", low=1,
                            high=65536)
    lr: float = param(3e-3, "pretraining peak learning rate (AdamW, warmup then cosine to a "
                      "tenth)", affects="train", low=1e-6, high=1.0)
    warmup_steps: int = param(50, "pretraining warmup steps", affects="train", low=0,
                              high=10**6)
    weight_decay: float = param(0.1, "pretraining AdamW weight decay on matrices",
                                affects="train", low=0.0, high=10.0)
    rl_steps: int = param(150, "GRPO optimizer steps (every width)", affects="train", low=1,
                          high=10**6)
    prompts_per_step: int = param(16, "training-range problems per GRPO step", affects="train",
                                  low=1, high=8192)
    group_size: int = param(8, "completions sampled per problem at T 1 (the GRPO group)",
                            affects="train", low=2, high=1024)
    rl_lr: float = param(1e-4, "GRPO learning rate (AdamW, no weight decay, warmup then "
                         "constant)", affects="train", low=1e-7, high=1.0)
    rl_warmup_steps: int = param(10, "GRPO warmup steps", affects="train", low=0, high=10**5)
    advantage: str = param("grpo", "group advantage: grpo (r − mean) / std, or mean r − mean "
                           "(Dr. GRPO)", affects="train", choices=ADVANTAGES)
    loss_norm: str = param("constant", "policy-gradient sum divided by a constant (Dr. GRPO), "
                           "per sequence length (GRPO) or per token (DAPO)", affects="train",
                           choices=LOSS_NORMS)
    kl_coef: float = param(0.0, "weight of the KL to the pretrained model (k3 estimator; 0: "
                           "none)", affects="train", low=0.0, high=10.0)
    length_cost: float = param(0.0, "reward minus this per completion token", affects="train",
                               low=0.0, high=1.0)
    rl_checkpoints: int = param(4, "evaluated GRPO checkpoints, evenly spaced (plus step 0, the "
                                "pretrained model)", affects="eval", low=1, high=100)
    eval_per_b: int = param(8, "evaluation problems per exponent b (both ranges; the same for "
                            "every job)", affects="eval", low=1, high=10**4)
    eval_samples: int = param(8, "completions sampled per evaluation problem at T 1",
                              affects="eval", low=1, high=1024)
    pass_ks: list[int] = param([1, 8], "k of the sampled pass@k (each at most eval_samples)",
                               affects="eval", item_low=1, item_high=1024)
    algorithm: str = param("binary", "the algorithm whose share the headline compares",
                           affects="analysis", choices=ALGORITHMS)
    share_margin: float = param(0.1, "smallest share difference worth the name",
                                affects="analysis", low=1e-3, high=1.0)
    accuracy_margin: float = param(0.02, "smallest accuracy gain worth the name",
                                   affects="analysis", low=1e-3, high=1.0)
    fit_margin: float = param(0.01, "smallest better fit of a decay shape worth the name, nats "
                              "per problem", affects="analysis", low=1e-4, high=10.0)

    def task(self) -> ModExpTask:
        """The task these fields describe (ConfigError on bad moduli or b ranges)."""
        for name in ("train_b", "test_b"):
            if len(getattr(self, name)) != 2:
                raise ConfigError(f"parameter {name}={getattr(self, name)}: must be [low, high]")
        probe = ModExpTask(tuple(self.moduli), tuple(self.train_b), tuple(self.test_b),
                           max_len=10**6, write_exponents=self.write_exponents)
        longest = max(probe.prompt_len + probe.max_completion_len(s) for s in ("train", "test"))
        return ModExpTask(tuple(self.moduli), tuple(self.train_b), tuple(self.test_b),
                          max_len=longest, write_exponents=self.write_exponents)

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        task = self.task()
        if len(self.widths) < 2 or list(self.widths) != sorted(set(self.widths)):
            raise ConfigError(f"parameter widths={self.widths}: at least two, strictly "
                              "increasing (the headline compares the largest with the smallest)")
        for w in self.widths:
            LMShape(d_model=w, n_heads=self.n_heads, n_layers=self.n_layers,
                    context=task.max_len).check()
        over = [k for k in self.pass_ks if k > self.eval_samples]
        if not self.pass_ks or over:
            raise ConfigError(f"parameter pass_ks={self.pass_ks}: k={over} above "
                              f"eval_samples={self.eval_samples} (the unbiased estimator needs "
                              "n >= k; draw more samples or lower k)")
        if len(set(self.pass_ks)) < len(self.pass_ks):
            raise ConfigError(f"parameter pass_ks={self.pass_ks}: no repeats")
        check_order(self, "warmup_steps", "pretrain_steps")
        check_order(self, "rl_warmup_steps", "rl_steps")
        check_order(self, "rl_checkpoints", "rl_steps", strict=False)
        if self.length_cost * task.max_completion_len("train") >= 1.0:
            raise ConfigError(f"parameter length_cost={self.length_cost}: the longest training "
                              f"completion ({task.max_completion_len('train')} tokens) would "
                              "cost a whole reward; use a cost below "
                              f"{1 / task.max_completion_len('train'):.4g}")


from nblib.experiments.more_is_different.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.more_is_different.experiment import (  # noqa: E402
    Results,
    baselines,
    estimate_seconds,
    jobs,
    run_all,
)

__all__ = ["ADVANTAGES", "FIGURE", "HEADLINE", "LOSS_NORMS", "QUESTION", "SLUG",
           "MoreIsDifferentConfig", "Results", "baselines", "closing_line", "decide",
           "estimate_seconds", "invariants", "jobs", "run_all", "statistics"]
