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


def test_frontier_labels_of_piled_up_points_are_merged(metrics):
    labels = views.merge_labels(np.array([0.0, 0.01, 0.02, 0.5]), np.array([0.0, 0.0, 0.01, 0.5]),
                                np.array([0.5, 1.0, 1.5, 2.0]), "T=")
    assert [text for _, _, text in labels] == ["T=0.5/1/1.5", "T=2"]
    assert labels[0][:2] == (0.01, np.mean([0.0, 0.0, 0.01]))
    piled = metrics.copy()
    scored = piled.method != "memorization"
    piled.loc[scored, ["coherence", "creativity"]] = 0.0  # every point at the origin
    fig = views.plot_frontier(piled, 6)
    for ax in fig.axes:  # one label per family, not one per point
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 3 and len(set(texts)) == 3, texts
    plt.close(fig)


def test_endpoint_figure_draws_every_task_and_endpoint(metrics):
    from nblib.experiments.roll_the_dice import analysis

    cfg = build(RollTheDiceConfig, dict(interactive=False, tasks=["sibling", "circle"],
                                        graph_train=300, hash_lengths=[0, 2, 6]))
    gaps = analysis.gap_table(metrics, cfg)
    fig = views.plot_endpoints(gaps)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        e.replace("_", " ") for e in analysis.ENDPOINTS]
    assert all(ax.yaxis_inverted() for ax in fig.axes)  # the headline (peak) on top
    assert [ax.get_title() for ax in fig.axes] == ["sibling", "circle"]  # headline task first
    plt.close(fig)


def test_reanalyse_returns_the_verdicts_of_every_task(metrics, capsys):
    cfg = build(RollTheDiceConfig, dict(interactive=False, tasks=["sibling", "circle"],
                                        graph_train=300, hash_lengths=[0, 2, 6], mid_fraction=0.5))
    verdicts = views.reanalyse(cfg, metrics)
    assert set(verdicts) == {f"{kind}_{task}" for task in ("sibling", "circle")
                             for kind in ("teacherless_beats_ntp", "seed_matches_temperature",
                                          "ntp_creativity_falls")}
    assert "[teacherless_beats_ntp_sibling]" in capsys.readouterr().out
