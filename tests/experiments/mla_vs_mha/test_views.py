import matplotlib.pyplot as plt
import pytest

from nblib.config import ConfigError
from nblib.experiments.mla_vs_mha import views


def test_figures_draw(tiny, open_run):
    cfg, res = tiny
    for fig in (views.plot_loss_vs_cache(res.table, cfg), views.plot_differences(res.table, cfg),
                views.plot_learning_curves(res.history, 5.0), views.plot_rank_probes(res, cfg),
                views.plot_entropy(res.entropy)):
        assert fig.axes
        plt.close(fig)


def test_widget_shows_a_variant(tiny, open_run):
    cfg, res = tiny
    info = views.describe_variant(res, cfg, "mla_r6", cfg.first_seed)
    assert info["cache_per_token"] == 8 and info["params_non_embedding"] > 0
    assert (open_run / "figures" / "explore.png").is_file()
    assert views.explorer(res, cfg) is not None


@pytest.mark.parametrize("variant,seed,match", [
    ("mla_r6", 7, r"parameter seed=7: out of range, allowed \[0, 1\]"),
    ("mla_r6", -1, "out of range"),
    ("nope", 0, "parameter variant='nope': must be one of"),
])
def test_widget_refuses_out_of_range_choices(tiny, variant, seed, match):
    cfg, res = tiny
    with pytest.raises(ConfigError, match=match):
        views.describe_variant(res, cfg, variant, seed)
