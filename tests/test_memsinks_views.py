"""nblib.experiments.memsinks_views: figures from a tiny real run and the document explorer."""

import matplotlib
import pytest

from nblib.config import build
from nblib.experiments import memsinks as ms
from nblib.experiments import memsinks_views as views

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def run():
    cfg = build(ms.SinksConfig, dict(interactive=False, seeds=2, steps=30, eval_every=15, n_repeated=6,
                                     n_canaries=4, repeats=4, d_model=32, d_mlp=64, n_sink=16, n_active=4,
                                     ga_steps=[1], prune_counts=[4], val_windows=16, batch_size=8))
    return cfg, ms.run_all(cfg, workers=1)


def test_figures_draw(run):
    _, results = run
    for fig in (views.plot_history(results.history), views.plot_frontier(results.final),
                views.plot_extraction(results.final)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and drawn[0].get_ylabel()  # panels to its right share the y axis


def test_explore_document_shows_sinks_on_and_off(run, capsys):
    cfg, _ = run
    store = ms.store_for(cfg, "sinks", 0)
    model = store.load(store.latest().step)
    views.explore_document(cfg, ms.load_data(cfg), model, "repeated", 0)
    out = capsys.readouterr().out
    assert "prefix:" in out and "its own sinks on" in out
