"""Notebook 15's statistics. Seeds are the units; every comparison is paired by seed (the same
documents, evaluation passages and validation windows; a seed fixes initialisation and data
order).

The pre-registered headline, `isolation`, holds only if both co-primary endpoints hold (an
intersection-union test: each at 95%, no multiplicity correction is needed for "both"), read at
the last training step on the MemSinks model of the headline sparsity (`n_active` of `n_sink`
sinks per document), sinks dropped:

- gap_closed: 1 − gap(MemSinks) / gap(standard) per seed, the gap being held-out minus repeated
  natural-passage loss; its t-interval must lie above `threshold` (the paper: over half);
- extraction_closed: 1 − excess(MemSinks) / excess(standard) per seed, the excess being the
  tokens greedy decoding reproduces verbatim from repeated canaries minus from held-out ones
  (the privacy-relevant quantity); the same threshold.

Secondary verdicts: above the post-hoc unlearning frontier (validation loss the frontier of
GA, GradDiff, NPO, NPO+RT and pruning needs to reach the MemSinks model's gap, minus the
MemSinks model's), lower validation loss than deduplication, validation-loss parity with
standard training (TOST), and sparsity helping isolation (gap closed at the sparsest sweep
point minus at the densest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import LABELS, Estimate, Verdict, all_of, mean_ci, paired, tost, verdict

HEADLINE = "isolation"
TRAINED = ("standard", "dedup", "sinks")
NAN = float("nan")


def nan_estimate(n: int) -> Estimate:
    return Estimate(NAN, NAN, NAN, 0.95, n)


def by_seed(final: pd.DataFrame, method: str, strength: float = 0, n_sink: int | None = None,
            n_active: int | None = None) -> pd.DataFrame:
    """One row per seed of a trained model (a MemSinks model by its n_sink and n_active) or of a
    post-hoc method at one strength."""
    rows = final[(final.method == method) & (final.strength == strength)]
    if method == "sinks":
        rows = rows[(rows.n_sink == n_sink) & (rows.n_active == n_active)]
    return rows.set_index("seed").sort_index()


def sink_points(final: pd.DataFrame) -> list[tuple[int, int]]:
    """The (n_sink, n_active) of every MemSinks model in the table."""
    rows = final[final.method == "sinks"]
    return sorted({(int(s), int(a)) for s, a in zip(rows.n_sink, rows.n_active, strict=True)})


def share_closed(model: pd.Series, standard: pd.Series) -> Estimate:
    """Mean over seeds of 1 − model / standard with its t-interval; NaN (no verdict) when
    standard training left no positive quantity to close on some seed or fewer than 2 seeds."""
    model, standard = model.sort_index(), standard.sort_index()
    if not model.index.equals(standard.index):
        raise ValueError(f"seeds differ: {list(model.index)} vs {list(standard.index)}")
    if len(model) < 2 or not (standard > 0).all():
        return nan_estimate(len(model))
    return mean_ci((1 - model / standard).to_numpy(float))


def excess_extraction(rows: pd.DataFrame) -> pd.Series:
    """Tokens reproduced verbatim from repeated canaries minus from held-out canaries."""
    return rows.matched_canary - rows.matched_heldout_canary


def gap_closed(final: pd.DataFrame, point: tuple[int, int], gap: str = "gap") -> Estimate:
    """Share of standard training's memorisation gap (`gap` or `canary_gap`) that dropping the
    sinks of the MemSinks model `point` = (n_sink, n_active) closes."""
    return share_closed(by_seed(final, "sinks", 0, *point)[gap], by_seed(final, "standard")[gap])


def extraction_closed(final: pd.DataFrame, point: tuple[int, int]) -> Estimate:
    """Share of standard training's excess verbatim canary extraction removed."""
    return share_closed(excess_extraction(by_seed(final, "sinks", 0, *point)),
                        excess_extraction(by_seed(final, "standard")))


def _paired(a: pd.Series, b: pd.Series, level: float = 0.95) -> Estimate:
    a, b = a.sort_index(), b.sort_index()
    if len(a) < 2:
        return nan_estimate(len(a))
    return paired(a.to_numpy(float), b.to_numpy(float), level)


def reduction(final: pd.DataFrame, point: tuple[int, int], column: str) -> Estimate:
    """standard minus MemSinks (sinks dropped) in `column`, paired by seed (e.g. g_std − g_sink
    in nats/token, or matched_canary in tokens)."""
    return _paired(by_seed(final, "standard")[column],
                   by_seed(final, "sinks", 0, *point)[column])


def val_cost(final: pd.DataFrame, point: tuple[int, int], versus: str = "standard",
             level: float = 0.95) -> Estimate:
    """Validation loss of the MemSinks model (sinks dropped) minus `versus`'s, paired by seed."""
    return _paired(by_seed(final, "sinks", 0, *point).val_loss, by_seed(final, versus).val_loss,
                   level)


