"""Notebook 09: do MLPs learn in context, competitively with transformers at the same compute?
(Tong & Pehlevan 2024, arXiv 2405.15618)

In-context linear regression (`nblib.data.tasks.icl_regression`). At each context length L an MLP
and a small transformer are trained to the same FLOP budget, each on its own warm-up + cosine
schedule to completion, each at the best of its own small learning-rate sweep (chosen on a tuning
seed's held-out sequences, never on the test seeds); then an MLP over a sweep of task-pool sizes k
and a one-hidden-layer MLP. Every run goes through the one `Trainer` as a resumable job grid.
`experiment` trains, `analysis` holds the tables, statistics and verdicts, `views` draws and holds
the widget's action (import those as submodules; the names the notebook calls are re-exported).

What shapes the recorded job results is said per field: "train" (the data, the networks and the
optimisation), "eval" (the held-out measurements along training), "jobs" (only which jobs run:
each job's own key carries its network, k, L, learning rate and seed), "analysis" (statistics and
verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param

SLUG = "09_mlp_in_context"
QUESTION = "Do MLPs learn in context? (Tong & Pehlevan 2024, arXiv 2405.15618)"
FIGURE = "excess_vs_context_length"


@dataclass(frozen=True)
class ICLConfig(GridConfig):
    """Parameters of notebook 09 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds per condition (initialisation, data, task pool)",
                       affects="analysis", low=1, high=50)
    dim: int = param(2, "d, dimension of x and of the task vector w", affects="train", low=1,
                     high=64)
    noise_var: float = param(0.05, "sigma^2, variance of the label noise", affects="train",
                             low=0.0, high=10.0)
    context_len: int = param(8, "L of the headline and of the task-diversity sweep, query "
                             "included", affects=("jobs", "analysis"), low=2, high=256)
    context_lens: list[int] = param([4, 8, 16], "context lengths of the compute-fair MLP vs "
                                    "transformer comparison", affects=("jobs", "analysis"),
                                    item_low=2, item_high=256)
    train_flops: float = param(1.5e11, "training FLOPs of every MLP and transformer run (each "
                               "network's steps follow from it)", affects="train", low=1e3,
                               high=1e21)
    pool_sizes: list[int | None] = param([1, 4, 16, 64, 256, None],
                                         "task-diversity sweep: pool sizes k (None: unrestricted)",
                                         affects="jobs", item_low=1, item_high=2**20)
    mlp_width: int = param(128, "hidden units per MLP layer", affects="train", low=1, high=8192)
    mlp_depth: int = param(3, "hidden layers of the MLP", affects="train", low=1, high=16)
    mlp_lrs: list[float] = param([1e-3, 3e-3, 1e-2, 3e-2], "the MLP's learning-rate sweep (peak "
                                 "rates)", affects="jobs", item_low=1e-6, item_high=1.0)
    transformer_d_model: int = param(32, "transformer width", affects="train", low=4, high=2048)
    transformer_layers: int = param(2, "transformer blocks", affects="train", low=1, high=24)
    transformer_heads: int = param(2, "attention heads", affects="train", low=1, high=32)
    transformer_lrs: list[float] = param([3e-4, 1e-3, 3e-3, 1e-2], "the transformer's "
                                         "learning-rate sweep (peak rates)", affects="jobs",
                                         item_low=1e-6, item_high=1.0)
    tune_seed: int = param(1000, "seed of the learning-rate sweep's runs (not a test seed)",
                           affects="jobs", low=0, high=10**6)
    small_mlp_width: int = param(32, "hidden units of the one-hidden-layer MLP", affects="train",
                                 low=1, high=4096)
    small_mlp_steps: int = param(10000, "training steps of the one-hidden-layer MLP",
                                 affects="train", low=1, high=10**7)
    small_mlp_lr: float = param(3e-3, "peak learning rate of the one-hidden-layer MLP",
                                affects="jobs", low=1e-6, high=1.0)
    batch_size: int = param(128, "sequences per training step", affects="train", low=1,
                            high=65536)
    warmup_frac: float = param(0.05, "fraction of steps of linear warm-up before cosine decay",
                               affects="train", low=0.0, high=0.5)
    weight_decay: float = param(0.0, "AdamW weight decay (weight matrices only)",
                                affects="train", low=0.0, high=10.0)
    adam_beta1: float = param(0.9, "AdamW first-moment decay", affects="train", low=0.0,
                              high=0.9999)
    adam_beta2: float = param(0.999, "AdamW second-moment decay", affects="train", low=0.0,
                              high=0.99999)
    grad_clip: float | None = param(None, "max global gradient norm (None: no clipping)",
                                    affects="train", low=1e-6, high=1e6)
    n_eval: int = param(4096, "held-out sequences per evaluation", affects="eval", low=16,
                        high=10**6)
    n_evals: int = param(8, "evaluations along training (log-spaced steps)", affects="eval",
                         low=2, high=100)
    margin: float = param(0.1, "equivalence margin: |MLP − transformer MSE| / ridge MSE",
                          affects="analysis", low=1e-3, high=100.0)
    min_steps: int = param(200, "fewest steps a compared run may get (below: out of the "
                           "warm-up regime is not assured, an error)", affects="analysis",
                           low=1, high=10**7)
    separation: float = param(1.25, "baselines separate at k when dMMSE MSE / ridge MSE (fresh "
                              "tasks) is at least this", affects="analysis", low=1.0, high=100.0)
    small_mlp_gap: float = param(0.25, "claim: the one-hidden-layer MLP closes more than this "
                                 "share of the context-free to ridge gap", affects="analysis",
                                 low=0.0, high=1.0)
    icl_midpoint: float = param(0.5, "ICL score at which the descriptive transition k* is read",
                                affects="analysis", low=0.01, high=0.99)

    def check(self) -> None:
        if self.transformer_d_model % self.transformer_heads:
            raise ConfigError(f"parameter transformer_d_model={self.transformer_d_model}: must "
                              f"be divisible by transformer_heads={self.transformer_heads}")
        if None not in self.pool_sizes or len([k for k in self.pool_sizes if k]) < 1:
            raise ConfigError(f"parameter pool_sizes={self.pool_sizes}: must include None "
                              "(unrestricted) and at least one finite pool")
        if self.context_len not in self.context_lens:
            raise ConfigError(f"parameter context_lens={self.context_lens}: must include "
                              f"context_len={self.context_len}, the headline's L")
        for name in ("context_lens", "mlp_lrs", "transformer_lrs", "pool_sizes"):
            values = getattr(self, name)
            if len(set(values)) < len(values):
                raise ConfigError(f"parameter {name}={values}: no repeats")
        if self.tune_seed in self.seed_list:
            raise ConfigError(f"parameter tune_seed={self.tune_seed}: must not be one of the "
                              f"test seeds {self.seed_list} (the sweep is chosen off them)")


