import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.more_is_different import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_shares(res, cfg), views.plot_accuracy(res, cfg),
                views.plot_accuracy_by_b(res, cfg), views.plot_share_by_b(res, cfg),
                views.plot_headline(res, cfg),
                views.plot_follows_execution(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_a_graded_trace(tiny):
    cfg, res = tiny
    info = views.show_trace(res, cfg, cfg.widths[-1], 0, res.steps[-1], 3, 4)
    assert info["trace"].startswith("03 ^ 4 mod 31 = ")  # b has one digit here (b <= 6)
    assert info["algorithm"] in ("linear", "binary", "other") and info["answer"] == 81 % 31
    forced = views.show_trace(res, cfg, cfg.widths[0], 1, 0, 3, 5, "linear")
    assert forced["trace"].split("= ", 1)[1].startswith("L")
    assert views.explorer(res, cfg) is not None


@pytest.mark.parametrize("pick,match", [
    (dict(width=24), r"width=24: not a width of this run, allowed \[8, 16\]"),
    (dict(seed=7), r"seed=7: out of range, allowed \[0, 1\]"),
    (dict(step=3), "step=3: not a checkpoint"),
    (dict(a=31), r"a=31: must be an integer in \[1, 30\]"),
    (dict(a=0), "a=0"),
    (dict(b=7), r"b=7: must be an integer in \[0, 6\]"),
    (dict(algorithm="ternary"), "unknown algorithm"),
])
def test_widget_refuses_out_of_range_choices(tiny, pick, match):
    cfg, res = tiny
    args = {"width": 8, "seed": 0, "step": 0, "a": 3, "b": 2, "algorithm": "auto", **pick}
    with pytest.raises(ConfigError, match=match):
        views.show_trace(res, cfg, **args)
