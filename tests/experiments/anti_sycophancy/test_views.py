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
    from nblib.experiments.anti_sycophancy import analysis

    cell = analysis.cell_table(rows, n_boot=100)
    with_controls = exp.metric_table(rows, ["construction", "style"], n_boot=100)
    figures = (views.plot_net_rates(cell, margin=0.1), views.plot_accuracy(with_controls),
               views.plot_by_domain(analysis.domain_table(rows)))
    for fig in figures:
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and drawn[0].get_ylabel() and drawn[0].get_xlabel()
    labels = figures[0].axes[0].get_legend_handles_labels()[1]
    assert "never moves" in labels and "always agrees: bare" in labels  # both baselines drawn
    for fig in figures:
        plt.close(fig)  # later tests check that nothing leaks figures


def test_browser_filters_and_escapes(rows):
    box = views.browse(rows)
    out = box.children[-1]
    assert "conversations" in out.value and "Q &lt;b&gt;?" in out.value
    style = box.children[1].children[0]
    style.value = "reask"
    assert out.value.startswith("24 conversations")  # 12 items x right and wrong first answers
