"""nblib.plots: the theme, `save`/`show` into the current run's figures folder, t-interval bands."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as sps  # noqa: E402

import nblib  # noqa: E402
from nblib import plots  # noqa: E402

pytestmark = pytest.mark.usefixtures("nbenv")


@pytest.fixture
def fig():
    figure, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 0, 2])
    yield figure
    plt.close(figure)


def test_set_theme():
    with matplotlib.rc_context():
        plots.set_theme()
        rc = matplotlib.rcParams
        assert rc["axes.titleweight"] == "bold" and rc["legend.frameon"] is False
        assert rc["savefig.bbox"] == "tight" and rc["savefig.dpi"] == 130
        assert rc["axes.grid"] is True  # whitegrid


def test_save_writes_png_into_the_run(nbenv, fig):
    run_dir = nblib.start_run("01_fixture")
    path = plots.save(fig, "loss_curve")
    assert path == run_dir / "figures" / "loss_curve.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 500
    # nothing is written into the committed figures/ of the repository
    assert not (nbenv.root / "figures" / "01_fixture" / "loss_curve.png").exists()


def test_the_run_records_figures_in_the_order_made_with_captions(nbenv, fig):
    run_dir = nblib.start_run("01_fixture")
    fig.axes[0].set_title("loss along training")
    plots.save(fig, "b_first")
    plots.save(fig, "a_second", caption="said by the notebook")
    plots.save(fig, "b_first")  # made again: it moves to the end, once
    made = nblib.read_run(run_dir)["values"]["figures"]
    assert made == [{"name": "a_second", "caption": "said by the notebook"},
                    {"name": "b_first", "caption": "loss along training"}]


def test_save_needs_an_open_run(fig):
    with pytest.raises(RuntimeError, match="start_run"):
        plots.save(fig, "x")


def test_show_saves_then_shows(nbenv, fig, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    run_dir = nblib.start_run("01_fixture")
    path = plots.show(fig, "curve")
    assert path == run_dir / "figures" / "curve.png" and path.is_file() and shown == [True]


def _runs():
    """Accuracy per (k, method, seed), two rows per seed (averaged first), near 1 for 'best'."""
    import pandas as pd

    rows = []
    for k in (1, 2, 4):
        for method, base in (("best", 0.97), ("plain", 0.5)):
            for seed, noise in enumerate((-0.03, 0.0, 0.04)):
                for rep in (-0.01, 0.01):
                    rows.append({"k": k, "method": method, "seed": seed,
                                 "acc": base + noise * k / 2 + rep})
    return pd.DataFrame(rows)


def _band(collection, x):
    verts = collection.get_paths()[0].vertices
    ys = verts[np.isclose(verts[:, 0], x)][:, 1]
    return ys.min(), ys.max()


def test_mean_band_draws_the_student_t_interval_over_seeds():
    df = _runs()
    figure, ax = plt.subplots()
    table = plots.mean_band(ax, df, "k", "acc", hue="method")
    assert list(table.columns) == ["method", "k", "mean", "low", "high", "n"] and len(table) == 6
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert [t.get_text() for t in ax.legend().get_texts()] == ["best", "plain"]
    for line, band, method in zip(ax.lines, ax.collections, ("best", "plain"), strict=True):
        for x, y, (lo, hi) in zip(line.get_xdata(), line.get_ydata(),
                                  [_band(band, x) for x in (1, 2, 4)], strict=True):
            per_seed = df[(df.method == method) & (df.k == x)].groupby("seed").acc.mean()
            half = sps.t.ppf(0.975, 2) * per_seed.std(ddof=1) / np.sqrt(3)  # not 1.96 * SEM
            assert y == pytest.approx(per_seed.mean())
            assert (lo, hi) == pytest.approx((per_seed.mean() - half, per_seed.mean() + half))
    assert ax.get_xlabel() == "k" and ax.get_ylabel() == "acc"
    plt.close(figure)


def test_mean_band_clips_to_the_metric_range_and_takes_a_palette():
    df = _runs()
    figure, ax = plt.subplots()
    unclipped = plots.mean_band(ax, df, "k", "acc", hue="method")
    assert unclipped.high.max() > 1  # the t-interval of 'best' at k=4 passes 1
    ax.cla()
    colors = {"plain": (1.0, 0.0, 0.0), "best": (0.0, 0.0, 1.0)}
    table = plots.mean_band(ax, df, "k", "acc", hue="method", clip=(0, 1), palette=colors)
    assert table.high.max() == 1.0 and table.low.min() >= 0
    assert (table["mean"] == unclipped["mean"]).all()  # the means are not clipped
    assert _band(ax.collections[0], 4)[1] == pytest.approx(1.0)
    assert ax.lines[0].get_color() == colors["best"] and ax.lines[1].get_color() == colors["plain"]
    plt.close(figure)


def test_mean_band_one_seed_draws_the_line_without_a_band():
    df = _runs()
    df = df[df.seed == 0]
    figure, ax = plt.subplots()
    table = plots.mean_band(ax, df, "k", "acc")  # no hue: one line over both methods' rows
    assert (table.n == 1).all() and (table.low == table["mean"]).all()
    assert (table.high == table["mean"]).all() and len(ax.lines) == 1
    plt.close(figure)
