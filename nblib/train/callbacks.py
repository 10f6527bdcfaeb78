"""Trainer callbacks: a progress bar, a live loss plot, and checkpoints on a schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from nblib.progress import progress
from nblib.train.trainer import Callback, Trainer


class ProgressBar(Callback):
    """A progress bar over `total` steps, which may span several fits and forks (a widget when
    interactive, plain text headless)."""

    def __init__(self, total: int, interactive: bool, desc: str = "train"):
        self.total, self.interactive, self.desc, self.bar = total, interactive, desc, None

    def on_start(self, trainer: Trainer) -> None:
        if self.bar is None:
            self.bar = progress(total=self.total, desc=self.desc, interactive=self.interactive)

    def on_step(self, trainer: Trainer, loss: torch.Tensor) -> None:
        self.bar.update(1)
        if trainer.history and trainer.history[-1]["step"] == trainer.step:
            self.bar.set_postfix(loss=f"{trainer.history[-1].get('train_loss', float('nan')):.3f}",
                                 refresh=False)

    def on_end(self, trainer: Trainer) -> None:
        # several fits (or forks) may share one bar
        if self.bar is not None and self.bar.n >= self.total:
            self.bar.close()


class LivePlot(Callback):
    """Training and validation loss redrawn in place every `every` steps (one figure per run).

    Uses a display handle, so a headless run keeps exactly the final frame."""

    def __init__(self, every: int = 50, title: str = "loss"):
        self.every, self.title, self.handle = every, title, None

    def _draw(self, trainer: Trainer) -> None:
        import matplotlib.pyplot as plt
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:  # a script or a test: nothing to redraw into
            return
        fig, ax = plt.subplots(figsize=(5, 3))
        for key, style in (("train_loss", "-"), ("val_loss", "o-")):
            rows = [h for h in trainer.history if key in h]
            ax.plot([h["tokens"] for h in rows], [h[key] for h in rows], style, label=key, ms=3)
        ax.set(xlabel="training tokens", ylabel="loss (nats/token)", title=self.title)
        ax.legend()
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)

    def on_step(self, trainer: Trainer, loss: torch.Tensor) -> None:
        if trainer.step % self.every == 0:
            self._draw(trainer)

    def on_end(self, trainer: Trainer) -> None:
        self._draw(trainer)


class Checkpointing(Callback):
    """Saves weights (safetensors), a JSON sidecar and the training state at the given steps.

    `meta` returns extra sidecar fields (e.g. the experiment config) for a trainer."""

    def __init__(self, store, steps: Iterable[int], meta: Callable[[Trainer], dict] | None = None,
                 save_state: bool = True):
        self.store, self.steps, self.save_state = store, set(steps), save_state
        self.meta = meta or (lambda trainer: {})

    def save(self, trainer: Trainer):
        last = {k: v for h in trainer.history for k, v in h.items() if k.endswith("loss")}
        meta = {"tokens": trainer.tokens, **last, "history": trainer.history, **self.meta(trainer)}
        if not self.save_state:
            return self.store.save(trainer.model, trainer.step, meta, branch=trainer.branch)
        return self.store.save(trainer.model, trainer.step, meta, branch=trainer.branch,
                               optimizer=trainer.optimizer, extra=trainer.state())  # all or nothing

    def on_start(self, trainer: Trainer) -> None:
        if trainer.step in self.steps and not self._saved(trainer):
            self.save(trainer)

    def on_step(self, trainer: Trainer, loss: torch.Tensor) -> None:
        if trainer.step in self.steps:
            self.save(trainer)

    def _saved(self, trainer: Trainer) -> bool:
        return any(c.step == trainer.step for c in self.store.list(trainer.branch))