# --- the post-hoc frontier ------------------------------------------------------------------
def pareto(points: np.ndarray) -> np.ndarray:
    """The non-dominated points (k, 2) of (gap, val_loss), both lower-is-better, ordered by gap
    (so val_loss falls along them)."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]
    keep, best = [], np.inf
    for gap, val in pts:
        if val < best:
            keep.append((gap, val))
            best = val
    return np.asarray(keep, float)


def frontier_val(points: np.ndarray, gap: float) -> tuple[float, bool]:
    """The validation loss the frontier of `points` needs to reach a gap of `gap`: linear between
    consecutive Pareto points (generous to the post-hoc methods: a straight line is at most the
    staircase); beyond its largest gap, its lowest validation loss; below its smallest gap, the
    validation loss of that point (it never reaches `gap`: generous again). Returns (val,
    whether the frontier reaches `gap`)."""
    front = pareto(points)
    gaps, vals = front[:, 0], front[:, 1]
    if gap < gaps[0]:
        return float(vals[0]), False
    return float(np.interp(gap, gaps, vals)), True


def frontier_points(final: pd.DataFrame, seed: int, methods=None) -> np.ndarray:
    """(gap, val_loss) of every post-hoc point of `seed` (all methods, or `methods`) and the
    unmodified standard model, the start (strength 0) of every unlearning path."""
    rows = final[(final.seed == seed) & ~final.method.isin(TRAINED)]
    if methods is not None:
        rows = rows[rows.method.isin(methods)]
    start = by_seed(final, "standard").loc[[seed], ["gap", "val_loss"]]
    return np.concatenate([start.to_numpy(float), rows[["gap", "val_loss"]].to_numpy(float)])


def post_hoc_methods(final: pd.DataFrame) -> list[str]:
    return sorted(set(final.method) - set(TRAINED))


def frontier_margin(final: pd.DataFrame, point: tuple[int, int],
                    methods=None) -> tuple[Estimate, dict]:
    """Per seed: the validation loss the post-hoc frontier needs to reach the MemSinks model's
    gap, minus the MemSinks model's validation loss (positive: MemSinks lies above the
    frontier); and the seeds where the frontier never reaches that gap."""
    sinks = by_seed(final, "sinks", 0, *point)
    margins, unreached = [], []
    for seed, row in sinks.iterrows():
        val, reached = frontier_val(frontier_points(final, seed, methods), row.gap)
        margins.append(val - row.val_loss)
        if not reached:
            unreached.append(int(seed))
    est = mean_ci(np.asarray(margins)) if len(margins) >= 2 else nan_estimate(len(margins))
    return est, {"seeds_beyond_the_frontier": unreached}


# --- verdicts ---------------------------------------------------------------------------------
def parity_verdict(final: pd.DataFrame, point: tuple[int, int], margin: float) -> Verdict:
    """Validation loss with the sinks dropped is equivalent to standard training's within
    ±margin: SUPPORTED when the 90% interval (TOST at α = 0.05) lies inside, NOT SUPPORTED when
    the 95% interval lies wholly outside, INCONCLUSIVE otherwise."""
    est95, est90 = val_cost(final, point), val_cost(final, point, level=0.90)
    if np.isfinite(est90.low) and tost(est90, margin):
        label = LABELS[0]
    elif est95.low > margin or est95.high < -margin:
        label = LABELS[1]
    else:
        label = LABELS[2]
    return Verdict(label, f"with the sinks dropped, validation loss matches standard training's "
                   f"within ±{margin:g} nats/token (TOST on the paired difference)", est95,
                   margin, "≈", {"interval_90": est90})


def decide(final: pd.DataFrame, cfg) -> dict[str, Verdict]:
    """The notebook's verdicts (the first is the headline). `cfg` gives the headline point
    (n_sink, n_active), the threshold and the parity margin."""
    point, thr = (cfg.n_sink, cfg.n_active), cfg.threshold
    where = f"MemSinks with {cfg.n_active} of {cfg.n_sink} sinks per document, last step"
    parts = {
        "gap_closed": verdict(
            f"dropping the sinks closes more than {thr:.0%} of the natural-text memorisation gap "
            f"(held-out minus repeated passage loss) of standard training ({where})",
            gap_closed(final, point), thr, ">",
            {"g_std_minus_g_sink": reduction(final, point, "gap"),
             "canary_gap_closed": gap_closed(final, point, "canary_gap")}),
        "extraction_closed": verdict(
            f"dropping the sinks removes more than {thr:.0%} of standard training's excess "
            f"verbatim canary extraction (tokens reproduced from repeated minus held-out "
            f"canaries; {where})", extraction_closed(final, point), thr, ">",
            {"tokens_std_minus_sink": reduction(final, point, "matched_canary")})}
    for v in parts.values():
        if not np.isfinite(v.estimate.value):
            v.details["note"] = ("no verdict: standard training left nothing positive to close "
                                 "on some seed (or fewer than 2 seeds)")
    out = {HEADLINE: all_of(
        f"isolation: dropping the sinks closes more than {thr:.0%} of both the natural-text loss "
        f"gap and the excess canary extraction ({where}; both co-primary endpoints must hold)",
        parts, "gap_closed")}
    out.update(parts)
    margin, info = frontier_margin(final, point)
    per_method = {m: frontier_margin(final, point, [m])[0] for m in post_hoc_methods(final)}
    out["above_frontier"] = verdict(
        "the MemSinks model (sinks dropped) lies above the post-hoc unlearning frontier of the "
        "standard model: to reach its natural-text gap, the frontier of gradient ascent, GradDiff, "
        "NPO, NPO+RT and pruning (any strength) needs more validation loss than MemSinks has",
        margin, 0.0, ">", {**info, "per_method": per_method})
    out["beats_dedup"] = verdict(
        "with the sinks dropped, validation loss is lower than deduplicated training's",
        val_cost(final, point, "dedup"), 0.0, "<")
    out["val_parity"] = parity_verdict(final, point, cfg.parity_margin)
    sweep = [p for p in sink_points(final) if p[0] == cfg.n_sink]
    if len(sweep) >= 2:
        sparse, dense = sweep[0], sweep[-1]
        a, b = (by_seed(final, "sinks", 0, *p).gap for p in (sparse, dense))
        std = by_seed(final, "standard").gap
        diff = ((b - a) / std if (std > 0).all() and len(std) >= 2 else None)
        out["sparsity_helps"] = verdict(
            f"sparser sinks isolate more: the share of the gap closed with {sparse[1]} of "
            f"{cfg.n_sink} sinks per document exceeds that with {dense[1]}, paired by seed",
            nan_estimate(len(std)) if diff is None else mean_ci(diff.to_numpy(float)), 0.0, ">")
    return out


# --- tables -----------------------------------------------------------------------------------
def label(row) -> str:
    """'standard', 'dedup', or 'sinks 4/64' (n_active of n_sink), for tables and figures."""
    if row["method"] == "sinks":
        return f"sinks {int(row['n_active'])}/{int(row['n_sink'])}"
    return row["method"]


def sweep_table(final: pd.DataFrame) -> pd.DataFrame:
    """Per MemSinks model: the shares of the gap and of the excess extraction closed, and the
    validation cost against standard training, each with its t-interval over seeds."""
    rows = []
    for point in sink_points(final):
        for name, est in (("gap_closed", gap_closed(final, point)),
                          ("canary_gap_closed", gap_closed(final, point, "canary_gap")),
                          ("extraction_closed", extraction_closed(final, point)),
                          ("val_cost", val_cost(final, point))):
            rows.append({"n_sink": point[0], "n_active": point[1],
                         "ratio": point[1] / point[0], "endpoint": name, "mean": est.value,
                         "low": est.low, "high": est.high, "n": est.n})
    return pd.DataFrame(rows)


def summary(final: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per trained model / post-hoc method and strength."""
    cols = [c for c in ("gap", "canary_gap", "val_loss", "matched_natural", "matched_canary",
                        "matched_heldout", "matched_heldout_canary", "extract_canary",
                        "gap_sinks_on") if c in final]
    named = final.assign(model=final.apply(label, axis=1))
    return named.groupby(["model", "strength"])[cols].mean()


