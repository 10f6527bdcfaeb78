import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.dag_permutations import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_curves(res, cfg), views.plot_downstream(res, cfg),
                views.plot_dags(res, cfg), views.plot_meter(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_a_documents_dag(cfg, dags, capsys):
    info = views.describe_document(cfg, "bios", 1, 1.1)
    assert info["sentences"] == 6 and info["topological sorts"] >= 1
    assert "respects the true DAG" in capsys.readouterr().out
    assert views.explorer(cfg) is not None


@pytest.mark.parametrize("corpus,index,threshold,match", [
    ("bios", 8, 1.5, r"parameter index=8: out of range, allowed \[0, 7\]"),
    ("wiki", 0, 1.5, "parameter corpus='wiki'"),
    ("sotu", 0, 0.5, "parameter threshold=0.5: out of range"),
    ("sotu", 0, -1.0, "parameter threshold=-1.0"),
])
def test_widget_refuses_out_of_range_choices(cfg, dags, corpus, index, threshold, match):
    with pytest.raises(ConfigError, match=match):
        views.describe_document(cfg, corpus, index, threshold)
