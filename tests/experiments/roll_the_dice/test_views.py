"""nblib.experiments.roll_the_dice.views: every figure draws from a metric table shaped like
run_all's, its bands are Student-t intervals clipped to [0, 1], and the form re-analyses."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nblib.config import build  # noqa: E402
from nblib.experiments.roll_the_dice import RollTheDiceConfig, views  # noqa: E402


def test_every_figure_draws(metrics):
    for fig in (views.plot_over_training(metrics, "creativity", 6, 1.0),
                views.plot_memorization(metrics), views.plot_frontier(metrics, 6)):
        assert len(fig.axes) >= 2 and all(ax.has_data() for ax in fig.axes)
        plt.close(fig)
    fig = views.plot_over_training(metrics, "creativity", 6, 1.0)
    labels = fig.axes[-1].get_legend_handles_labels()[1]
    assert set(labels) == {f"{o} · {m}" for o in ("ntp", "teacherless")
                           for m in ("temperature", "seed", "both")}
    plt.close(fig)


def test_bands_are_t_intervals_clipped_to_the_unit_interval(metrics):
    from scipy import stats

    fig = views.plot_memorization(metrics)  # panels: circle, sibling; lines: ntp, teacherless
    band = next(c for c in fig.axes[0].collections if c.get_paths())  # circle · ntp
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert ys.min() >= 0 and ys.max() <= 1
    mem = metrics[(metrics.method == "memorization") & (metrics.task == "circle")
                  & (metrics.objective == "ntp")]
    for _, g in mem.groupby("step"):  # two seeds: t with 1 degree of freedom, not 1.96
        half = stats.t.ppf(0.975, 1) * g.memorization.std(ddof=1) / np.sqrt(2)
        for end in (g.memorization.mean() - half, g.memorization.mean() + half):
            assert np.isclose(ys, np.clip(end, 0, 1)).any()
    plt.close(fig)


def test_reanalyse_returns_the_three_verdicts(metrics, capsys):
    cfg = build(RollTheDiceConfig, dict(interactive=False, hash_lengths=[0, 2, 6],
                                        mid_fraction=0.5))
    verdicts = views.reanalyse(cfg, metrics)
    assert set(verdicts) == {"teacherless_beats_ntp", "seed_matches_temperature",
                             "ntp_creativity_falls_with_memorization"}
    assert "[teacherless_beats_ntp]" in capsys.readouterr().out
