"""Notebook 07: synthetic data without generation. A pretrained LM prefills each document of a
small seed set once; its attention, aggregated to sentences, gives a DAG of which sentence depends
on which; topological sorts of that DAG are new documents at the cost of one forward pass. Tiny
LMs are trained from scratch at one token budget on the seed set repeated, on uniformly random
sentence permutations, on random topological sorts of the attention DAG and, for synthetic
biographies, of the true DAG (Allen-Zhu & Li, arXiv 2309.14316; Premise Order Matters, arXiv
2402.08939; BART's sentence permutation, arXiv 1910.13461).

`experiment` extracts the DAGs (once, cached), builds each condition's stream, trains and
evaluates (one job per corpus, condition and seed, through `train.grid.run_jobs`); `analysis`
holds the statistics and the pre-registered verdicts; `views` the figures and the widget. Fields
say what they shape: "dag" (the seed set and its DAGs), "train", "eval", "jobs", "analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.models.lm import LMShape

SLUG = "07_dag_permutations"
QUESTION = ("Can topological sorts of an attention DAG over sentences replace repetition as "
            "synthetic data? (Allen-Zhu & Li, arXiv 2309.14316; Premise Order Matters, arXiv "
            "2402.08939)")
FIGURE = "curves"
CORPORA = ("bios", "sotu")
CONDITIONS = ("repeated", "uniform", "attention", "true")  # "true": bios only


@dataclass(frozen=True)
class DagConfig(GridConfig):
    """Parameters of notebook 07 (one field per line of its parameters cell)."""

    seeds: int = param(5, "independent seeds (initialisation, data order and the permutations "
                          "drawn; the seed set and its DAGs are the same for every seed)",
                       affects="jobs", low=1, high=50)
    corpora: list[str] = param(list(CORPORA), "seed sets: synthetic biographies (a true DAG is "
                               "known) and sotu speeches", affects="jobs")
    conditions: list[str] = param(list(CONDITIONS), "conditions (repeated and attention always; "
                                  "true only on bios)", affects="jobs")
    threshold: float = param(1.25, "relative lift above which sentence i depends on sentence j "
                             "(1: the document's mean cross-sentence lift)", affects="train",
                             low=1.0, high=100.0)
    sweep: list[float] = param([1.1, 1.25, 1.5, 2.0, 3.0], "thresholds whose DAGs are "
                               "described (no training: edges, sorts, agreement with the true "
                               "DAG)",
                               affects="analysis", item_low=1.0, item_high=100.0)
    people: int = param(100, "biographies in the bios seed set (one fixed text each)",
                        affects="dag", low=4, high=10**5)
    qa_share: float = param(0.25, "share of bios training documents that are the QA documents "
                            "of half the people (the other half is the extraction test)",
                            affects="train", low=0.0, high=0.5)
    speeches: int = param(24, "sotu speeches in the seed set (the first max_tokens of each)",
                          affects="dag", low=2, high=200)
    max_tokens: int = param(512, "pretrained-model tokens of each seed document (cut to whole "
                            "sentences)", affects="dag", low=32, high=2048)
    layers: list[int] = param([], "pretrained-model layers averaged for the DAG (empty: all)",
                              affects="dag", item_low=0, item_high=200)
    test_people: int = param(64, "new people (never trained on) for the bios validation loss",
                             affects="eval", low=4, high=10**5)
    val_windows: int = param(64, "held-out sotu windows for the sotu validation loss",
                             affects="eval", low=4, high=10**5)
    vocab_size: int = param(2048, "BPE vocabulary of the sotu models (trained on sotu's train "
                            "split)", affects="train", low=257, high=65536)
    d_model: int = param(64, "model width", affects="train", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    context: int = param(128, "tokens per packed training window", affects="train", low=16,
                         high=8192)
    steps: int = param(250, "optimizer steps per model", affects="train", low=10, high=10**7)
    batch_size: int = param(16, "windows per optimizer step", affects="train", low=1,
                            high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, warmup then constant)", affects="train",
                      low=1e-6, high=1.0)
    warmup_steps: int = param(30, "linear warmup steps", affects="train", low=0, high=10**6)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", affects="train",
                                low=0.0, high=10.0)
    n_checkpoints: int = param(8, "evenly spaced evaluated checkpoints (plus step 0)",
                               affects="eval", low=2, high=500)
    ngram: int = param(8, "n of the repetition meter n-grams", affects="eval", low=2, high=64)
    margin: float = param(0.02, "smallest loss difference worth the name, nats per token",
                          affects="analysis", low=1e-4, high=10.0)
    qa_margin: float = param(0.02, "smallest QA accuracy difference worth the name",
                             affects="analysis", low=1e-4, high=1.0)

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        LMShape(d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                context=self.context, vocab_size=self.vocab_size).check()
        for name, allowed in (("corpora", CORPORA), ("conditions", CONDITIONS)):
            values = getattr(self, name)
            unknown = [v for v in values if v not in allowed]
            if unknown or not values or len(set(values)) < len(values):
                raise ConfigError(f"parameter {name}={values}: unknown {unknown} or repeats; "
                                  f"each must be one of {list(allowed)}")
        if not {"repeated", "attention"} <= set(self.conditions):
            raise ConfigError(f"parameter conditions={self.conditions}: repeated and attention "
                              "are always run (the headline compares them)")
        if self.threshold not in self.sweep:
            raise ConfigError(f"parameter sweep={self.sweep}: must include threshold="
                              f"{self.threshold}")
        check_order(self, "warmup_steps", "steps")
        check_order(self, "n_checkpoints", "steps", strict=False)
        if "sotu" in self.corpora:
            from nblib.data.corpora import check_corpus

            check_corpus("sotu", "corpora")


from nblib.experiments.dag_permutations.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.dag_permutations.experiment import (  # noqa: E402
    Results,
    estimate_seconds,
    extract_dags,
    jobs,
    run_all,
)

__all__ = ["CONDITIONS", "CORPORA", "FIGURE", "HEADLINE", "QUESTION", "SLUG", "DagConfig",
           "Results", "closing_line", "decide", "estimate_seconds", "extract_dags", "invariants",
           "jobs", "run_all", "statistics"]
