"""Notebook 03: the functional form of L(N, D) at high tokens per parameter (Besiroglu et al.
2024, arXiv 2404.10102; Sardana et al. 2024; Farseer, arXiv 2506.10972).

A grid of tiny LMs over model size N and tokens D, every point annealed; the Chinchilla form and
its alternatives are fitted on low tokens-per-parameter points and tested on high ones.
`experiment` trains the grid (one resumable job per size and seed), `analysis` fits and decides,
`views` draws (import those two as submodules).

What shapes the cached results is said per field: "train" for what shapes every run, "jobs" for
what only picks which runs happen (each job's key carries its width and seed), "analysis" for
the fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.corpora import check_corpus
from nblib.scaling import FORMS

SLUG = "03_loss_functional_form"
QUESTION = ("Does the Chinchilla form L = E + A/N^α + B/D^β hold at high tokens per parameter? "
            "(Besiroglu et al. 2024, arXiv 2404.10102; Sardana et al. 2024; Farseer, arXiv "
            "2506.10972)")
FIGURE = "public_residuals"


@dataclass(frozen=True)
class LossFormConfig(GridConfig):
    """Parameters of notebook 03 (one field per line of its parameters cell)."""

    seeds: int = param(3, "independent seeds (initialisation and data order) per model size",
                       affects="analysis", low=1, high=50)
    corpus: str = param("sotu", "training corpus (packaged name or hf:<dataset>)",
                        affects="train")
    vocab_size: int = param(512, "byte-level BPE vocabulary", affects="train", low=257,
                            high=65536)
    context: int = param(32, "tokens per training window", affects="train", low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", affects="train", low=1, high=4096)
    widths: list[int] = param([12, 16, 24, 32], "d_model of each model size", affects="jobs",
                              item_low=8, item_high=8192)
    n_layers: int = param(2, "transformer blocks of every size", affects="train", low=1, high=64)
    n_heads: int = param(2, "attention heads of every size", affects="train", low=1, high=64)
    tpp: list[float] = param([8, 16, 32, 64, 128, 256], "token budgets, tokens per "
                             "non-embedding parameter", affects="train", item_low=0.01,
                             item_high=1e6)
    lr: float = param(3e-3, "peak learning rate at width lr_width (scaled as 1/width for the "
                      "others)", affects="train", low=1e-6, high=1.0)
    lr_width: int = param(32, "the width whose peak learning rate is lr", affects="train",
                          low=1, high=65536)
    warmup_steps: int = param(10, "warmup steps", affects="train", low=0, high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each budget spent decaying the LR to 0",
                                  affects="train", low=0.01, high=1.0)
    weight_decay: float = param(0.1, "AdamW weight decay of every run (matrices only)",
                                affects="train", low=0.0, high=10.0)
    grad_clip: float = param(1.0, "max global gradient norm of every run", affects="train",
                             low=1e-6, high=1e6)
    eval_windows: int = param(512, "validation windows for every loss", affects="train", low=4,
                              high=10**6)
    fit_max_tpp: float = param(64, "fit the forms on budgets up to this many tokens per "
                               "parameter", affects="analysis", low=0.01, high=1e6)
    test_min_tpp: float = param(128, "and test their extrapolation on budgets from this many",
                                affects="analysis", low=0.01, high=1e6)
    forms: list[str] = param(["chinchilla", "farseer", "kaplan"], "functional forms fitted "
                             "(chinchilla first)", affects="analysis")
    fit_starts: int = param(0, "L-BFGS starts kept from each form's grid (0: the whole grid, as "
                            "Besiroglu et al.)", affects="analysis", low=0, high=10**6)
    n_boot: int = param(200, "bootstrap refits (seeds resampled within each model size)",
                        affects="analysis", low=10, high=10**5)
    public_data: str = param("", "Epoch's digitised Chinchilla CSV: '' for the packaged copy, "
                             "or a URL or path", affects="analysis")
    public_eval: str = param("own", "validation set of Gadre et al.'s models: 'own' (each "
                             "training set's own) or one of their eight", affects="analysis")
    public_n: str = param("total", "N of the published models: 'total' parameters (as their "
                          "tokens/parameter M counts them) or 'non_embedding'",
                          affects="analysis", choices=["total", "non_embedding"])
    public_fit_max_tpp: float = param(40, "published data: fit on budgets up to this many tokens "
                                      "per parameter", affects="analysis", low=0.01, high=1e6)
    public_test_min_tpp: float = param(320, "and test on Gadre et al.'s budgets from this many",
                                       affects="analysis", low=0.01, high=1e6)
    chinchilla_test_min_tpp: float = param(100, "and on Epoch's Chinchilla points from this many",
                                           affects="analysis", low=0.01, high=1e6)
    trend_margin: float = param(0.005, "in-sample question: the smallest residual slope worth "
                                "the name (log residual per e-fold of tokens/parameter)",
                                affects="analysis", low=1e-6, high=1.0)
    public_n_boot: int = param(100, "bootstrap refits of the published-data fits (models "
                               "resampled within each size; the sensitivity table uses half)",
                               affects="analysis", low=10, high=10**5)
    public_fit_starts: int = param(100, "L-BFGS starts (the best of each form's grid) of the "
                                   "fits to published data", affects="analysis", low=1,
                                   high=10**6)

    def check(self) -> None:
        from nblib.experiments.loss_functional_form.experiment import budgets, shapes

        check_corpus(self.corpus)
        sizes = shapes(self)  # raises on a width the heads do not divide
        if len(set(self.widths)) < 3:
            raise ConfigError(f"widths={self.widths}: the N exponent needs at least 3 model sizes")
        fit = [t for t in self.tpp if t <= self.fit_max_tpp]
        test = [t for t in self.tpp if t >= self.test_min_tpp]
        if len(set(fit)) < 3 or not test or self.test_min_tpp <= self.fit_max_tpp:
            raise ConfigError(f"tpp={self.tpp}, fit_max_tpp={self.fit_max_tpp}, "
                              f"test_min_tpp={self.test_min_tpp}: need at least 3 budgets to fit "
                              "on, at least 1 above test_min_tpp, and test_min_tpp > fit_max_tpp")
        from nblib.data.scaling_points import gadre_eval_sets

        if self.public_eval not in gadre_eval_sets():
            raise ConfigError(f"parameter public_eval={self.public_eval!r}: must be one of "
                              f"{gadre_eval_sets()}")
        for low, high in ((self.public_fit_max_tpp, self.public_test_min_tpp),
                          (self.public_fit_max_tpp, self.chinchilla_test_min_tpp)):
            if high <= low:
                raise ConfigError(f"public_fit_max_tpp={self.public_fit_max_tpp} must lie below "
                                  f"public_test_min_tpp={self.public_test_min_tpp} and "
                                  f"chinchilla_test_min_tpp={self.chinchilla_test_min_tpp}")
        unknown = [f for f in self.forms if f not in FORMS]
        if unknown or not self.forms or self.forms[0] != "chinchilla":
            raise ConfigError(f"forms={self.forms}: must start with 'chinchilla' and use only "
                              f"{sorted(FORMS)}")
        for shape in sizes:
            first = budgets(self, shape)[0]
            if first.decay_start <= self.warmup_steps:
                raise ConfigError(f"tpp={min(self.tpp)} gives d_model={shape.d_model} only "
                                  f"{first.total_steps} steps, too few to warm up "
                                  f"({self.warmup_steps} steps) and decay: raise the smallest "
                                  "tpp, lower warmup_steps or batch_size")


from nblib.experiments.loss_functional_form.experiment import (  # noqa: E402
    estimate_seconds,
    n_params,
    peak_lr,
    plan,
    run_all,
    shapes,
    summary,
    total_steps,
)

__all__ = ["FIGURE", "QUESTION", "SLUG", "LossFormConfig", "estimate_seconds", "n_params",
           "peak_lr", "plan", "run_all", "shapes", "summary", "total_steps"]