from nblib.experiments.mlp_in_context.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    equivalence,
    excess_slopes,
    first_layer_structure,
    first_layer_table,
    gap_closed,
    geometric_mean_k,
    headline_pairs,
    icl_score,
    invariants,
    lr_table,
    mlp_vs_transformer,
    relative_excess,
    score_summary,
    statistics,
    statistics_text,
    structure_estimates,
    summary_table,
    transition_k,
    unrestricted,
)
from nblib.experiments.mlp_in_context.experiment import (  # noqa: E402
    Condition,
    Results,
    build_model,
    compute_table,
    conditions,
    estimate_seconds,
    jobs,
    n_runs,
    run_all,
    runs_folder,
    select_lrs,
    steps_for,
    train_condition,
    train_config,
    train_flops_per_step,
    train_job,
    tuning_conditions,
)

__all__ = ["FIGURE", "HEADLINE", "QUESTION", "SLUG", "Condition", "ICLConfig", "Results",
           "build_model", "closing_line", "compute_table", "conditions", "decide",
           "equivalence", "estimate_seconds", "excess_slopes", "first_layer_structure",
           "first_layer_table", "gap_closed", "geometric_mean_k", "headline_pairs", "icl_score",
           "invariants", "jobs", "lr_table", "mlp_vs_transformer", "n_runs", "relative_excess",
           "run_all", "runs_folder", "score_summary", "select_lrs", "statistics",
           "statistics_text", "steps_for", "structure_estimates", "summary_table",
           "train_condition", "train_config", "train_flops_per_step", "train_job",
           "transition_k", "tuning_conditions", "unrestricted"]
