"""Notebook 03, part 1: the loss laws fitted to published scaling data, no training.

Sources (shipped in `nblib/data/scaling/`): Gadre et al. 2024's models on each of their three
training sets (`c4_original`, `rpj`, `rw_original`), and Epoch's digitisation of Chinchilla's
Figure 4 (`chinchilla_fig4`, Epoch's 5 highest-loss points dropped as in their refit). Models are
the units: a bootstrap resample draws models with replacement within each model size, refits
every form on the resampled fit points (warm-started) and scores it on the resampled test points,
the same procedure as the notebook's own grid (`analysis.bootstrap`, one model = one "run").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib import scaling
from nblib.config import replace
from nblib.data.scaling_points import (
    GADRE_DATASETS,
    PACKAGED,
    load_epoch_chinchilla,
    load_gadre2024,
)
from nblib.experiments.loss_functional_form import analysis
from nblib.stats import Estimate, Verdict, verdict

EPOCH = "chinchilla_fig4"  # the source name of Epoch's digitised Chinchilla points
HEADLINE = "public_chinchilla_underpredicts"


def sources(cfg) -> dict[str, pd.DataFrame]:
    """Source name -> its points (N, D, loss, tpp, seed = a model id within the source)."""
    g = load_gadre2024(cfg.public_eval, embeddings=cfg.public_n == "total")
    out = {ds: g[g.dataset == ds] for ds in GADRE_DATASETS}
    e = load_epoch_chinchilla(cfg.public_data or PACKAGED, drop_highest=5)
    out[EPOCH] = e.assign(tpp=e.D / e.N)
    return {name: p.reset_index(drop=True).assign(seed=np.arange(len(p)))
            for name, p in out.items()}


def split(cfg, name: str, points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(fit on, test on) of one source: budgets up to public_fit_max_tpp, and from
    public_test_min_tpp (Gadre) or chinchilla_test_min_tpp (Epoch's Chinchilla points)."""
    test_min = cfg.chinchilla_test_min_tpp if name == EPOCH else cfg.public_test_min_tpp
    return analysis.masks(points, cfg.public_fit_max_tpp, test_min)


def analyse(cfg, data: dict[str, pd.DataFrame], n_boot: int | None = None) -> dict:
    """Per source: the fits on its fit points, the bootstrap table (per resample and form: held-out
    bias and mae) and the extrapolation table (Estimates, n = models)."""
    out = {}
    for i, (name, points) in enumerate(data.items()):  # a random stream per source
        train, test = split(cfg, name, points)
        fits = analysis.fit_forms(points, train, cfg.forms, cfg.public_fit_starts)
        boots = analysis.bootstrap(points, train, test, fits, n_boot or cfg.public_n_boot,
                                   seed=i)
        out[name] = {"points": points, "train": train, "test": test, "fits": fits,
                     "boots": boots, "table": analysis.extrapolation_table(
                         points, test, fits, boots, unit="models")}
    return out


def _pooled(parts: dict, form: str, key: str) -> tuple[float, np.ndarray]:
    """The mean over sources of a held-out statistic (bias or mae) of `form`, and its bootstrap
    samples (resample b of every source averaged; sources resampled independently)."""
    value = float(np.mean([p["table"][form][key].value for p in parts.values()]))
    samples = np.mean([p["boots"][p["boots"].form == form].sort_values("boot")[key].to_numpy()
                       for p in parts.values()], axis=0)
    return value, samples


def _estimate(value: float, samples: np.ndarray, n: int) -> Estimate:
    """`value` with the 95% percentile interval of its finite bootstrap samples (models)."""
    return analysis._estimate(value, samples, n, unit="models")


