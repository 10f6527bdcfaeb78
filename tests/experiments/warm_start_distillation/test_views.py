"""nblib.experiments.warm_start_distillation.views: every figure draws from constructed results,
with labels, and its intervals are the Student-t intervals over seeds."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nblib.experiments.warm_start_distillation import views  # noqa: E402


def test_loss_and_delta_figures_draw(kd_results):
    final = kd_results(gain_at=-0.2, slope=0.05, noise=0.01)
    fig = views.plot_loss_vs_compute(final, teacher_loss=4.0)
    assert fig.axes[0].get_ylabel() and all(ax.get_xlabel() for ax in fig.axes)
    assert len(fig.axes[1].get_legend().get_texts()) == 3  # scratch, kd, teacher
    plt.close(fig)
    fig = views.plot_delta_vs_compute(final, reach_teacher=8e9)
    assert [ax.get_title() for ax in fig.axes] == ["matched on student FLOPs",
                                                   "matched on total FLOPs"]
    assert fig.axes[0].get_ylabel().startswith("Δ loss")
    plt.close(fig)


def test_curves_mark_the_end_of_each_kd_phase():
    curves = pd.DataFrame([{"condition": c, "seed": s, "tokens": t, "loss": 5 - t / 1e6}
                           for c in ("scratch", "linear:0.3") for s in range(2)
                           for t in (1e5, 5e5, 1e6)])
    fig = views.plot_curves(curves, {"linear:0.3": 3e5}, teacher_loss=4.5)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training tokens" and ax.get_ylabel()
    # a vertical line where the KD phase ends
    assert any(len(line.get_xdata()) and line.get_xdata()[0] == 3e5 for line in ax.get_lines())
    plt.close(fig)


def test_bands_are_student_t_intervals_over_seeds(kd_results):
    import numpy as np
    from scipy import stats as sps

    final = kd_results(gain_at=-0.2, slope=0.05, noise=0.01)
    fig = views.plot_loss_vs_compute(final, teacher_loss=4.0)
    bars = fig.axes[0].containers[0]  # the first condition's error bars, student FLOPs axis
    first = final[final.condition == bars.get_label()].sort_values("tpp")
    at = first[first.tpp == first.tpp.min()].loss
    half = sps.t.ppf(0.975, len(at) - 1) * at.std(ddof=1) / np.sqrt(len(at))
    segment = bars.lines[2][0].get_segments()[0]  # (x, low), (x, high) of the first budget
    assert segment[1][1] - segment[0][1] == pytest.approx(2 * half)
    plt.close(fig)
    curves = pd.DataFrame([{"condition": "scratch", "seed": s, "tokens": t, "loss": 5 - s * 0.1}
                           for s in range(3) for t in (1e5, 1e6)])
    fig = views.plot_curves(curves, {}, teacher_loss=4.5)
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    half = sps.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert band.max() - band.min() == pytest.approx(2 * half)
    plt.close(fig)
