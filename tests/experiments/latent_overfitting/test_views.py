import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.latent_overfitting import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_curves(res, cfg), views.plot_diversity(res, cfg),
                views.plot_meter(res, cfg), views.plot_decomposition(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_a_persons_rephrasings(cfg, capsys):
    info = views.describe_person(cfg, 2, 30)
    assert info["repeated documents"] == 0.0 and info["renderings metered"] == 30
    assert "rephrasing 1:" in capsys.readouterr().out
    assert views.explorer(cfg) is not None


@pytest.mark.parametrize("person,renderings,match", [
    (8, 10, r"parameter person=8: out of range, allowed \[0, 7\]"),
    (0, 0, r"parameter renderings=0: out of range"),
])
def test_widget_refuses_out_of_range_choices(cfg, person, renderings, match):
    with pytest.raises(ConfigError, match=match):
        views.describe_person(cfg, person, renderings)
