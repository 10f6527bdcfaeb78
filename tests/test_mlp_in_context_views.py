import matplotlib

matplotlib.use("Agg")

from nblib.config import build  # noqa: E402
from nblib.experiments import mlp_in_context as icl  # noqa: E402
from nblib.experiments import mlp_in_context_views as views  # noqa: E402

TINY = dict(seeds=1, pool_sizes=[4, None], context_lens=[4], context_len=4, mlp_width=8, mlp_depth=1,
            mlp_steps=30, transformer_d_model=8, transformer_steps=10, small_mlp_steps=30, n_eval=64, n_evals=2)


def test_describe_task_shows_a_sequence_and_baselines():
    out = views.describe_task(build(icl.ICLConfig, TINY), pool_size=4, n=2000)
    assert out["sequence"].shape == (4, 4) and out["sequence"].loc["query", "y"] == 0
    base = out["baselines"]
    assert base["dMMSE (k=4)"] < base["ridge"] < base["context-free (0)"]  # dMMSE is optimal on its pool


def test_estimate_is_positive():
    cfg = build(icl.ICLConfig, TINY)
    assert views.estimate_seconds(cfg, workers=1, probe_steps=5) > 0


def test_explore_and_heatmap_run():
    cfg = build(icl.ICLConfig, TINY)
    out = views.explore(cfg, icl.Condition("small_mlp", None, 4, 0))
    fig = views.plot_first_layer(out["model"], cfg.dim, 4)
    assert len(fig.axes[0].get_xticklabels()) == 4 * (cfg.dim + 1)