def estimates(final: pd.DataFrame, cfg) -> dict:
    """The recorded estimates behind the verdicts, and the sweep."""
    point = (cfg.n_sink, cfg.n_active)
    return {"gap_closed": gap_closed(final, point),
            "g_std_minus_g_sink": reduction(final, point, "gap"),
            "canary_gap_closed": gap_closed(final, point, "canary_gap"),
            "extraction_closed": extraction_closed(final, point),
            "canary_tokens_std_minus_sink": reduction(final, point, "matched_canary"),
            "val_cost_vs_standard": val_cost(final, point),
            "val_cost_vs_dedup": val_cost(final, point, "dedup"),
            "frontier_margin": frontier_margin(final, point)[0],
            "sweep": sweep_table(final).to_dict("records")}


def describe(found: dict, final: pd.DataFrame, cfg) -> str:
    """`estimates` in words, with the headline model's gap when its own sinks are switched on."""
    point = (cfg.n_sink, cfg.n_active)
    sinks, standard = by_seed(final, "sinks", 0, *point), by_seed(final, "standard")
    return "\n".join([
        f"headline model: {cfg.n_active} of {cfg.n_sink} sinks per document",
        f"share of the natural-text gap closed: {found['gap_closed']}",
        f"  g_std − g_sink (nats/token): {found['g_std_minus_g_sink']}",
        f"share of the canary loss gap closed: {found['canary_gap_closed']}",
        f"share of the excess canary extraction removed: {found['extraction_closed']}",
        f"  canary tokens reproduced, standard − MemSinks: "
        f"{found['canary_tokens_std_minus_sink']}",
        f"validation loss, MemSinks − standard: {found['val_cost_vs_standard']}",
        f"validation loss, MemSinks − deduplicated: {found['val_cost_vs_dedup']}",
        f"post-hoc frontier's validation loss at MemSinks' gap, minus MemSinks': "
        f"{found['frontier_margin']}",
        f"gap with each passage's own sinks on: {sinks.gap_sinks_on.mean():.3f} (dropped: "
        f"{sinks.gap.mean():.3f}; standard: {standard.gap.mean():.3f})"])
