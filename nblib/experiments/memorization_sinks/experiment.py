"""Notebook 15's compute: the passages, the trained conditions (standard, deduplicated, and a
MemSinks model per sink sparsity), their memorisation measurements, and post-hoc unlearning of
the standard model (gradient ascent, GradDiff, NPO and NPO+RT from `train.unlearning`, pruning
from `models.pruning`). The grid of (condition, n_sink, n_active, seed) jobs runs through
`train.grid.run_jobs`: resumable, one JSON result per job."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from nblib.config import ConfigError, cache_key
from nblib.data.splits import token_splits
from nblib.env import derive_seed
from nblib.eval.extraction import extraction, sequence_losses
from nblib.eval.lm_loss import mean_loss
from nblib.experiments.memorization_sinks import CONDITIONS, SLUG, SinksConfig
from nblib.models.lm import LMShape, build_lm, shape_of
from nblib.models.pruning import mlp_activations, prune_mlp_neurons, specific_neurons
from nblib.models.sinks import build_sink_lm, document_id, set_sink_masks, sink_masks
from nblib.paths import checkpoints_dir
from nblib.train.batches import PassageBatches
from nblib.train.callbacks import Callback, Checkpointing
from nblib.train.checkpoints import CheckpointStore, log_spaced_steps
from nblib.train.grid import run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step
from nblib.train.unlearning import METHODS, unlearn


def shape(cfg: SinksConfig) -> LMShape:
    """Every condition's architecture: `d_mlp` hidden neurons per layer (SwiGLU: 1.5 x ratio)."""
    return shape_of(cfg, mlp_ratio=1.5 * cfg.d_mlp / cfg.d_model)


# ------------------------------------------------------------------ data


@dataclass
class Data:
    """Passages (n, context + 1) and the validation windows."""

    repeated: torch.Tensor  # natural passages seen `repeats` times
    heldout: torch.Tensor  # matched natural passages never seen
    canaries: torch.Tensor  # random-token strings seen `repeats` times
    heldout_canaries: torch.Tensor  # random-token strings never seen
    unique: torch.Tensor  # passages seen once (the rest of the training data)
    val: torch.Tensor  # windows of the corpus's validation split (general ability)