def decide(cfg, results: dict) -> dict[str, Verdict]:
    """The headline (Chinchilla fitted on low tokens/parameter under-predicts high ones, mean over
    Gadre's three training sets), the same per source, and each alternative form against
    Chinchilla on the same pooled held-out points (Holm over the alternatives)."""
    gadre = {k: v for k, v in results.items() if k in GADRE_DATASETS}
    n = sum(len(p["points"]) for p in gadre.values())
    value, samples = _pooled(gadre, "chinchilla", "bias")
    fit_max, test_min = cfg.public_fit_max_tpp, cfg.public_test_min_tpp
    out = {HEADLINE: verdict(
        f"Gadre et al. 2024 (3 training sets, {n} models): fitted on budgets up to {fit_max:g} "
        f"tokens/parameter, the Chinchilla form predicts a lower loss than measured at "
        f"{test_min:g}+ (held-out mean log residual, averaged over the training sets, > 0)",
        _estimate(value, samples, n), 0.0, ">",
        {"per_source": {k: v["table"]["chinchilla"]["bias"] for k, v in results.items()},
         "fits": {k: v["fits"]["chinchilla"].params for k, v in results.items()}})}
    for name, part in results.items():
        t = cfg.chinchilla_test_min_tpp if name == EPOCH else test_min
        out[f"underpredicts_{name}"] = verdict(
            f"{name}: fitted up to {fit_max:g} tokens/parameter, Chinchilla under-predicts the "
            f"loss at {t:g}+ (held-out mean log residual > 0)",
            part["table"]["chinchilla"]["bias"], 0.0, ">",
            {"fit": part["fits"]["chinchilla"].params,
             "n_fit": int(part["train"].sum()), "n_test": int(part["test"].sum())})
    differences = {}
    for form in cfg.forms[1:]:
        v, s = _pooled(gadre, form, "mae")
        v0, s0 = _pooled(gadre, "chinchilla", "mae")
        differences[form] = (v - v0, s - s0)
    out.update(analysis.holm_verdicts(
        {f"public_{form}_extrapolates_better": (
            f"Gadre et al. 2024: the {form} form has a smaller held-out mean |log residual| than "
            f"Chinchilla's (mean over the training sets; Holm over {len(differences)} "
            "alternative forms)", d, s, n) for form, (d, s) in differences.items()}))
    return out


def in_sample_trend(cfg, data: dict[str, pd.DataFrame], n_boot: int | None = None
                    ) -> Verdict:
    """Is it the form or the extrapolation? Chinchilla fitted on *all* of a source's points; the
    slope of its log residual on log tokens/parameter within each model size over the budgets
    from public_fit_max_tpp up, averaged over sizes and over Gadre's training sets
    (`analysis.residual_trend`). A slope > 0: the form itself misses the high end."""
    gadre = {k: v for k, v in data.items() if k in GADRE_DATASETS}
    per = {k: analysis.residual_trend(p, cfg.public_fit_max_tpp, n_boot or cfg.public_n_boot,
                                      cfg.public_fit_starts, seed=i)
           for i, (k, p) in enumerate(gadre.items())}  # a random stream per training set
    value = float(np.mean([e.value for e, _ in per.values()]))
    samples = np.mean([s for _, s in per.values()], axis=0)
    n = sum(len(p) for p in gadre.values())
    return analysis.trend_verdict(_estimate(value, samples, n), cfg.public_fit_max_tpp,
                                  cfg.trend_margin, "Gadre et al. 2024 (mean over training sets)")


def summary(results: dict) -> pd.DataFrame:
    """Per source and form: points fitted and tested, held-out bias and mae with 95% intervals,
    and the fitted E and exponents."""
    rows = []
    for name, part in results.items():
        for form, row in part["table"].items():
            f = part["fits"][form]
            rows.append(dict(source=name, form=form, n_fit=int(part["train"].sum()),
                             n_test=int(part["test"].sum()), bias=row["bias"].value,
                             bias_low=row["bias"].low, bias_high=row["bias"].high,
                             mae=row["mae"].value, E=f.params.get("E"),
                             alpha=f.params.get("alpha"),
                             beta=f.params.get("beta", f.params.get("beta0"))))
    return pd.DataFrame(rows)


def sensitivity(cfg, splits: list[tuple[float, float]], n_boot: int = 100) -> pd.DataFrame:
    """The headline under other choices the bootstrap does not cover: fit/test splits, and N with
    or without embeddings; one row per setting (pooled held-out bias of Chinchilla, 95% CI)."""
    rows = []
    for public_n in ("total", "non_embedding"):
        for fit_max, test_min in splits:
            c = replace(cfg, public_n=public_n, public_fit_max_tpp=fit_max,
                        public_test_min_tpp=test_min, forms=["chinchilla"])
            data = {k: v for k, v in sources(c).items() if k in GADRE_DATASETS}
            res = analyse(c, data, n_boot)
            value, samples = _pooled(res, "chinchilla", "bias")
            e = _estimate(value, samples, 0)
            lo, hi = e.low, e.high
            rows.append(dict(n_counts=public_n, fit_max_tpp=fit_max, test_min_tpp=test_min,
                             bias=value, low=lo, high=hi, supported=bool(lo > 0),
                             resamples=int(np.isfinite(samples).sum())))
    return pd.DataFrame(rows)


__all__ = ["EPOCH", "HEADLINE", "analyse", "decide", "in_sample_trend", "scaling", "sensitivity",
           "sources", "split", "summary"]
