"""One Trainer for every notebook that trains a model: language models, MLPs, RL objectives.

AdamW (weight decay on matrices only), a learning-rate `Schedule`, gradient clipping, periodic
evaluation, callbacks (progress, live plot, checkpoints), WSD decay branches (`fork`), and exact
resume from a checkpoint. On CPU the same seed gives the same run bit for bit.

What is minimised is a loss hook `loss_fn(model, batch, step) -> loss`, where `batch` is the tuple
of tensors `batches(generator)` drew (moved to the model's device). The default, `lm_loss`, is a
language model's loss: any objective on (logits, targets), one that sets `uses_inputs` also given
the inputs and the step (e.g. distillation's teacher). Evaluation is the mean LM loss on fixed
held-out windows unless an `eval_fn(model) -> float` is given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from nblib.eval.lm_loss import mean_loss
from nblib.train.objectives import next_token_loss
from nblib.train.schedules import Schedule

Batches = Callable[[torch.Generator], tuple[torch.Tensor, ...]]
LossFn = Callable[[torch.nn.Module, tuple[torch.Tensor, ...], int], torch.Tensor]


def lm_loss(objective: Callable = next_token_loss) -> LossFn:
    """The loss hook of a causal LM trained on (inputs, targets) batches with `objective`."""
    if getattr(objective, "uses_inputs", False):
        def loss(model, batch, step):
            inputs, targets = batch  # (B, L) each
            logits_BxLxV = model(input_ids=inputs).logits
            return objective(logits_BxLxV, targets, inputs=inputs, step=step)
    else:
        def loss(model, batch, step):
            inputs, targets = batch  # (B, L) each
            return objective(model(input_ids=inputs).logits, targets)
    loss.objective = objective
    return loss


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the data and the model are given to the Trainer separately)."""

    lr: float = 1e-3  # peak learning rate
    schedule: Schedule = field(default_factory=Schedule)  # multiplier of lr per step
    weight_decay: float = 0.1  # AdamW decoupled weight decay, on weight matrices only
    beta1: float = 0.9  # AdamW first-moment decay
    beta2: float = 0.95  # AdamW second-moment decay
    grad_clip: float | None = 1.0  # max global gradient norm (None: no clipping)
    eval_every: int = 0  # evaluate on the validation windows every this many steps (0: never)
    log_every: int = 10  # record the training loss every this many steps
    seed: int = 0  # seeds the batch generator (the model's init has its own seed)


class Callback:
    """Hooks called by `Trainer.fit`; override the ones you need."""

    def on_start(self, trainer: Trainer) -> None: ...

    def on_step(self, trainer: Trainer, loss: torch.Tensor) -> None: ...

    def on_eval(self, trainer: Trainer, val_loss: float) -> None: ...

    def on_end(self, trainer: Trainer) -> None: ...


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay weight matrices and embeddings; never norms' gains or biases (as nanoGPT does)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


