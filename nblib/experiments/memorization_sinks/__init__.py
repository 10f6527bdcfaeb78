"""Notebook 15: memorization sinks (Ghosal, Maini & Raghunathan 2025, arXiv 2507.09937).

Data: fixed-length passages of a corpus; a few are repeated many times (natural repeated text),
a few random-token canaries are repeated as often, and matched passages and canaries are held
out. Conditions: standard training, deduplicated training, and MemSinks (per-document sink
neurons, dropped at evaluation) at several sparsities (`n_active` of `n_sink` sinks per
document; the pre-registered headline at `n_active`); post-hoc unlearning of the standard model
(gradient ascent, GradDiff, NPO and NPO+RT on the repeated documents; pruning the neurons most
specific to them) at several strengths.

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
FIGURE = "sparsity_sweep"
CONDITIONS = ("standard", "dedup", "sinks")


@dataclass(frozen=True)
class SinksConfig(GridConfig):
    """Parameters of notebook 15 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initialisation and data order) per condition",
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
    n_sink: int = param(64, "sink neurons per MLP layer of the MemSinks models", affects="train",
                        low=1, high=65536)
    n_active: int = param(4, "sink neurons each document activates in the headline MemSinks "
                             "model (pre-registered; one of n_active_sweep)", affects="train",
                          low=1, high=65536)
    n_active_sweep: list[int] = param([1, 2, 4, 16], "n_active values trained at n_sink: the "
                                      "sparsity sweep", affects="train", item_low=1,
                                      item_high=65536)
    n_sink_sweep: list[int] = param([], "further sink counts, each trained at the headline "
                                    "ratio n_active / n_sink", affects="train", item_low=1,
                                    item_high=65536)
    n_repeated: int = param(32, "natural passages repeated during training", affects="train",
                            low=2, high=100000)
    n_canaries: int = param(16, "random-token canaries repeated during training",
                            affects="train", low=2, high=100000)
    repeats: int = param(40, "times each repeated passage and canary is seen", affects="train",
                         low=2, high=10000)
    data_seed: int = param(12345, "seed of the passage assignment and the canaries (the same "
                                  "documents for every model seed)", affects="train", low=0,
                           high=2**63 - 1)
    steps: int = param(500, "training steps of every condition", affects="train", low=10,
                       high=10**7)
    batch_size: int = param(32, "passages per step (training and gradient ascent)",
                            affects="train", low=1, high=4096)
    lr: float = param(3e-3, "peak learning rate", affects="train", low=1e-6, high=1.0)
    warmup_fraction: float = param(0.05, "share of the steps spent in linear warmup",
                                   affects="train", low=0.0, high=0.5)
    final_lr_ratio: float = param(0.1, "learning rate at the end of the cosine, / peak",
                                  affects="train", low=0.0, high=1.0)
    eval_every: int = param(50, "steps between memorisation measurements during training",
                            affects="train", low=1, high=10**6)
    unlearn_steps: list[int] = param([2, 5, 10, 20, 40], "strengths of every fine-tuning "
                                     "unlearning method (cumulative optimiser steps)",
                                     affects="eval", item_low=1, item_high=10**5)
    unlearn_lr: float = param(3e-4, "learning rate of the unlearning methods", affects="eval",
                              low=1e-7, high=1.0)
    npo_beta: float = param(0.1, "NPO's inverse temperature beta", affects="eval", low=1e-4,
                            high=100.0)
    retain_weight: float = param(1.0, "weight of the retain loss (GradDiff, NPO+RT)",
                                 affects="eval", low=0.0, high=100.0)
    prune_counts: list[int] = param([8, 16, 32, 64, 128], "pruning strengths: neurons zeroed "
                                    "per layer", affects="eval", item_low=1, item_high=65536)
    retain_passages: int = param(256, "unique training passages of the retain set (GradDiff, "
                                      "NPO+RT) and of pruning's reference", affects="eval",
                                 low=1, high=10**6)
    extract_prefix: int = param(32, "prefix tokens given for the extraction test",
                                affects="eval", low=1, high=4096)
    extract_tokens: int = param(16, "tokens that must be reproduced exactly", affects="eval",
                                low=1, high=4096)
    val_windows: int = param(256, "held-out corpus windows for the validation loss",
                             affects="eval", low=4, high=10**6)
    threshold: float = param(0.5, "share of the loss gap and of the excess canary extraction "
                                  "that dropping the sinks must close (the paper: over half)",
                             affects="analysis", low=0.0, high=1.0)
    parity_margin: float = param(0.05, "equivalence margin of validation loss against standard "
                                       "training (nats/token)", affects="analysis", low=1e-6,
                                 high=10.0)

    @property
    def sink_points(self) -> list[tuple[int, int]]:
        """Every MemSinks model trained, as (n_sink, n_active): the n_active sweep at n_sink,
        then each of n_sink_sweep at the headline ratio."""
        return ([(self.n_sink, a) for a in sorted(self.n_active_sweep)]
                + [(s, s * self.n_active // self.n_sink) for s in sorted(self.n_sink_sweep)])

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
        if self.n_active not in self.n_active_sweep:
            raise ConfigError(f"n_active={self.n_active} must be one of n_active_sweep="
                              f"{self.n_active_sweep} (the headline is a point of the sweep)")
        if max(self.n_active_sweep) > self.n_sink:
            raise ConfigError(f"n_active_sweep={self.n_active_sweep}: at most n_sink="
                              f"{self.n_sink}")
        if len(set(self.n_active_sweep)) != len(self.n_active_sweep):
            raise ConfigError(f"n_active_sweep={self.n_active_sweep} repeats a value")
        for sinks in self.n_sink_sweep:
            if sinks >= self.d_mlp or sinks == self.n_sink or sinks * self.n_active % self.n_sink:
                raise ConfigError(f"n_sink_sweep={self.n_sink_sweep}: each must differ from "
                                  f"n_sink={self.n_sink}, be below d_mlp={self.d_mlp} and give "
                                  f"a whole number of active sinks at the headline ratio "
                                  f"n_active / n_sink = {self.n_active}/{self.n_sink}")
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
