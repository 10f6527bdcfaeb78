"""nblib.experiments.memorization_sinks.views: figures from a tiny real run (Student-t bands and
error bars over seeds) and the document explorer."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from nblib import stats
from nblib.experiments import memorization_sinks as ms
from nblib.experiments.memorization_sinks import views

matplotlib.use("Agg")


def test_figures_draw(cfg, tiny_run):
    for fig in (views.plot_history(tiny_run.history), views.plot_frontier(tiny_run.final),
                views.plot_extraction(tiny_run.final, cfg.extract_tokens)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and drawn[0].get_ylabel()  # panels to its right share the y axis


def test_history_bands_are_the_t_interval_over_seeds(tiny_run):
    fig = views.plot_history(tiny_run.history)
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]  # first condition's band
    first = tiny_run.history.condition.iloc[0]
    rows = tiny_run.history[tiny_run.history.condition == first]
    table = stats.mean_ci_table(rows, ["step"], "gap", unit="seed")
    assert np.isclose(band.min(), table["low"].min())
    assert np.isclose(band.max(), table["high"].max())


def test_extraction_error_bars_are_clipped_to_the_token_range():
    final = pd.DataFrame([{"method": m, "strength": 0, "seed": s, "matched_natural": v,
                           "matched_canary": v, "matched_heldout": v}
                          for m in ("standard", "sinks") for s, v in enumerate((0.0, 0.0, 2.0))])
    fig = views.plot_extraction(final, max_tokens=16)
    ends = np.concatenate([seg[:, 1] for c in fig.axes[0].collections for seg in c.get_segments()])
    assert stats.mean_ci([0.0, 0.0, 2.0]).low < 0  # the unclipped interval leaves the range
    assert ends.min() == pytest.approx(0.0)  # clipped at zero tokens


def test_explore_document_shows_sinks_on_and_off(cfg, data, tiny_run, capsys):
    store = ms.store_for(cfg, "sinks", 0)
    model = store.load(store.latest().step)
    views.explore_document(cfg, data, model, "repeated", 0)
    out = capsys.readouterr().out
    assert "prefix:" in out and "its own sinks on" in out
