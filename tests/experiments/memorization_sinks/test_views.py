"""nblib.experiments.memorization_sinks.views: figures from a tiny real run (Student-t bands and
error bars over seeds) and the document explorer."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from nblib import stats
from nblib.experiments import memorization_sinks as ms
from nblib.experiments.memorization_sinks import analysis as ma
from nblib.experiments.memorization_sinks import views

matplotlib.use("Agg")


def test_figures_draw(cfg, tiny_run):
    for fig in (views.plot_history(tiny_run.history), views.plot_frontier(tiny_run.final),
                views.plot_extraction(tiny_run.final, cfg.extract_tokens),
                views.plot_sweep(tiny_run.final, (cfg.n_sink, cfg.n_active), cfg.threshold)):
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


def test_sweep_error_bars_are_the_t_intervals_of_the_sweep_table():
    rows = []
    for s, (closed, val) in enumerate(((0.2, 3.0), (0.5, 3.1), (0.6, 3.05))):
        rows.append({"method": "standard", "strength": 0, "seed": s, "n_sink": 0, "n_active": 0,
                     "gap": 1.0, "canary_gap": 2.0, "val_loss": 3.0, "matched_canary": 4.0,
                     "matched_heldout_canary": 0.0})
        for a in (1, 4):
            rows.append({"method": "sinks", "strength": 0, "seed": s, "n_sink": 16,
                         "n_active": a, "gap": 1 - closed * a / 4, "canary_gap": 1.0,
                         "val_loss": val, "matched_canary": 1.0, "matched_heldout_canary": 0.0})
    final = pd.DataFrame(rows)
    fig = views.plot_sweep(final, (16, 4), 0.5)
    bars = fig.axes[0].collections[0].get_segments()  # the natural-gap endpoint's error bars
    table = ma.sweep_table(final).query("endpoint == 'gap_closed'").sort_values("ratio")
    assert np.allclose([seg[:, 1].min() for seg in bars], table["low"])
    assert np.allclose([seg[:, 1].max() for seg in bars], table["high"])
    assert fig.axes[0].get_xscale() == "log"


def test_extraction_error_bars_are_clipped_to_the_token_range():
    final = pd.DataFrame([{"method": m, "strength": 0, "seed": s, "n_sink": 16 * (m == "sinks"),
                           "n_active": 4 * (m == "sinks"), "matched_natural": v,
                           "matched_canary": v, "matched_heldout": v,
                           "matched_heldout_canary": v}
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
