"""nblib.experiments.roll_the_dice_views: every figure draws from a metric table shaped like run_all's."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nblib.experiments import roll_the_dice_views as views  # noqa: E402


@pytest.fixture(scope="module")
def metrics():
    rows = []
    for task in ("sibling", "circle"):
        for seed in range(2):
            for objective in ("ntp", "teacherless"):
                for step in (10, 20):
                    base = dict(task=task, objective=objective, seed=seed, step=step)
                    decodings = [("temperature", 0, 1.0), ("seed", 6, 0.0), ("both", 6, 1.0)]
                    if step == 20:
                        decodings += [("temperature", 0, 0.0), ("temperature", 0, 2.0), ("seed", 2, 0.0),
                                      ("both", 6, 2.0)]
                    for i, (method, h, t) in enumerate(decodings):
                        rows.append({**base, "method": method, "hash_len": h, "temperature": t,
                                     "coherence": 0.9 - 0.1 * i, "creativity": 0.1 * i + 0.01 * seed,
                                     "diversity": 0.1 * i + 0.02})
                    rows.append({**base, "method": "memorization", "hash_len": -1, "temperature": 0.0,
                                 "memorization": step / 40 + 0.1 * seed})
    return pd.DataFrame(rows)


def test_every_figure_draws(metrics):
    for fig in (views.plot_over_training(metrics, "creativity", 6, 1.0), views.plot_memorization(metrics),
                views.plot_frontier(metrics, 6)):
        assert len(fig.axes) >= 2 and all(ax.has_data() for ax in fig.axes)
        plt.close(fig)
    fig = views.plot_over_training(metrics, "creativity", 6, 1.0)
    labels = fig.axes[-1].get_legend_handles_labels()[1]
    assert set(labels) == {f"{o} · {m}" for o in ("ntp", "teacherless") for m in ("temperature", "seed", "both")}
    plt.close(fig)


def test_reanalyse_returns_the_three_verdicts(metrics, capsys):
    from nblib.config import build
    from nblib.experiments.roll_the_dice import RollTheDiceConfig

    cfg = build(RollTheDiceConfig, dict(interactive=False, hash_lengths=[0, 2, 6], mid_fraction=0.5))
    verdicts = views.reanalyse(cfg, metrics)
    assert set(verdicts) == {"teacherless_beats_ntp", "seed_matches_temperature",
                             "ntp_creativity_falls_with_memorization"}
    assert "[teacherless_beats_ntp]" in capsys.readouterr().out
