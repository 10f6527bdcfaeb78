"""Notebook 15's statistics: how much of the memorisation gap dropping the sinks closes, at what
cost in validation loss, and whether that point dominates post-hoc unlearning. Seeds are the
units; every comparison is paired by seed (same data, same evaluation passages)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import Estimate, Verdict, mean_ci, paired, verdict

PAPER_SHARE = 0.5  # Ghosal et al.: dropping the sinks closes more than half of the gap


def by_seed(final: pd.DataFrame, method: str, strength: float = 0) -> pd.DataFrame:
    rows = final[(final.method == method) & (final.strength == strength)]
    return rows.set_index("seed").sort_index()


def gap_closed(final: pd.DataFrame, gap: str = "gap") -> Estimate:
    """1 - gap(sinks dropped) / gap(standard), per seed: the share of the memorisation gap
    removed."""
    sinks, standard = by_seed(final, "sinks"), by_seed(final, "standard")
    return mean_ci((1 - sinks[gap] / standard[gap]).to_numpy())


def val_cost(final: pd.DataFrame, versus: str = "standard") -> Estimate:
    """Validation loss of the sinks model (sinks dropped) minus `versus`'s, paired by seed."""
    sinks, other = by_seed(final, "sinks"), by_seed(final, versus)
    return paired(sinks.val_loss.to_numpy(), other.val_loss.to_numpy())


def best_gap_at_cost(final: pd.DataFrame, method: str, seed: int, max_val_loss: float) -> float:
    """The smallest gap a post-hoc `method` reaches on the standard model of `seed` without its
    validation loss exceeding `max_val_loss` (the unmodified standard model counts as strength 0).
    If no setting is that good, the one with the lowest validation loss: the comparison is then
    against the method's best point in validation loss, which is already worse than the bound."""
    rows = final[(final.seed == seed) & ((final.method == method) | (final.method == "standard"))]
    allowed = rows[rows.val_loss <= max(max_val_loss, rows.val_loss.min())]
    return float(allowed.gap.min())


def dominance(final: pd.DataFrame, method: str) -> Estimate:
    """Per seed: the post-hoc method's best gap at no more validation loss than the sinks model,
    minus the sinks model's gap. Positive: the sinks point dominates that method's frontier."""
    sinks = by_seed(final, "sinks")
    diffs = [best_gap_at_cost(final, method, seed, row.val_loss) - row.gap
             for seed, row in sinks.iterrows()]
    return mean_ci(np.asarray(diffs, float))


def post_hoc_methods(final: pd.DataFrame) -> list[str]:
    return sorted(set(final.method) - {"standard", "dedup", "sinks"})


def decide(final: pd.DataFrame) -> dict[str, Verdict]:
    """The notebook's verdicts (the first is the headline)."""
    closed = gap_closed(final)
    out = {"gap_closed": verdict(
        f"dropping the sinks closes more than {PAPER_SHARE:.0%} of the natural-text memorisation "
        "gap (held-out minus repeated passage loss) of standard training", closed, PAPER_SHARE, ">",
        details={"canary_gap_closed": gap_closed(final, "canary_gap"),
                 "val_cost_vs_standard": val_cost(final)})}
    out["beats_dedup"] = verdict(
        "with the sinks dropped, validation loss is lower than deduplicated training's",
        val_cost(final, "dedup"), 0.0, "<")
    for method in post_hoc_methods(final):
        out[f"dominates_{method.replace(' ', '_')}"] = verdict(
            f"at no more validation loss, {method} on the standard model leaves a larger gap than "
            "the sinks model", dominance(final, method), 0.0, ">")
    return out


def summary(final: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per condition / method and strength."""
    cols = [c for c in ("gap", "canary_gap", "val_loss", "extract_natural", "extract_canary",
                        "matched_natural", "matched_canary", "matched_heldout", "gap_sinks_on")
            if c in final]
    return final.groupby(["method", "strength"])[cols].mean()


def estimates(final: pd.DataFrame) -> dict:
    """The notebook's recorded estimates: shares of the gaps closed, validation costs, and the
    dominance margin over each post-hoc method."""
    return {"gap_closed": gap_closed(final), "canary_gap_closed": gap_closed(final, "canary_gap"),
            "val_cost_vs_standard": val_cost(final), "val_cost_vs_dedup": val_cost(final, "dedup"),
            "dominance": {m: dominance(final, m) for m in post_hoc_methods(final)}}


def describe(found: dict, final: pd.DataFrame) -> str:
    """`estimates` in words, with the sinks model's gap when its own sinks are switched on."""
    sinks, standard = by_seed(final, "sinks"), by_seed(final, "standard")
    lines = [
        f"share of the natural-text gap closed by dropping the sinks: {found['gap_closed']}",
        f"share of the canary gap closed: {found['canary_gap_closed']}",
        f"validation loss, MemSinks (sinks dropped) minus standard: "
        f"{found['val_cost_vs_standard']}",
        f"validation loss, MemSinks (sinks dropped) minus deduplicated: "
        f"{found['val_cost_vs_dedup']}",
        f"gap of the MemSinks model with each passage's own sinks on: "
        f"{sinks.gap_sinks_on.mean():.3f} (dropped: {sinks.gap.mean():.3f}; "
        f"standard: {standard.gap.mean():.3f})"]
    lines += [f"{method}: best gap at no more validation loss than MemSinks, minus MemSinks' gap: "
              f"{estimate}" for method, estimate in found["dominance"].items()]
    return "\n".join(lines)