class Trainer:
    """Trains `model` on draws from `batches` under `cfg`; `fit(until)` can be called repeatedly."""

    def __init__(self, model: torch.nn.Module, cfg: TrainConfig, batches: Batches,
                 val_windows: torch.Tensor | None = None, callbacks: Sequence[Callback] = (),
                 objective: Callable = next_token_loss, branch: str = "",
                 loss_fn: LossFn | None = None,
                 eval_fn: Callable[[torch.nn.Module], float] | None = None):
        """`objective` is the LM objective of the default loss hook; `loss_fn` replaces the hook
        (then `objective` is unused); `eval_fn` replaces the evaluation on `val_windows`."""
        self.model, self.cfg, self.batches, self.objective = model.train(), cfg, batches, objective
        self.loss_fn = loss_fn or lm_loss(objective)
        self.eval_fn = eval_fn
        self.val_windows = val_windows  # (n, context + 1) fixed held-out windows, or None
        self.callbacks, self.branch = list(callbacks), branch
        self.device = next(model.parameters()).device
        self.optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                                           betas=(cfg.beta1, cfg.beta2))
        self.generator = torch.Generator().manual_seed(cfg.seed)  # CPU: the same on every device
        self.step, self.tokens = 0, 0  # optimizer steps taken, training tokens seen
        self.history: list[dict] = []  # {"step", "tokens", "lr", "train_loss" | "val_loss"}

    # --- one update -------------------------------------------------------------------------------
    def train_step(self) -> torch.Tensor:
        """One optimizer step; returns the loss as a tensor (no host sync)."""
        batch = tuple(t.to(self.device) for t in self.batches(self.generator))  # e.g. (B, L) each
        lr = self.cfg.lr * self.cfg.schedule(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self.loss_fn(self.model, batch, self.step)  # scalar
        loss.backward()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += batch[0].numel()  # tokens for an LM; examples x features otherwise
        return loss.detach()

    def evaluate(self) -> float:
        """`eval_fn(model)`, else the mean loss on the validation windows (nats/token); recorded
        in `history` as val_loss."""
        if self.eval_fn is not None:
            val_loss = self.eval_fn(self.model)
        else:
            val_loss = mean_loss(self.model, self.val_windows)  # windows (n, context + 1)
        self.history.append({"step": self.step, "tokens": self.tokens, "val_loss": val_loss})
        for cb in self.callbacks:
            cb.on_eval(self, val_loss)
        return val_loss

    @property
    def can_evaluate(self) -> bool:
        return self.eval_fn is not None or self.val_windows is not None

    # --- loops ------------------------------------------------------------------------------------
    def fit(self, until_step: int) -> Trainer:
        """Train until `self.step == until_step`, calling the callbacks."""
        if until_step < self.step:
            raise ValueError(f"until_step={until_step} is behind the current step {self.step}")
        cfg = self.cfg
        for cb in self.callbacks:
            cb.on_start(self)
        while self.step < until_step:
            loss = self.train_step()
            if self.step % cfg.log_every == 0 or self.step == until_step:
                value = loss.item()
                if value != value:  # NaN: stop at once with the step, not 1000 steps later
                    raise FloatingPointError(f"training loss is NaN at step {self.step}")
                self.history.append({"step": self.step, "tokens": self.tokens,
                                     "lr": cfg.lr * cfg.schedule(self.step - 1),
                                     "train_loss": value})
            for cb in self.callbacks:
                cb.on_step(self, loss)
            if cfg.eval_every and self.can_evaluate and self.step % cfg.eval_every == 0:
                self.evaluate()
        for cb in self.callbacks:
            cb.on_end(self)
        return self

    def fork(self, decay_steps: int, branch: str = "decay",
             callbacks: Sequence[Callback] = ()) -> Trainer:
        """A copy (model, optimizer, data order) whose learning rate decays over the next
        `decay_steps` steps: a WSD decay branch. The original continues unchanged."""
        cfg = TrainConfig(**{**asdict(self.cfg), "schedule": self.cfg.schedule.with_decay(
            self.step, decay_steps)})
        twin = Trainer(copy.deepcopy(self.model), cfg, self.batches, self.val_windows, callbacks,
                       self.objective, branch, loss_fn=self.loss_fn, eval_fn=self.eval_fn)
        twin.optimizer.load_state_dict(copy.deepcopy(self.optimizer.state_dict()))
        twin.generator.set_state(self.generator.get_state())
        twin.step, twin.tokens, twin.history = self.step, self.tokens, list(self.history)
        return twin

    # --- resume -----------------------------------------------------------------------------------
    def state(self) -> dict:
        """What resuming needs besides the weights and the optimizer moments."""
        return {"step": self.step, "tokens": self.tokens, "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state()}

    def restore(self, store, step: int, branch: str = "") -> Trainer:
        """Load weights, optimizer moments and data order saved at `step` in a CheckpointStore;
        training then continues exactly as the original run did."""
        ckpt = store.get(step, branch)
        saved = store.load(step, branch, device=self.device, model_class=type(self.model))
        self.model.load_state_dict(saved.state_dict())
        extra = store.load_training_state(ckpt.path, self.optimizer)
        self.step, self.tokens = int(extra["step"]), int(extra["tokens"])
        self.generator.set_state(extra["generator"])
        torch.set_rng_state(extra["torch_rng"])
        self.history = list(ckpt.meta.get("history", []))
        return self


def constant_after_warmup(cfg, seed: int) -> TrainConfig:
    """The TrainConfig of a notebook whose config has lr, weight_decay, warmup_steps and steps:
    linear warmup, then a constant rate (a checkpoint at step t is the same model whatever the
    total budget), the training loss logged 100 times, data order seeded by `seed`."""
    return TrainConfig(lr=cfg.lr, weight_decay=cfg.weight_decay,
                       schedule=Schedule("constant", cfg.warmup_steps, cfg.steps), seed=seed,
                       log_every=max(1, cfg.steps // 100))


def seconds_per_step(trainer: Trainer, steps: int = 5, warmup: int = 2) -> float:
    """Wall seconds per optimizer step of `trainer` on this machine, timed over `steps` steps
    after `warmup` (it trains them: pass a throwaway trainer). The base of every notebook's
    runtime estimate."""
    import time

    if steps < 1 or warmup < 0:
        raise ValueError(f"seconds_per_step: steps={steps} must be >= 1 and warmup={warmup} >= 0")
    trainer.fit(trainer.step + warmup)
    start = time.perf_counter()
    trainer.fit(trainer.step + steps)
    return (time.perf_counter() - start) / steps
