import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nblib.config import build  # noqa: E402
from nblib.experiments import mlp_in_context as icl  # noqa: E402
from nblib.experiments.mlp_in_context import views  # noqa: E402

SMALL = dict(seeds=1, pool_sizes=[4, None], context_lens=[4], context_len=4, mlp_width=8,
             mlp_depth=1, train_flops=1e6, min_steps=1, transformer_d_model=8,
             small_mlp_steps=30, n_eval=64, n_evals=2)


def test_describe_task_shows_a_sequence_and_baselines():
    out = views.describe_task(build(icl.ICLConfig, SMALL), pool_size=4, n=2000)
    assert out["sequence"].shape == (4, 4) and out["sequence"].loc["query", "y"] == 0
    base = out["baselines"]
    assert base["dMMSE (k=4)"] < base["ridge"] < base["context-free (0)"]  # optimal on its pool


def test_explore_shows_and_saves_and_heatmap_runs(open_run):
    cfg = build(icl.ICLConfig, SMALL)
    out = views.explore(cfg, icl.Condition("small_mlp", 4, 4, 0, 1e-3))
    assert (open_run / "figures" / "explore.png").is_file()
    assert {"row", "history", "model"} <= set(out)
    fig = views.plot_first_layer(out["model"], cfg.dim, 4)
    assert len(fig.axes[0].get_xticklabels()) == 4 * (cfg.dim + 1)


def test_figures_draw_t_intervals_clipped_to_range(tiny):
    cfg, res = tiny
    fig = views.plot_mse_vs_k(res.table, cfg)
    left = fig.axes[0]
    assert [t.get_text() for t in left.get_xticklabels()] == ["1", "8", "∞"]
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "MLP", "dMMSE", "ridge", "context-free (0)"]
    for ax in fig.axes[:2]:  # every error bar's low end is at or above 0
        for coll in ax.collections:
            for seg in coll.get_segments():
                assert np.min(seg[:, 1]) >= 0
    fig2 = views.plot_excess_vs_context_length(res.table, cfg)
    assert [ax.get_title() for ax in fig2.axes[:2]] == ["excess over ridge, same FLOPs",
                                                        "paired difference, TOST"]
    span = fig2.axes[1].patches[0]  # the ±margin equivalence band
    ys = span.get_path().transformed(span.get_patch_transform()).vertices[:, 1] \
        if hasattr(span, "get_patch_transform") else span.get_xy()[:, 1]
    assert min(ys) == pytest.approx(-cfg.margin) and max(ys) == pytest.approx(cfg.margin)
    for coll in fig2.axes[0].collections:  # excess intervals never below −1
        for seg in coll.get_segments():
            assert np.min(seg[:, 1]) >= -1
    fig3 = views.plot_mse_vs_compute(res.table, res.history)
    assert [ax.get_title() for ax in fig3.axes] == ["L = 4", "L = 6"]
    fig4 = views.plot_lr_sweep(res.tuning)
    assert [ax.get_title() for ax in fig4.axes] == ["mlp", "transformer"]
