"""Notebook 15: memorization sinks (Ghosal, Maini & Raghunathan 2025, arXiv 2507.09937).

Data: fixed-length passages of a corpus; a few are repeated many times (natural repeated text),
a few random-token canaries are repeated as often, and matched passages and canaries are held
out. Conditions: standard training, deduplicated training, and MemSinks (per-document sink
neurons, dropped at evaluation); post-hoc unlearning of the standard model (gradient ascent on
the repeated documents; pruning the neurons most active on them) at several strengths.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.corpora import PACKAGED
from nblib.data.tokenizer import load_tokens
from nblib.eval.extraction import extraction, sequence_losses
from nblib.eval.lm_loss import eval_windows, mean_loss
from nblib.models.lm import LMShape, build_lm
from nblib.models.sinks import build_sink_lm, document_id, set_sink_masks, sink_masks
from nblib.paths import checkpoints_dir
from nblib.train.callbacks import Callback, Checkpointing
from nblib.train.checkpoints import CheckpointStore, log_spaced_steps
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "15_memorization_sinks"
CONDITIONS = ("standard", "dedup", "sinks")


@dataclass(frozen=True)
class SinksConfig:
    """Parameters of notebook 15 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds (initialisation and data order) per condition", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    corpus: str = param("sotu", "corpus the passages are cut from")
    vocab_size: int = param(512, "byte-level BPE vocabulary", low=257, high=65536)
    context: int = param(64, "tokens per passage (each training sequence is one passage)", low=16, high=4096)
    d_model: int = param(64, "model width", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", low=1, high=48)
    n_heads: int = param(2, "attention heads", low=1, high=64)
    d_mlp: int = param(256, "MLP hidden neurons per layer (general + sink)", low=8, high=65536)
    n_sink: int = param(64, "sink neurons per MLP layer (MemSinks condition)", low=1, high=65536)
    n_active: int = param(16, "sink neurons each document activates", low=1, high=65536)
    n_repeated: int = param(64, "natural passages repeated during training", low=2, high=100000)
    n_canaries: int = param(32, "random-token canaries repeated during training", low=2, high=100000)
    repeats: int = param(40, "times each repeated passage and canary is seen", low=2, high=10000)
    steps: int = param(1500, "training steps of every condition", low=10, high=10**7)
    batch_size: int = param(32, "passages per step", low=1, high=4096)
    lr: float = param(3e-3, "peak learning rate (warmup then cosine to 10%)", low=1e-6, high=1.0)
    eval_every: int = param(150, "steps between memorisation measurements during training", low=1, high=10**6)
    ga_steps: list[int] = param([2, 5, 10, 20], "gradient-ascent unlearning strengths (steps)",
                                item_low=1, item_high=10**5)
    ga_lr: float = param(1e-3, "gradient-ascent learning rate", low=1e-7, high=1.0)
    prune_counts: list[int] = param([8, 16, 32, 64, 128], "pruning strengths: neurons zeroed per layer",
                                    item_low=1, item_high=65536)
    extract_prefix: int = param(32, "prefix tokens given for the extraction test", low=1, high=4096)
    extract_tokens: int = param(16, "tokens that must be reproduced exactly", low=1, high=4096)
    val_windows: int = param(256, "held-out corpus windows for the validation loss", low=4, high=10**6)
    workers: int = param(2, "training runs at once (processes, CPU only)", low=1, high=64)

    def check(self) -> None:
        if self.corpus not in PACKAGED:
            raise ConfigError(f"corpus={self.corpus!r}: use one of {PACKAGED}")
        if self.d_mlp % 8:
            raise ConfigError(f"d_mlp={self.d_mlp} must be a multiple of 8 (the SwiGLU width is rounded to 8)")
        if self.n_sink >= self.d_mlp:
            raise ConfigError(f"n_sink={self.n_sink} must be below d_mlp={self.d_mlp}")
        if self.n_active > self.n_sink:
            raise ConfigError(f"n_active={self.n_active} must be at most n_sink={self.n_sink}")
        if max(self.prune_counts) > self.d_mlp:
            raise ConfigError(f"prune_counts={self.prune_counts}: at most d_mlp={self.d_mlp} per layer")
        if self.extract_prefix + self.extract_tokens > self.context + 1:
            raise ConfigError(f"extract_prefix + extract_tokens = {self.extract_prefix + self.extract_tokens} "
                              f"must fit in a passage of context + 1 = {self.context + 1} tokens")
        repeated = (self.n_repeated + self.n_canaries) * self.repeats
        if repeated >= self.steps * self.batch_size:
            raise ConfigError(f"repeated sequences ({repeated}) must be fewer than all training "
                              f"sequences (steps * batch_size = {self.steps * self.batch_size})")


def shape(cfg: SinksConfig) -> LMShape:
    return LMShape(vocab_size=cfg.vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers,
                   n_heads=cfg.n_heads, context=cfg.context, mlp_ratio=1.5 * cfg.d_mlp / cfg.d_model)


# ------------------------------------------------------------------ data


@dataclass
class Data:
    """Passages (n, context + 1) and the training order of each condition."""

    repeated: torch.Tensor  # natural passages seen `repeats` times
    heldout: torch.Tensor  # matched natural passages never seen
    canaries: torch.Tensor  # random-token strings seen `repeats` times
    heldout_canaries: torch.Tensor  # random-token strings never seen
    unique: torch.Tensor  # passages seen once (the rest of the training data)
    val: torch.Tensor  # windows of the corpus's validation split (general ability)


def load_data(cfg: SinksConfig) -> Data:
    """Cut the train split into passages and assign them, with a fixed data seed (every model
    seed sees the same documents; the order differs)."""
    tokens = torch.from_numpy(load_tokens(cfg.corpus, "train", cfg.vocab_size).astype("int64"))
    length = cfg.context + 1
    passages = tokens[: len(tokens) // length * length].view(-1, length)  # (n, context + 1)
    gen = torch.Generator().manual_seed(12345)
    order = torch.randperm(len(passages), generator=gen)
    need_unique = cfg.steps * cfg.batch_size
    if len(passages) < 2 * cfg.n_repeated + need_unique:
        raise ConfigError(f"steps * batch_size = {need_unique} passages plus {2 * cfg.n_repeated} "
                          f"repeated/held-out ones exceed the {len(passages)} passages of {cfg.corpus}")
    r = cfg.n_repeated
    canaries = torch.randint(1, cfg.vocab_size, (2 * cfg.n_canaries, length), generator=gen)
    val = eval_windows(load_tokens(cfg.corpus, "val", cfg.vocab_size), cfg.context, cfg.val_windows)
    return Data(passages[order[:r]], passages[order[r:2 * r]], canaries[:cfg.n_canaries],
                canaries[cfg.n_canaries:], passages[order[2 * r:2 * r + need_unique]], val)


def training_sequences(cfg: SinksConfig, data: Data, condition: str, seed: int) -> torch.Tensor:
    """The condition's training sequences in order (steps * batch_size, context + 1).

    standard and sinks: repeated passages and canaries `repeats` times each, the rest unique.
    dedup: each repeated passage and canary once, filled up with more unique passages (the same
    number of training sequences, so the same compute)."""
    copies = 1 if condition == "dedup" else cfg.repeats
    repeated = torch.cat([data.repeated, data.canaries]).repeat(copies, 1)
    total = cfg.steps * cfg.batch_size
    sequences = torch.cat([repeated, data.unique[: total - len(repeated)]])
    order = torch.randperm(len(sequences), generator=torch.Generator().manual_seed(1000 + seed))
    return sequences[order]


class PassageBatches:
    """Consecutive batches of a fixed sequence list; for a sink model it sets each sequence's
    sink mask (from the hash of its tokens) just before the Trainer's forward pass."""

    def __init__(self, sequences: torch.Tensor, batch_size: int, model=None, n_sink=0, n_active=0):
        self.sequences, self.batch_size, self.position = sequences, batch_size, 0
        self.model, self.n_sink, self.n_active = model, n_sink, n_active

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(self.position, self.position + self.batch_size) % len(self.sequences)
        self.position += self.batch_size
        batch = self.sequences[rows]  # (batch, context + 1)
        if self.model is not None and self.n_sink:
            set_sink_masks(self.model, sink_masks([document_id(s) for s in batch], self.n_sink, self.n_active))
        return batch[:, :-1], batch[:, 1:]


# ------------------------------------------------------------------ measurements


def measure(model, cfg: SinksConfig, data: Data, extract: bool = True) -> dict:
    """Memorisation and general ability of `model` (sinks dropped if it has any)."""
    set_sink_masks(model, None)
    loss = {name: sequence_losses(model, getattr(data, name)).mean().item()
            for name in ("repeated", "heldout", "canaries", "heldout_canaries")}
    row = {"gap": loss["heldout"] - loss["repeated"],
           "canary_gap": loss["heldout_canaries"] - loss["canaries"],
           "val_loss": mean_loss(model, data.val), **{f"loss_{k}": v for k, v in loss.items()}}
    if extract:
        for name, seqs in (("natural", data.repeated), ("canary", data.canaries), ("heldout", data.heldout)):
            got = extraction(model, seqs, cfg.extract_prefix, cfg.extract_tokens)
            row[f"extract_{name}"] = got["exact"].float().mean().item()
            row[f"matched_{name}"] = got["matched"].float().mean().item()
    return row


class MemorisationLog(Callback):
    """Records the memorisation gaps and validation loss every `every` steps (sinks dropped)."""

    def __init__(self, cfg: SinksConfig, data: Data, every: int):
        self.cfg, self.data, self.every, self.rows = cfg, data, every, []

    def on_step(self, trainer, loss) -> None:
        if trainer.step % self.every == 0:
            self.rows.append({"step": trainer.step, **measure(trainer.model, self.cfg, self.data, extract=False)})


TRAINING_FIELDS = ("corpus", "vocab_size", "context", "d_model", "n_layers", "n_heads", "d_mlp", "n_sink",
                   "n_active", "n_repeated", "n_canaries", "repeats", "steps", "batch_size", "lr", "eval_every")


def store_for(cfg: SinksConfig, condition: str, seed: int) -> CheckpointStore:
    """Checkpoints of one condition and seed, in a folder keyed by every field that shapes them."""
    return CheckpointStore(checkpoints_dir(SLUG, fingerprint(cfg, TRAINING_FIELDS), f"{condition}-seed{seed}"))


def train_condition(cfg: SinksConfig, condition: str, seed: int, data: Data, device="cpu",
                    callbacks=()) -> tuple[torch.nn.Module, list[dict]]:
    """Train one condition; returns the model and its memorisation history."""
    if condition not in CONDITIONS:
        raise ConfigError(f"condition={condition!r} is not one of {CONDITIONS}")
    sinks = condition == "sinks"
    model = (build_sink_lm(shape(cfg), cfg.n_sink, seed) if sinks else build_lm(shape(cfg), seed)).to(device)
    batches = PassageBatches(training_sequences(cfg, data, condition, seed), cfg.batch_size,
                             model if sinks else None, cfg.n_sink, cfg.n_active)
    schedule = Schedule("cosine", warmup_steps=cfg.steps // 20, total_steps=cfg.steps, final_ratio=0.1)
    log = MemorisationLog(cfg, data, cfg.eval_every)
    saves = Checkpointing(store_for(cfg, condition, seed), log_spaced_steps(cfg.steps, cfg.eval_every * 2),
                          lambda trainer: {"condition": condition, "seed": seed}, save_state=False)
    Trainer(model, TrainConfig(lr=cfg.lr, schedule=schedule, seed=seed, log_every=cfg.eval_every),
            batches, callbacks=[log, saves, *callbacks]).fit(cfg.steps)
    set_sink_masks(model, None)
    return model, log.rows


# ------------------------------------------------------------------ post-hoc unlearning


def gradient_ascent(model, cfg: SinksConfig, data: Data, seed: int) -> list[dict]:
    """Ascend the loss on the repeated passages and canaries; measure after each strength."""
    model = copy.deepcopy(model)
    forget = torch.cat([data.repeated, data.canaries])
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.ga_lr, weight_decay=0.0)
    rows, done = [], 0
    for steps in sorted(cfg.ga_steps):
        for _ in range(steps - done):
            batch = forget[torch.randint(0, len(forget), (cfg.batch_size,), generator=gen)]
            logits = model(input_ids=batch[:, :-1]).logits
            loss = -torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        done = steps
        rows.append({"method": "gradient ascent", "strength": steps, **measure(model, cfg, data)})
    return rows


@torch.no_grad()
def mlp_activations(model, sequences: torch.Tensor) -> list[torch.Tensor]:
    """Mean |hidden activation| of every MLP neuron over `sequences`: one (d_mlp,) per layer."""
    means, hooks = [], []
    for layer in model.model.layers:
        mlp = layer.mlp
        hooks.append(mlp.down_proj.register_forward_hook(
            lambda module, inputs, output: means.append(inputs[0].abs().mean(dim=(0, 1)))))
    model(input_ids=sequences[:, :-1])
    for hook in hooks:
        hook.remove()
    return means


def pruning(model, cfg: SinksConfig, data: Data) -> list[dict]:
    """Zero the neurons most specific to the repeated documents (their mean |activation| on the
    repeated passages and canaries minus on unique training passages), per layer."""
    forget = mlp_activations(model, torch.cat([data.repeated, data.canaries]))
    general = mlp_activations(model, data.unique[:256])
    rows = []
    for count in sorted(cfg.prune_counts):
        pruned = copy.deepcopy(model)
        with torch.no_grad():
            for layer, f, g in zip(pruned.model.layers, forget, general, strict=True):
                layer.mlp.down_proj.weight[:, torch.topk(f - g, count).indices] = 0.0
        rows.append({"method": "pruning", "strength": count, **measure(pruned, cfg, data)})
    return rows


# ------------------------------------------------------------------ runs


def run_one(cfg: SinksConfig, condition: str, seed: int, device="cpu", data: Data | None = None) -> dict:
    """Train one condition and seed; measure it; for `standard`, also unlearn it post hoc."""
    start = time.perf_counter()
    data = data or load_data(cfg)
    model, history = train_condition(cfg, condition, seed, data, device)
    key = {"condition": condition, "seed": seed}
    final = [{**key, "method": condition, "strength": 0, **measure(model, cfg, data)}]
    if condition == "sinks":  # the same model with each document's own sinks switched on
        on = {}
        for name in ("repeated", "heldout"):
            seqs = getattr(data, name)
            set_sink_masks(model, sink_masks([document_id(s) for s in seqs], cfg.n_sink, cfg.n_active))
            on[name] = sequence_losses(model, seqs).mean().item()
        set_sink_masks(model, None)
        final[0]["gap_sinks_on"] = on["heldout"] - on["repeated"]
    if condition == "standard":
        final += [{**key, **r} for r in gradient_ascent(model, cfg, data, seed) + pruning(model, cfg, data)]
    return {"final": final, "history": [{**key, **h} for h in history], "seconds": time.perf_counter() - start}


def _run_one_worker(args: tuple) -> dict:
    torch.set_num_threads(1)  # processes, not threads, share the cores
    return run_one(*args)


@dataclass
class Results:
    final: pd.DataFrame  # one row per condition (and post-hoc method x strength) x seed
    history: pd.DataFrame  # memorisation during training
    seconds: dict = field(default_factory=dict)  # wall time per job


def run_all(cfg: SinksConfig, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every condition and seed (standard first: it carries the post-hoc methods)."""
    jobs = [(c, s) for c in CONDITIONS for s in range(cfg.seeds)]
    if workers > 1 and torch.device(device).type == "cpu":
        load_data(cfg)  # build the token caches once, before the workers read them
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        outputs = pool.map(_run_one_worker, [(cfg, c, s, str(device)) for c, s in jobs])
    else:
        data = load_data(cfg)
        pool, outputs = None, (run_one(cfg, c, s, str(device), data) for c, s in jobs)
    final, history, seconds = [], [], {}
    try:
        for (c, s), out in zip(jobs, outputs, strict=True):
            final += out["final"]
            history += out["history"]
            seconds[f"{c}-seed{s}"] = round(out["seconds"], 1)
            if bar is not None:
                bar.set_postfix_str(f"{c} seed={s}")
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return Results(pd.DataFrame(final), pd.DataFrame(history), seconds)