def load_data(cfg: SinksConfig) -> Data:
    """Cut the train split into passages and assign them, with the fixed `data_seed` (every
    model seed sees the same documents; the order differs)."""
    splits = token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.val_windows)
    length = cfg.context + 1
    passages = splits.train[: len(splits.train) // length * length].view(-1, length)  # (n, L+1)
    gen = torch.Generator().manual_seed(cfg.data_seed)
    order = torch.randperm(len(passages), generator=gen)
    need_unique = cfg.steps * cfg.batch_size
    if len(passages) < 2 * cfg.n_repeated + need_unique:
        raise ConfigError(f"steps * batch_size = {need_unique} passages plus "
                          f"{2 * cfg.n_repeated} repeated/held-out ones exceed the "
                          f"{len(passages)} passages of {cfg.corpus}")
    r = cfg.n_repeated
    canaries = torch.randint(1, cfg.vocab_size, (2 * cfg.n_canaries, length), generator=gen)
    return Data(passages[order[:r]], passages[order[r:2 * r]], canaries[:cfg.n_canaries],
                canaries[cfg.n_canaries:], passages[order[2 * r:2 * r + need_unique]], splits.val)


def training_sequences(cfg: SinksConfig, data: Data, condition: str, seed: int) -> torch.Tensor:
    """The condition's training sequences in order (steps * batch_size, context + 1).

    standard and sinks: repeated passages and canaries `repeats` times each, the rest unique.
    dedup: each repeated passage and canary once, filled up with more unique passages (the same
    number of training sequences, so the same compute)."""
    copies = 1 if condition == "dedup" else cfg.repeats
    repeated = torch.cat([data.repeated, data.canaries]).repeat(copies, 1)
    total = cfg.steps * cfg.batch_size
    sequences = torch.cat([repeated, data.unique[: total - len(repeated)]])
    gen = torch.Generator().manual_seed(derive_seed(seed, "data order"))
    order = torch.randperm(len(sequences), generator=gen)
    return sequences[order]


# ------------------------------------------------------------------ measurements


EXTRACTION_SETS = {"natural": "repeated", "canary": "canaries", "heldout": "heldout",
                   "heldout_canary": "heldout_canaries"}


def measure(model, cfg: SinksConfig, data: Data, extract: str | None = "all") -> dict:
    """Memorisation and general ability of `model` (sinks dropped if it has any). `extract`:
    "all" (greedy extraction on every set of EXTRACTION_SETS), "canary" (repeated canaries only,
    for the post-hoc points) or None."""
    set_sink_masks(model, None)
    loss = {name: sequence_losses(model, getattr(data, name)).mean().item()
            for name in ("repeated", "heldout", "canaries", "heldout_canaries")}
    row = {"gap": loss["heldout"] - loss["repeated"],
           "canary_gap": loss["heldout_canaries"] - loss["canaries"],
           "val_loss": mean_loss(model, data.val), **{f"loss_{k}": v for k, v in loss.items()}}
    sets = {"all": EXTRACTION_SETS, "canary": {"canary": "canaries"}, None: {}}[extract]
    for name, attr in sets.items():
        got = extraction(model, getattr(data, attr), cfg.extract_prefix, cfg.extract_tokens)
        row[f"extract_{name}"] = got["exact"].float().mean().item()
        row[f"matched_{name}"] = got["matched"].float().mean().item()
    return row


class MemorisationLog(Callback):
    """Records the memorisation gaps and validation loss every `every` steps (sinks dropped)."""

    def __init__(self, cfg: SinksConfig, data: Data, every: int):
        self.cfg, self.data, self.every, self.rows = cfg, data, every, []

    def on_step(self, trainer, loss) -> None:
        if trainer.step % self.every == 0:
            row = measure(trainer.model, self.cfg, self.data, extract=None)
            self.rows.append({"step": trainer.step, **row})


def store_for(cfg: SinksConfig, condition: str, seed: int, n_sink: int | None = None,
              n_active: int | None = None) -> CheckpointStore:
    """Checkpoints of one trained model, in a folder keyed by every field that shapes them (a
    MemSinks model by its n_sink and n_active too; default: the headline's)."""
    name = f"{condition}-seed{seed}"
    if condition == "sinks":
        name = f"sinks-{n_sink or cfg.n_sink}x{n_active or cfg.n_active}-seed{seed}"
    return CheckpointStore(checkpoints_dir(SLUG, cache_key(cfg, "train"), name))


def jobs_folder(cfg: SinksConfig) -> Path:
    """Where each job's result is recorded, keyed by what shapes the results."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "jobs")


def build_model(cfg: SinksConfig, condition: str, seed: int, device="cpu",
                n_sink: int | None = None) -> torch.nn.Module:
    if condition not in CONDITIONS:
        raise ConfigError(f"condition={condition!r} is not one of {CONDITIONS}")
    if condition == "sinks":
        return build_sink_lm(shape(cfg), n_sink or cfg.n_sink, seed).to(device)
    return build_lm(shape(cfg), seed).to(device)


def trainer_for(cfg: SinksConfig, condition: str, seed: int, data: Data, device="cpu",
                callbacks=(), n_sink: int | None = None, n_active: int | None = None) -> Trainer:
    """The Trainer of one condition and seed: warmup, cosine to `final_lr_ratio` (a MemSinks
    model with `n_sink` sinks of which each document uses `n_active`; default: the
    headline's)."""
    n_sink, n_active = n_sink or cfg.n_sink, n_active or cfg.n_active
    model = build_model(cfg, condition, seed, device, n_sink)
    sinks = condition == "sinks"
    batches = PassageBatches(training_sequences(cfg, data, condition, seed), cfg.batch_size,
                             model if sinks else None, n_sink, n_active)
    schedule = Schedule("cosine", warmup_steps=cfg.warmup_steps, total_steps=cfg.steps,
                        final_ratio=cfg.final_lr_ratio)
    return Trainer(model, TrainConfig(lr=cfg.lr, schedule=schedule, seed=seed,
                                      log_every=cfg.eval_every), batches, callbacks=callbacks)


def train_condition(cfg: SinksConfig, condition: str, seed: int, data: Data, device="cpu",
                    callbacks=(), n_sink: int | None = None,
                    n_active: int | None = None) -> tuple[torch.nn.Module, list[dict]]:
    """Train one condition; returns the model and its memorisation history."""
    log = MemorisationLog(cfg, data, cfg.eval_every)
    saves = Checkpointing(store_for(cfg, condition, seed, n_sink, n_active),
                          log_spaced_steps(cfg.steps, cfg.eval_every * 2),
                          lambda trainer: {"condition": condition, "seed": seed}, save_state=False)
    trainer = trainer_for(cfg, condition, seed, data, device, [log, saves, *callbacks], n_sink,
                          n_active)
    trainer.fit(cfg.steps)
    set_sink_masks(trainer.model, None)
    return trainer.model, log.rows


# ------------------------------------------------------------------ post-hoc unlearning


def forget_set(data: Data) -> torch.Tensor:
    """What unlearning removes: the repeated passages and canaries."""
    return torch.cat([data.repeated, data.canaries])


def fine_tuning_unlearning(model, cfg: SinksConfig, data: Data, seed: int) -> list[dict]:
    """Every method of `train.unlearning.METHODS` on the repeated passages and canaries (the
    retain set: `retain_passages` unique training passages), measured after each strength."""
    rows = []
    for method in METHODS:
        got = unlearn(model, forget_set(data), cfg.unlearn_steps, method=method,
                      lr=cfg.unlearn_lr, batch_size=cfg.batch_size, seed=seed,
                      retain=data.unique[:cfg.retain_passages], beta=cfg.npo_beta,
                      retain_weight=cfg.retain_weight,
                      measure=lambda m: measure(m, cfg, data, extract="canary"))
        rows += [{"method": method, **row} for row in got]
    return rows


def pruning(model, cfg: SinksConfig, data: Data) -> list[dict]:
    """Zero the neurons most specific to the repeated documents (their mean |activation| on the
    repeated passages and canaries minus on unique training passages), per layer."""
    forget = mlp_activations(model, forget_set(data))
    general = mlp_activations(model, data.unique[:cfg.retain_passages])
    rows = []
    for count in sorted(cfg.prune_counts):
        pruned = prune_mlp_neurons(model, specific_neurons(forget, general, count))
        rows.append({"method": "pruning", "strength": count,
                     **measure(pruned, cfg, data, extract="canary")})
    return rows


# ------------------------------------------------------------------ runs


def sinks_on_gap(model, cfg: SinksConfig, data: Data, n_sink: int, n_active: int) -> float:
    """The sink model's gap with each passage's own sinks switched on."""
    on = {}
    for name in ("repeated", "heldout"):
        seqs = getattr(data, name)
        ids = [document_id(s) for s in seqs]
        set_sink_masks(model, sink_masks(ids, n_sink, n_active))
        on[name] = sequence_losses(model, seqs).mean().item()
    set_sink_masks(model, None)
    return on["heldout"] - on["repeated"]


def run_one(cfg: SinksConfig, job: dict, device="cpu", data: Data | None = None) -> dict:
    """One job {"condition", "n_sink", "n_active", "seed"} (n_sink = n_active = 0 but for
    MemSinks): train, measure; for `standard`, also unlearn post hoc. Returns {"final": rows,
    "history": rows} (JSON-able; `run_jobs` adds the job's keys)."""
    condition, seed = job["condition"], job["seed"]
    n_sink, n_active = job.get("n_sink") or None, job.get("n_active") or None
    data = data or load_data(cfg)
    model, history = train_condition(cfg, condition, seed, data, device, (), n_sink, n_active)
    final = [{"method": condition, "strength": 0, **measure(model, cfg, data)}]
    if condition == "sinks":  # the same model with each document's own sinks switched on
        final[0]["gap_sinks_on"] = sinks_on_gap(model, cfg, data, n_sink, n_active)
    if condition == "standard":
        final += fine_tuning_unlearning(model, cfg, data, seed) + pruning(model, cfg, data)
    return {"final": final, "history": history}


@dataclass
class Results:
    """`run_all`'s tables: rows carry the job's condition and seed."""

    final: pd.DataFrame  # one row per condition (and post-hoc method x strength) x seed
    history: pd.DataFrame  # memorisation during training
    seconds: dict = field(default_factory=dict)  # wall time per job id


def jobs(cfg: SinksConfig) -> list[dict]:
    """Every trained model and seed (standard first: it carries the post-hoc methods; then
    deduplicated; then the MemSinks models of `cfg.sink_points`)."""
    models = [("standard", 0, 0), ("dedup", 0, 0)] + [("sinks", s, a) for s, a in cfg.sink_points]
    return [{"condition": c, "n_sink": s, "n_active": a, "seed": seed}
            for c, s, a in models for seed in cfg.seed_list]


def _label(job: dict) -> str:
    sinks = f" {job['n_active']}/{job['n_sink']}" if job["condition"] == "sinks" else ""
    return f"{job['condition']}{sinks} seed={job['seed']}"


def run_all(cfg: SinksConfig, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every job, through `run_jobs` (jobs recorded by an earlier run are read back)."""
    load_data(cfg)  # build the token caches once, before any worker reads them
    results = run_jobs(run_one, cfg, jobs(cfg), jobs_folder(cfg), device, workers, bar,
                       label=_label)
    seconds = {k: round(v, 1) for k, v in results.seconds.items()}
    return Results(results.rows("final"), results.rows("history"), seconds)


def estimate_seconds(cfg: SinksConfig, device, workers: int) -> float:
    """Expected wall seconds of `run_all`, from a few timed training steps of the sink model
    and one timed measurement of each kind on this machine (single-threaded when the jobs run
    in worker processes, as they then do)."""
    data = load_data(cfg)
    threads = torch.get_num_threads()
    n_jobs = len(jobs(cfg))
    parallel = min(workers, n_jobs)
    if parallel > 1 and torch.device(device).type == "cpu":
        torch.set_num_threads(1)
    try:
        trainer = trainer_for(cfg, "sinks", 0, data, device)
        step = seconds_per_step(trainer, steps=3, warmup=1)
        timed = []
        for extract in (None, "canary", "all"):
            start = time.perf_counter()
            measure(trainer.model, cfg, data, extract=extract)
            timed.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    quick, canary, full = timed
    per_run = cfg.steps * step + cfg.steps // cfg.eval_every * quick + full
    # GradDiff and NPO+RT take two passes a step; NPO one plus its reference
    unlearning = 6 * max(cfg.unlearn_steps) * step
    post_hoc = unlearning + (len(METHODS) * len(cfg.unlearn_steps) + len(cfg.prune_counts)) * canary
    return (n_jobs * per_run + cfg.seeds * post_hoc) / max(1, parallel)
