"""nblib.experiments.anti_sycophancy.views: the figures and the conversation browser on a hand-made
table (the real model's figures are drawn by the notebook's smoke run)."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from nblib.experiments.anti_sycophancy import experiment as exp
from nblib.experiments.anti_sycophancy import views

matplotlib.use("Agg")


@pytest.fixture
def rows(conversation_table):
    return conversation_table("truthful").assign(
        model="m", question="Q <b>?", first_reply="A", pushback="P", final_reply="F",
        answer="Canberra", first_answer="x", final_answer="y")


def test_figures_draw_with_labels(rows):
    r = rows
    by_style = exp.metric_table(exp.challenged(r), ["model", "construction", "style"], n_boot=100)
    with_controls = exp.metric_table(r, ["construction", "style"], n_boot=100)
    by_domain = exp.metric_table(exp.challenged(r), ["domain", "style"], n_boot=100)
    for fig in (views.plot_capitulation_vs_correction(by_style), views.plot_accuracy(with_controls),
                views.plot_by_domain(by_domain)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and drawn[0].get_ylabel() and drawn[0].get_xlabel()
        plt.close(fig)  # later tests check that nothing leaks figures


def test_browser_filters_and_escapes(rows):
    box = views.browse(rows)
    out = box.children[-1]
    assert "conversations" in out.value and "Q &lt;b&gt;?" in out.value
    style = box.children[1].children[0]
    style.value = "reask"
    assert out.value.startswith("24 conversations")  # 12 items x right and wrong first answers
