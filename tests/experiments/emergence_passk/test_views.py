import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.emergence_passk import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_curves(res, cfg), views.plot_forecasts(res, cfg),
                views.plot_emergence_law(res, cfg), views.plot_per_problem(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_a_checkpoint(tiny, open_run):
    cfg, res = tiny
    info = views.describe_checkpoint(res, cfg, cfg.first_seed, res.steps[-1])
    assert 0 <= info["greedy"] <= 1 and 0 <= info["exact_pass1"] <= info["exact_pass32"] <= 1
    assert (open_run / "figures" / "explore.png").is_file()
    assert views.explorer(res, cfg) is not None


@pytest.mark.parametrize("seed,step,match", [
    (7, 0, r"parameter seed=7: out of range, allowed \[0, 1\]"),
    (0, 3, "parameter step=3: not a checkpoint"),
])
def test_widget_refuses_out_of_range_choices(tiny, seed, step, match):
    cfg, res = tiny
    with pytest.raises(ConfigError, match=match):
        views.describe_checkpoint(res, cfg, seed, step)
