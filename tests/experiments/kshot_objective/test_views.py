"""nblib.experiments.kshot_objective.views: every figure draws with labels from tables shaped like
the notebook's, bands stay within [0, 1], and the theory form draws without training."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nblib.config import build  # noqa: E402
from nblib.experiments import kshot_objective as ko  # noqa: E402
from nblib.experiments.kshot_objective import analysis, views  # noqa: E402


def test_figures_draw_with_labels(synthetic):
    curves, problems = synthetic({1: "sharp", 4: "spread", 16: "spread"}, seeds=3,
                                 tasks=("modular", "sibling"))
    table, found = analysis.minimiser_table(6, [1.0, 2.0], [1, 4, 16])
    for fig in (views.plot_pass_curves(curves), views.plot_deltas(analysis.delta_table(curves)),
                views.plot_top1(problems), views.plot_minimisers(found, table, 1.0)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert len(drawn) == 2 and all(ax.get_xlabel() and ax.get_ylabel() for ax in drawn)
        plt.close(fig)


def test_pass_at_k_bands_never_leave_the_unit_interval(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "better"}, seeds=3)
    curves = curves.assign(**{"pass": np.where(curves.seed == 0, 0.6, 1.0)})  # wide, near 1
    fig = views.plot_pass_curves(curves)
    bands = [c for c in fig.axes[0].collections if c.get_paths()]
    assert bands
    for band in bands:
        y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert y.min() >= 0 and y.max() <= 1
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[:2] == ["k = 1 (CE)", "k = 16"] and "CE at T = 2" in labels
    plt.close(fig)


def test_pareto_figure_draws_every_baseline_family_the_frontier_and_chance(trajectory):
    from .conftest import kind_p

    traj = trajectory({"k=1": (1, 0.0, kind_p("sharp")), "LS 0.1": (1, 0.1, kind_p("spread")),
                       "k=16": (16, 0.0, kind_p("spread"))}, seeds=3)
    fig = views.plot_pareto(traj, "modular", 16)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert {"CE, sampling temperature T", "CE mixed with a uniform guess (ε)",
            "CE, earlier checkpoints (T = 1)", "label-smoothed CE (T = 1)",
            "uniform guess (chance, ε = 1)", "k-shot loss, k = 16"} <= set(labels)
    assert ax.get_xlabel() == "pass@1 (exact)" and ax.get_ylabel() == "pass@16 (exact)"
    plt.close(fig)


def test_pass_curves_draw_chance(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "spread"}, seeds=2)
    fig = views.plot_pass_curves(curves)
    line = next(x for x in fig.axes[0].lines if x.get_label() == "uniform guess (chance)")
    assert np.allclose(line.get_ydata(), 1 - 0.9 ** np.asarray(line.get_xdata(), float))
    plt.close(fig)


def test_theory_form_draws_without_training():
    cfg = build(ko.KshotConfig, dict(interactive=False, theory_classes=5, theory_zipf=[2.0],
                                     theory_ks=[1, 8]))
    plt.close("all")  # figures other tests left open
    table = views.explore_theory(cfg)
    assert list(table.k) == [1, 8] and not plt.get_fignums()
