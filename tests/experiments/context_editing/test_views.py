import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.eval.edit_tool import EditError, parse_edit
from nblib.experiments.context_editing import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_rot(res, cfg), views.plot_editing(res, cfg),
                views.plot_training(res, cfg)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_the_editor_call_and_a_hand_written_edit(tiny):
    cfg, res = tiny
    info = views.edit_ledger(cfg, res, 0, 3, 0.5, 7, "supervised", "<edit>delete 1-2</edit>")
    n = len(info["lines"].splitlines())
    assert n == 5 and info["lines"].count("relevant") == 2
    keep = parse_edit(info["editor's call"], n)
    assert sum(keep) == cfg.budgets[0]
    assert {"right from full", "right from editor", "right from hand"} <= set(info)
    assert views.explorer(res, cfg) is not None


@pytest.mark.parametrize("args,error,match", [
    ((5, 3, 0.5, 0, "rl", ""), ConfigError, r"seed=5: this run trained seeds \[0, 1\]"),
    ((0, 3, 0.5, 0, "large", ""), ConfigError, "editor='large'"),
    ((0, 9, 0.5, 0, "rl", ""), ConfigError, "distractors=9: the task has 0..4"),
    ((0, 3, 0.5, 0, "rl", "<edit>delete 4-9</edit>"), EditError, "outside the context"),
])
def test_widget_refuses_bad_input_before_compute(tiny, args, error, match):
    cfg, res = tiny
    with pytest.raises(error, match=match):
        views.edit_ledger(cfg, res, *args)


def test_haystack_widget_deletes_what_the_call_names(cfg):
    full = views.needle_prompt(cfg, 0, 32, 2, False)
    n = len(full["sentences (✂ deleted)"].splitlines())
    assert n > 3 and full["code"] and full["asked"]
    lexical = views.needle_prompt(cfg, 0, 32, 2, False, full["lexical edit (surname)"])
    shown = lexical["sentences (✂ deleted)"].splitlines()
    assert sum("✂" not in line for line in shown) == 3  # the needle and its two distractors
    oracle = views.needle_prompt(cfg, 0, 32, 2, False, full["oracle edit"])
    assert sum("✂" in line for line in oracle["sentences (✂ deleted)"].splitlines()) == 2
    assert oracle["log p(code)"] <= 0 and isinstance(oracle["right"], bool)
    assert views.haystack_explorer(cfg) is not None


@pytest.mark.parametrize("args,error,match", [
    ((5, 32, 2, False, ""), ConfigError, r"item=5: this run has items 0..1"),
    ((0, 32, 3, False, ""), ConfigError, "distractors=3: the items have 2"),
    ((0, 32, 2, False, "<edit>delete 3-1</edit>"), EditError, "written backwards"),
    ((0, 32, 2, False, "<edit>delete 1-99</edit>"), EditError, "outside the context"),
])
def test_haystack_widget_refuses_bad_input(cfg, args, error, match):
    with pytest.raises(error, match=match):
        views.needle_prompt(cfg, *args)
