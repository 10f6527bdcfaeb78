"""nblib.experiments.loss_form_views: the three figures draw, labelled, on a synthetic grid."""

import matplotlib
import matplotlib.pyplot as plt

from nblib.experiments import loss_form_analysis as analysis
from nblib.experiments import loss_form_views as views

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
    from nblib.experiments import loss_form as lf

    cfg = build(lf.LossFormConfig, dict(interactive=False, fit_max_tpp=32, test_min_tpp=128,
                                        forms=["chinchilla", "kaplan"], fit_starts=10, n_boot=10))
    table = views.refit(cfg, scaling_grid(seeds=2))
    assert set(table) == {"chinchilla", "kaplan"} and table["chinchilla"]["bias"].n == 8
    assert not plt.get_fignums()
