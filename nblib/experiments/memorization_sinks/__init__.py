"""Notebook 15: memorization sinks (Ghosal, Maini & Raghunathan 2025, arXiv 2507.09937).

Data: fixed-length passages of a corpus; a few are repeated many times (natural repeated text),
a few random-token canaries are repeated as often, and matched passages and canaries are held
out. Conditions: standard training, deduplicated training, and MemSinks (per-document sink
neurons, dropped at evaluation); post-hoc unlearning of the standard model (gradient ascent on
the repeated documents; pruning the neurons most active on them) at several strengths.

`experiment` trains and measures, `analysis` turns the table into verdicts, `views` draws
(import those two as submodules).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.corpora import PACKAGED

SLUG = "15_memorization_sinks"
QUESTION = ("Can memorisation be isolated in sink neurons and dropped? (Ghosal, Maini & "
            "Raghunathan 2025, arXiv 2507.09937)")
FIGURE = "frontier"
CONDITIONS = ("standard", "dedup", "sinks")


@dataclass(frozen=True)
class SinksConfig(GridConfig):
    """Parameters of notebook 15 (one field per line of its parameters cell)."""

    seeds: int = param(3, "independent seeds (initialisation and data order) per condition",
                       affects="analysis", low=1, high=50)
    corpus: str = param("sotu", "corpus the passages are cut from", affects="train")
    vocab_size: int = param(512, "byte-level BPE vocabulary", affects="train", low=257,
                            high=65536)
    context: int = param(64, "tokens per passage (each training sequence is one passage)",
                         affects="train", low=16, high=4096)
    d_model: int = param(64, "model width", affects="train", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(2, "attention heads", affects="train", low=1, high=64)
    d_mlp: int = param(256, "MLP hidden neurons per layer (general + sink)", affects="train",
                       low=8, high=65536)
    n_sink: int = param(64, "sink neurons per MLP layer (MemSinks condition)", affects="train",
                        low=1, high=65536)
    n_active: int = param(16, "sink neurons each document activates", affects="train", low=1,
                          high=65536)
    n_repeated: int = param(64, "natural passages repeated during training", affects="train",
                            low=2, high=100000)
    n_canaries: int = param(32, "random-token canaries repeated during training",
                            affects="train", low=2, high=100000)
    repeats: int = param(40, "times each repeated passage and canary is seen", affects="train",
                         low=2, high=10000)
    data_seed: int = param(12345, "seed of the passage assignment and the canaries (the same "
                                  "documents for every model seed)", affects="train", low=0,
                           high=2**63 - 1)
    steps: int = param(1500, "training steps of every condition", affects="train", low=10,
                       high=10**7)
    batch_size: int = param(32, "passages per step (training and gradient ascent)",
                            affects="train", low=1, high=4096)
    lr: float = param(3e-3, "peak learning rate", affects="train", low=1e-6, high=1.0)
    warmup_fraction: float = param(0.05, "share of the steps spent in linear warmup",
                                   affects="train", low=0.0, high=0.5)
    final_lr_ratio: float = param(0.1, "learning rate at the end of the cosine, / peak",
                                  affects="train", low=0.0, high=1.0)
    eval_every: int = param(150, "steps between memorisation measurements during training",
                            affects="train", low=1, high=10**6)
    ga_steps: list[int] = param([2, 5, 10, 20], "gradient-ascent unlearning strengths (steps)",
                                affects="eval", item_low=1, item_high=10**5)
    ga_lr: float = param(1e-3, "gradient-ascent learning rate", affects="eval", low=1e-7,
                         high=1.0)
    prune_counts: list[int] = param([8, 16, 32, 64, 128], "pruning strengths: neurons zeroed "
                                    "per layer", affects="eval", item_low=1, item_high=65536)
    prune_reference: int = param(256, "unique training passages whose activations pruning "
                                      "subtracts", affects="eval", low=1, high=10**6)
    extract_prefix: int = param(32, "prefix tokens given for the extraction test",
                                affects="eval", low=1, high=4096)
    extract_tokens: int = param(16, "tokens that must be reproduced exactly", affects="eval",
                                low=1, high=4096)
    val_windows: int = param(256, "held-out corpus windows for the validation loss",
                             affects="eval", low=4, high=10**6)

    @property
    def warmup_steps(self) -> int:
        """Warmup in optimizer steps: floor(steps * warmup_fraction) (steps // 20 at 0.05)."""
        return int(self.steps * self.warmup_fraction + 1e-9)

    def check(self) -> None:
        if self.corpus not in PACKAGED:
            raise ConfigError(f"corpus={self.corpus!r}: use one of {PACKAGED}")
        if self.d_mlp % 8:
            raise ConfigError(f"d_mlp={self.d_mlp} must be a multiple of 8 "
                              "(the SwiGLU width is rounded to 8)")
        if self.n_sink >= self.d_mlp:
            raise ConfigError(f"n_sink={self.n_sink} must be below d_mlp={self.d_mlp}")
        if self.n_active > self.n_sink:
            raise ConfigError(f"n_active={self.n_active} must be at most n_sink={self.n_sink}")
        if max(self.prune_counts) > self.d_mlp:
            raise ConfigError(f"prune_counts={self.prune_counts}: at most d_mlp={self.d_mlp} "
                              "per layer")
        span = self.extract_prefix + self.extract_tokens
        if span > self.context + 1:
            raise ConfigError(f"extract_prefix + extract_tokens = {span} must fit in a passage "
                              f"of context + 1 = {self.context + 1} tokens")
        repeated = (self.n_repeated + self.n_canaries) * self.repeats
        if repeated >= self.steps * self.batch_size:
            raise ConfigError(f"repeated sequences ({repeated}) must be fewer than all training "
                              f"sequences (steps * batch_size = {self.steps * self.batch_size})")


from nblib.experiments.memorization_sinks.experiment import (  # noqa: E402
    Data,
    Results,
    estimate_seconds,
    load_data,
    run_all,
    run_one,
    store_for,
    training_sequences,
)

__all__ = ["CONDITIONS", "FIGURE", "QUESTION", "SLUG", "Data", "Results", "SinksConfig",
           "estimate_seconds", "load_data", "run_all", "run_one", "store_for",
           "training_sequences"]
