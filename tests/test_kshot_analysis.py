"""nblib.experiments.kshot_analysis and kshot_views on synthetic pass@k curves with known answers:
a sharp model against a spread one (the curves cross), two identical models (no difference),
and a uniformly better one (no crossing)."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from nblib.eval.passk import pass_at_k_exact
from nblib.experiments import kshot_analysis as analysis
from nblib.experiments import kshot_views as views

matplotlib.use("Agg")
PASS_KS = [1, 2, 4, 8, 16, 32, 64]


def model_p(kind: str, rng, n_problems: int = 200) -> np.ndarray:
    """Per-problem success probabilities: 'sharp' is right with p ≈ 1 on 40% of the problems and
    hopeless on the rest; 'spread' is right with p ≈ 0.25 everywhere; 'better' beats both."""
    if kind == "sharp":
        return np.where(rng.random(n_problems) < 0.4, 0.95, 0.001)
    if kind == "spread":
        return np.clip(rng.normal(0.25, 0.05, n_problems), 0.01, 1)
    return np.clip(rng.normal(0.9, 0.02, n_problems), 0, 1)


def synthetic(kinds: dict[int, str], seeds: int = 4, tasks=("modular",)) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, problems = [], []
    for task in tasks:
        for seed in range(seeds):
            for k, kind in kinds.items():
                p = model_p(kind, np.random.default_rng(seed))  # the same problems for every model
                temps = [1.0, 2.0] if k == 1 else [1.0]
                for t in temps:
                    q = p if t == 1.0 else p ** 0.8  # a hotter sampler: somewhat more mass off the top
                    curve = pass_at_k_exact(q, PASS_KS).mean(-1)
                    rows += [{"task": task, "k": k, "seed": seed, "temperature": t, "pass_k": kk, "pass": v,
                              "pass_valid": v, "pass_exact": v, "final_loss": 0.1} for kk, v in zip(PASS_KS, curve, strict=True)]
                problems += [{"task": task, "k": k, "seed": seed, "problem": i, "top1": max(x, 1 - x),
                              "entropy": 0.5, "correct": int(64 * x), "top1_correct": x > 0.5} for i, x in enumerate(p)]
    return pd.DataFrame(rows), pd.DataFrame(problems)


def test_crossing_curves_are_supported():
    curves, _ = synthetic({1: "sharp", 16: "spread"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "SUPPORTED" and v.estimate.low > 0 and v.details["pass_at_1_delta"].value < 0
    assert 1 < v.details["crossover_k"] <= 64
    assert analysis.monotone_in_k(curves)


def test_identical_models_are_not_supported():
    curves, _ = synthetic({1: "sharp", 16: "sharp"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "NOT SUPPORTED" and v.estimate.value == 0  # no gain at large k


def test_uniformly_better_model_does_not_cross():
    curves, _ = synthetic({1: "sharp", 16: "better"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "NOT SUPPORTED" and v.details["pass_at_1_delta"].low > 0


def test_decide_covers_every_task_and_k_and_the_hotter_baseline():
    curves, _ = synthetic({1: "sharp", 4: "spread", 16: "spread"}, tasks=("modular", "sibling"))
    verdicts = analysis.decide(curves, ["modular", "sibling"], [1, 4, 16])
    assert set(verdicts) == {"crossing", "crossing_modular_k4", "crossing_modular_k16", "crossing_sibling_k4",
                             "crossing_sibling_k16", "beats_hotter_ntp_modular", "beats_hotter_ntp_sibling"}
    assert verdicts["crossing"].claim.startswith("modular") and verdicts["crossing"].label == "SUPPORTED"
    assert verdicts["beats_hotter_ntp_modular"].details["ntp_temperature"] == 2.0


def test_deltas_means_summary_and_calibration():
    curves, problems = synthetic({1: "sharp", 16: "spread"})
    table = analysis.delta_table(curves)
    assert set(table.k) == {16} and len(table) == len(PASS_KS)
    assert (table.low <= table.delta).all() and (table.delta <= table.high).all()
    means = analysis.mean_curves(curves)
    assert len(means) == (2 + 1) * len(PASS_KS)  # two k's at T = 1 and the hotter k = 1
    summary = analysis.summary(curves, problems)
    assert {"pass@1", "pass@64", "entropy", "top1"} <= set(summary.columns)
    cal = analysis.calibration(problems)
    assert len(cal) == 2 * 4 and cal.gap.between(-1, 1).all()
    with pytest.raises(ValueError, match="same ≥ 2 seeds"):
        analysis.delta(curves[curves.seed == 0], "modular", 16, 64)


def test_figures_draw_with_labels():
    from nblib.experiments import kshot_theory as theory

    curves, problems = synthetic({1: "sharp", 4: "spread", 16: "spread"}, seeds=3, tasks=("modular", "sibling"))
    table, found = theory.minimiser_table(6, [1.0, 2.0], [1, 4, 16])
    for fig in (views.plot_pass_curves(analysis.mean_curves(curves)), views.plot_deltas(analysis.delta_table(curves)),
                views.plot_top1(problems), views.plot_minimisers(found, table, 1.0)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert len(drawn) == 2 and all(ax.get_xlabel() and ax.get_ylabel() for ax in drawn)
        plt.close(fig)


def test_theory_form_draws_without_training():
    from nblib.config import build
    from nblib.experiments import kshot as ks

    cfg = build(ks.KshotConfig, dict(interactive=False, theory_classes=5, theory_zipf=[2.0], theory_ks=[1, 8]))
    table = views.explore_theory(cfg)
    assert list(table.k) == [1, 8] and not plt.get_fignums()
