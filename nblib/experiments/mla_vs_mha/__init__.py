"""Notebook 10: why does multi-head latent attention match multi-head attention? A mechanistic
ablation at matched parameters and matched KV cache (DeepSeek-V2, arXiv 2405.04434; TransMLA,
arXiv 2502.07864; MHA2MLA; Su Jianlin's analysis).

Every variant is the same `transformers` Llama skeleton with its attention replaced
(`nblib.models.attention`): MHA, GQA, MQA, MHA with MLA's larger query-key head, MHA with partial
RoPE, MHA with MLA's whole head layout, and MLA at a sweep of latent ranks. Parameters are matched
within ±2% by the MLP width. `experiment` trains (one job per variant, seed and learning rate,
through `train.grid.run_jobs`) and runs the mechanism probes, `analysis` holds the tables and the
pre-registered verdicts, `views` the figures and the widget.

What shapes the recorded job results is said per field: "train" (data, model, optimisation),
"eval" (what is measured on the trained models), "jobs" (only which jobs run: each job's key
carries its variant, seed and rate), "analysis" (statistics and verdicts only).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.data.corpora import check_corpus

SLUG = "10_mla_vs_mha"
QUESTION = ("Why does MLA match MHA? (DeepSeek-V2, arXiv 2405.04434; TransMLA, arXiv 2502.07864; "
            "Su Jianlin 2025)")
FIGURE = "loss_vs_cache"


@dataclass(frozen=True)
class MLAConfig(GridConfig):
    """Parameters of notebook 10 (one field per line of its parameters cell)."""

    seeds: int = param(5, "paired seeds per variant (one seed: the same data order and the same "
                       "init of every shared-shape weight in every variant)", affects="jobs",
                       low=1, high=50)
    corpus: str = param("sotu", "training corpus (packaged name or hf:<dataset>)",
                        affects="train")
    vocab_size: int = param(512, "byte-level BPE vocabulary trained on the corpus",
                            affects="train", low=257, high=65536)
    context: int = param(64, "tokens per training window", affects="train", low=8, high=8192)
    batch_size: int = param(16, "windows per optimizer step", affects="train", low=1, high=4096)
    d_model: int = param(64, "residual stream width", affects="train", low=8, high=8192)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=64)
    n_heads: int = param(4, "query heads of every variant (head size d_model / n_heads)",
                         affects="train", low=1, high=128)
    rope_dim: int = param(8, "MLA's decoupled rope key dims (DeepSeek-V2: head size / 2); also "
                          "the partial-RoPE controls' rotated dims", affects="train", low=2,
                          high=1024)
    gqa_kv_heads: int = param(2, "key-value heads of the GQA variant", affects="train", low=1,
                              high=128)
    mla_ranks: list[int] = param([8, 24, 64], "MLA latent ranks kv_lora_rank (one variant each)",
                                 affects="jobs", item_low=1, item_high=8192)
    headline_rank: int = param(8, "the MLA of verdict 1 (DeepSeek-V2's d_c / d_model ≈ 0.1)",
                               affects="analysis", low=1, high=8192)
    mla_ablations: list[str] = param(["headrope_nonorm"], "full-width MLAs with DeepSeek's "
                                     "choices off (experiment.ABLATIONS: headrope, nonorm, "
                                     "headrope_nonorm = the calibration MLA, required)",
                                     affects="jobs")
    q_lora_rank: int = param(0, "query latent of an extra MLA variant at headline_rank (0: none)",
                             affects="jobs", low=0, high=8192)
    controls: list[str] = param(["mqa", "mha_big_qk", "mha_partial_rope", "mha_mla_heads"],
                                "grouped variants besides MHA (see experiment.VARIANTS; gqa "
                                "in the full profile)", affects="jobs")
    mlp_ratio: float = param(4.0, "MHA's MLP width / d_model before the SwiGLU 2/3 (the other "
                             "variants' MLP widths match its parameter count)", affects="train",
                             low=0.5, high=16.0)
    param_tolerance: float = param(0.02, "largest relative non-embedding parameter mismatch to "
                                   "MHA (larger is an error)", affects="analysis", low=0.0,
                                   high=0.5)
    steps: int = param(700, "optimizer steps of every run", affects="train", low=1, high=10**7)
    warmup_steps: int = param(100, "linear warmup steps, then cosine decay", affects="train",
                              low=0, high=10**6)
    lrs: list[float] = param([3e-3, 6e-3], "peak learning rates swept per variant on "
                             "tune_seed (the best is used on the test seeds)", affects="jobs",
                             item_low=1e-6, item_high=1.0)
    tune_seed: int = param(1000, "seed of the learning-rate sweep's runs (not a test seed)",
                           affects="jobs", low=0, high=10**6)
    weight_decay: float = param(0.1, "AdamW weight decay (matrices only)", affects="train",
                                low=0.0, high=10.0)
    n_evals: int = param(8, "validation evaluations along training (evenly spaced)",
                         affects="eval", low=1, high=1000)
    eval_windows: int = param(256, "held-out windows per loss evaluation", affects="eval",
                              low=4, high=10**6)
    probe_windows: int = param(32, "test windows of the probes (entropy, ranks, truncation)",
                               affects="eval", low=1, high=10**5)
    probe_ranks: list[int] = param([4, 8, 16, 24, 32, 48, 64], "ranks r of the truncated "
                                   "[W_K; W_V] of the trained MHA", affects="eval", item_low=1,
                                   item_high=8192)
    margin: float = param(0.02, "equivalence margin, nats/token of test loss (≈ 2% perplexity)",
                          affects="analysis", low=1e-4, high=10.0)
    share_claim: float = param(0.5, "claim per control: it reproduces more than this share of "
                               "MLA's difference from MHA", affects="analysis", low=0.0,
                               high=1.0)

    def check(self) -> None:
        """Cross-field rules, checked before any training."""
        from nblib.experiments.mla_vs_mha.experiment import (
            ABLATIONS,
            CALIBRATION_ABLATION,
            VARIANTS,
            variant_specs,
        )

        check_corpus(self.corpus)
        if self.d_model % self.n_heads:
            raise ConfigError(f"parameter d_model={self.d_model}: must be divisible by "
                              f"n_heads={self.n_heads}")
        unknown = [c for c in self.controls if c not in VARIANTS]
        if unknown:
            raise ConfigError(f"parameter controls={self.controls}: {unknown} not among "
                              f"{list(VARIANTS)}")
        if self.headline_rank not in self.mla_ranks:
            raise ConfigError(f"parameter headline_rank={self.headline_rank}: must be one of "
                              f"mla_ranks={self.mla_ranks}")
        if self.d_model not in self.mla_ranks:
            raise ConfigError(f"parameter mla_ranks={self.mla_ranks}: must include the full "
                              f"width d_model={self.d_model} (the calibration pair's MLA)")
        bad = [a for a in self.mla_ablations if a not in ABLATIONS]
        if bad or CALIBRATION_ABLATION not in self.mla_ablations:
            raise ConfigError(f"parameter mla_ablations={self.mla_ablations}: each one of "
                              f"{list(ABLATIONS)}, and {CALIBRATION_ABLATION!r} (the "
                              "calibration pair's MLA) among them")
        if "mha_mla_heads" not in self.controls:
            raise ConfigError(f"parameter controls={self.controls}: must include 'mha_mla_heads' "
                              "(the calibration pair's MHA)")
        for name in ("mla_ranks", "lrs", "controls", "mla_ablations"):
            values = getattr(self, name)
            if len(set(values)) < len(values):
                raise ConfigError(f"parameter {name}={values}: no repeats")
        if self.tune_seed in self.seed_list:
            raise ConfigError(f"parameter tune_seed={self.tune_seed}: must not be one of the "
                              f"test seeds {self.seed_list}")
        check_order(self, "warmup_steps", "steps")
        variant_specs(self)  # every spec valid (head sizes, rope dims, kv heads)


from nblib.experiments.mla_vs_mha.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
    summary_table,
)
from nblib.experiments.mla_vs_mha.experiment import (  # noqa: E402
    VARIANTS,
    Results,
    estimate_seconds,
    load_data,
    n_runs,
    plan,
    reference_differences,
    run_all,
    variant_specs,
)

__all__ = ["FIGURE", "HEADLINE", "QUESTION", "SLUG", "VARIANTS", "MLAConfig", "Results",
           "closing_line", "decide", "estimate_seconds", "invariants", "load_data", "n_runs",
           "plan", "reference_differences", "run_all", "statistics", "summary_table",
           "variant_specs"]
