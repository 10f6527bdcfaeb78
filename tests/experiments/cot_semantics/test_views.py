import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.cot_semantics import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_conditions(res, cfg), views.plot_conditions(res, cfg, res.steps[0]),
                views.plot_equivalence(res, cfg),
                views.plot_early(res, cfg), views.plot_corruption(res, cfg),
                views.plot_loss(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_answers_a_hand_written_trace(tiny):
    cfg, res = tiny
    info = views.answer_given(cfg, 0, "base", 30, "1234", "running", "1 3 6 0")
    assert info["true sum mod 10"] == 0 and info["the trace implies"] == 0
    assert 0 <= info["answer"] <= 9
    assert sum(info[f"P({d})"] for d in range(10)) == pytest.approx(1, abs=0.01)
    filler = views.answer_given(cfg, 1, "filler", 15, "1234", "filler", "")
    assert filler["the trace implies"] == "-"
    assert views.explorer(res, cfg) is not None


@pytest.mark.parametrize("args,match", [
    ((7, "base", 30, "1234", "running", "1 3 6 0"), r"seed=7: this run trained seeds \[0, 1\]"),
    ((0, "base", 20, "1234", "running", "1 3 6 0"), r"step=20: not a checkpoint of this run"),
    ((0, "base", 30, "1234", "filler", ""), "the base family was trained on"),
    ((0, "base", 30, "123", "running", "1 3 6"), "digits='123': must be 4 digits"),
    ((0, "base", 30, "12a4", "running", "1 3 6 0"), "must be 4 digits"),
    ((0, "base", 30, "1234", "pairs", "3 7"), "a pairs trace is 3 digits"),
    ((0, "base", 30, "1234", "direct", "1"), "takes no trace"),
    ((0, "large", 30, "1234", "direct", ""), "family='large'"),
])
def test_widget_refuses_bad_input_before_compute(tiny, args, match):
    cfg, _ = tiny
    with pytest.raises(ConfigError, match=match):
        views.answer_given(cfg, *args)
