"""nblib.experiments.loss_functional_form.views: the three figures draw, labelled, on a synthetic
grid, with Student-t intervals over seeds."""

import matplotlib
import matplotlib.pyplot as plt

from nblib.experiments.loss_functional_form import analysis, views

matplotlib.use("Agg")


def test_figures_draw_with_labels(scaling_grid):
    points = scaling_grid(seeds=2)
    train, _ = analysis.masks(points, 64, 128)
    fits = analysis.fit_forms(points, train, ["chinchilla", "kaplan"], starts=10)
    long = analysis.with_residuals(points, fits)
    for fig in (views.plot_loss_curves(points, fits["chinchilla"], 64, 128),
                views.plot_residuals(long, 64, 128), views.plot_predicted_vs_actual(long, 128)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and drawn[0].get_xlabel() and drawn[0].get_ylabel()
        plt.close(fig)
    assert set(long.form) == {"chinchilla", "kaplan"} and len(long) == 2 * len(points)


def test_refit_uses_the_chosen_split_without_retraining(scaling_grid, capsys):
    from nblib.config import build
    from nblib.experiments.loss_functional_form import LossFormConfig

    cfg = build(LossFormConfig, dict(interactive=False, fit_max_tpp=32, test_min_tpp=128,
                                        forms=["chinchilla", "kaplan"], fit_starts=10, n_boot=10))
    table = views.refit(cfg, scaling_grid(seeds=2))
    assert set(table) == {"chinchilla", "kaplan"} and table["chinchilla"]["bias"].n == 8
    assert not plt.get_fignums()


def test_error_bars_are_student_t_intervals_over_seeds(scaling_grid):
    import numpy as np
    import pytest
    from scipy import stats as sps

    points = scaling_grid(seeds=3, noise=0.05)
    train, _ = analysis.masks(points, 64, 128)
    fits = analysis.fit_forms(points, train, ["chinchilla"], starts=10)
    fig = views.plot_loss_curves(points, fits["chinchilla"], 64, 128)
    bars = fig.axes[0].containers[0]  # the smallest size's error bars
    at = points[(points.N == points.N.min()) & (points.tpp == 8)].loss
    half = sps.t.ppf(0.975, len(at) - 1) * at.std(ddof=1) / np.sqrt(len(at))
    segment = bars.lines[2][0].get_segments()[0]  # (D, low), (D, high) of the first budget
    assert segment[1][1] - segment[0][1] == pytest.approx(2 * half)
    plt.close(fig)
