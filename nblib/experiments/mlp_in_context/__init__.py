"""Notebook 09: do MLPs learn in context? (Tong & Pehlevan 2024, arXiv 2405.15618)

In-context linear regression (`nblib.data.tasks.icl_regression`): MLPs over a sweep of task-pool
sizes k, MLPs and small transformers over a sweep of context lengths L, and a one-hidden-layer
MLP, each trained through the one `Trainer` and run as a resumable job grid. `experiment` trains,
`analysis` holds the tables, statistics and the verdict, `views` draws and holds the widget's
action (import those as submodules; the names the notebook calls are re-exported here).

What shapes the recorded job results is said per field: "train" (the data, the networks and the
optimisation), "eval" (the held-out measurements along training), "jobs" (only which jobs run:
each job's own key carries its network, k, L and seed), "analysis" (statistics and verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param

SLUG = "09_mlp_in_context"
QUESTION = "Do MLPs learn in context? (Tong & Pehlevan 2024, arXiv 2405.15618)"
FIGURE = "mse_vs_k"


@dataclass(frozen=True)
class ICLConfig(GridConfig):
    """Parameters of notebook 09 (one field per line of its parameters cell)."""

    dim: int = param(2, "d, dimension of x and of the task vector w", affects="train", low=1,
                     high=64)
    noise_var: float = param(0.05, "sigma^2, variance of the label noise", affects="train",
                             low=0.0, high=10.0)
    context_len: int = param(8, "L of the task-diversity sweep, query included",
                             affects=("jobs", "analysis"), low=2, high=256)
    pool_sizes: list[int | None] = param([1, 4, 16, 64, 256, None],
                                         "task-diversity sweep: pool sizes k (None: unrestricted)",
                                         affects="jobs", item_low=1, item_high=2**20)
    context_lens: list[int] = param([4, 8, 16], "context-length sweep, MLP vs transformer",
                                    affects=("jobs", "analysis"), item_low=2, item_high=256)
    mlp_width: int = param(128, "hidden units per MLP layer", affects="train", low=1, high=8192)
    mlp_depth: int = param(3, "hidden layers of the MLP", affects="train", low=1, high=16)
    mlp_steps: int = param(10000, "training steps of each MLP", affects="train", low=1,
                           high=10**7)
    mlp_lr: float = param(3e-3, "peak learning rate of the MLPs", affects="train", low=1e-6,
                          high=1.0)
    transformer_d_model: int = param(32, "transformer width", affects="train", low=4, high=2048)
    transformer_layers: int = param(2, "transformer blocks", affects="train", low=1, high=24)
    transformer_heads: int = param(2, "attention heads", affects="train", low=1, high=32)
    transformer_steps: int = param(2000, "training steps of each transformer", affects="train",
                                   low=1, high=10**7)
    transformer_lr: float = param(1e-3, "peak learning rate of the transformers",
                                  affects="train", low=1e-6, high=1.0)
    small_mlp_width: int = param(32, "hidden units of the one-hidden-layer MLP", affects="train",
                                 low=1, high=4096)
    small_mlp_steps: int = param(10000, "training steps of the one-hidden-layer MLP",
                                 affects="train", low=1, high=10**7)
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
    margin: float = param(0.25, "the claim: MLP MSE / ridge MSE - 1 below this",
                          affects="analysis", low=1e-3, high=100.0)
    icl_midpoint: float = param(0.5, "ICL score at which the IWL->ICL transition k* is read",
                                affects="analysis", low=0.01, high=0.99)

    def check(self) -> None:
        if self.transformer_d_model % self.transformer_heads:
            raise ConfigError(f"parameter transformer_d_model={self.transformer_d_model}: must "
                              f"be divisible by transformer_heads={self.transformer_heads}")
        if None not in self.pool_sizes:
            raise ConfigError(f"parameter pool_sizes={self.pool_sizes}: must include None "
                              "(unrestricted), the condition the verdict is about")
        if self.context_len not in self.context_lens:
            raise ConfigError(f"parameter context_lens={self.context_lens}: must include "
                              f"context_len={self.context_len} so both sweeps share that run")


from nblib.experiments.mlp_in_context.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    first_layer_structure,
    first_layer_table,
    gap_closed,
    geometric_mean_k,
    icl_score,
    invariants,
    matched_compute,
    mlp_vs_transformer,
    relative_excess,
    score_summary,
    statistics,
    statistics_text,
    summary_table,
    transition_k,
    unrestricted,
)
from nblib.experiments.mlp_in_context.experiment import (  # noqa: E402
    Condition,
    Results,
    budget,
    build_model,
    conditions,
    estimate_seconds,
    jobs,
    run_all,
    runs_folder,
    train_condition,
    train_config,
    train_job,
)

__all__ = ["FIGURE", "HEADLINE", "QUESTION", "SLUG", "Condition", "ICLConfig", "Results",
           "budget", "build_model", "closing_line", "conditions", "decide", "estimate_seconds",
           "first_layer_structure", "first_layer_table", "gap_closed", "geometric_mean_k",
           "icl_score", "invariants", "jobs", "matched_compute", "mlp_vs_transformer",
           "relative_excess", "run_all", "runs_folder", "score_summary", "statistics",
           "statistics_text", "summary_table", "train_condition", "train_config", "train_job",
           "transition_k", "unrestricted"]
