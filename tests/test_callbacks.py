"""nblib.train.callbacks: progress bar, live plot and checkpointing driven by a real Trainer."""

import torch

from nblib.models.lm import LMShape, build_lm
from nblib.train.batches import RandomWindows
from nblib.train.callbacks import Checkpointing, LivePlot, ProgressBar
from nblib.train.checkpoints import CheckpointStore
from nblib.train.trainer import TrainConfig, Trainer


def trainer(callbacks):
    model = build_lm(LMShape(vocab_size=32, d_model=16, n_layers=1, n_heads=2, context=8))
    return Trainer(model, TrainConfig(log_every=2), RandomWindows(torch.arange(500) % 32, 4, 8),
                   callbacks=callbacks)


def test_progress_bar_counts_steps_across_fits():
    bar = ProgressBar(total=6, interactive=False)
    trainer([bar]).fit(3).fit(6)
    assert bar.bar.n == 6


def test_live_plot_outside_a_notebook_is_silent_and_leaks_no_figures(capsys):
    import matplotlib.pyplot as plt

    plot = LivePlot(every=2)
    trainer([plot]).fit(6)
    assert plot.handle is None and capsys.readouterr().out == "" and not plt.get_fignums()


def test_checkpointing_saves_the_listed_steps_with_state_and_sidecar(tmp_path):
    store = CheckpointStore(tmp_path)
    t = trainer([Checkpointing(store, [0, 2, 5], meta=lambda tr: {"note": "x"})]).fit(5)
    assert [c.step for c in store.list()] == [0, 2, 5]
    meta = store.get(5).meta
    assert meta["tokens"] == t.tokens and meta["note"] == "x" and "train_loss" in meta
    assert (store.get(5).path / "training_state.safetensors").is_file()
    t.fit(5)  # a second fit at the same step does not save step 5 again (on_start guard)
    assert len(store.list()) == 3
