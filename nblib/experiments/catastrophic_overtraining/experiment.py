"""Notebook 14's compute: pretrain tiny LMs with a warmup-stable-decay schedule, forking at each
token budget a decay branch so every probed checkpoint is annealed, then probe each annealed
checkpoint: Gaussian weight noise, round-to-nearest quantization, and fine-tuning on a shifted
domain over a grid of learning rates. One job per (width, seed), run by `train.grid.run_jobs`
(resumable). The slopes and quadratic fits live in `analysis`.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.splits import token_splits
from nblib.env import derive_seed
from nblib.eval.lm_loss import mean_loss
from nblib.experiments.catastrophic_overtraining import SLUG, OvertrainConfig
from nblib.models.lm import LMShape, build_lm, count_params, shape_of
from nblib.models.perturb import add_relative_noise, quantize_rtn
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.budgets import Budget, annealed_branches, steps_for, wsd_budgets
from nblib.train.callbacks import Checkpointing
from nblib.train.checkpoints import CheckpointStore, log_spaced_steps
from nblib.train.grid import run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step


def shapes(cfg: OvertrainConfig) -> list[LMShape]:
    """One LMShape per width (the other shape fields come from the config)."""
    return [shape_of(cfg, d_model=w) for w in cfg.widths]


def budgets(cfg: OvertrainConfig, shape: LMShape) -> list[Budget]:
    """The annealed checkpoints of one size's WSD run, one per tokens-per-parameter budget."""
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
    """Optimizer steps of one seed's pretraining per width: the stable run plus every decay
    branch."""
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
    """Tokenize (cached after the first run; the shifted domain with the pretraining tokenizer)
    and cut the fixed evaluation windows."""
    pre = token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)
    ft = token_splits(cfg.finetune_corpus, cfg.vocab_size, cfg.context, cfg.eval_windows,
                      tokenizer_corpus=cfg.corpus, test=True)
    return Data(pre.train, pre.val, ft.train, ft.val, ft.test)


_loaded: dict[tuple, Data] = {}  # a kernel's (or worker's) data, shared by its jobs


def _data_for(cfg: OvertrainConfig) -> Data:
    key = (cfg.corpus, cfg.finetune_corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)
    if key not in _loaded:
        _loaded[key] = load_data(cfg)
    return _loaded[key]


def store_for(cfg: OvertrainConfig, width: int, seed: int) -> CheckpointStore:
    """The checkpoints of one pretraining run, in a folder named by every field that shapes the
    pretrained weights (`cache_key(cfg, "train")`)."""
    return CheckpointStore(checkpoints_dir(SLUG, cache_key(cfg, "train"), f"d{width}-seed{seed}"))


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
    every = max(1, bs[-1].decay_start // cfg.stable_checkpoints)
    main_saves = Checkpointing(store, log_spaced_steps(bs[-1].decay_start, every), meta,
                               save_state=False)
    main = Trainer(model, train_cfg, batches, data.pretrain_val, [main_saves, *callbacks])

    def branch_callbacks(b: Budget):
        return [Checkpointing(store, [b.total_steps], meta, save_state=False), *callbacks]

    annealed = [(b, branch.model) for b, branch in annealed_branches(main, bs, branch_callbacks)]
    return annealed, main.history


# ------------------------------------------------------------------ probes


def sensitivity(model, cfg: OvertrainConfig, data: Data, seed: int) -> list[dict]:
    """Rise in pretraining-domain validation loss under relative Gaussian noise (draw `draw` of
    sigma number `i` from the stream `derive_seed(seed, "noise", i, draw)`, the same for every
    budget of a run) and RTN quantization."""
    base = mean_loss(model, data.pretrain_val)
    rows = [{"probe": "none", "sigma": 0.0, "draw": 0, "loss": base, "delta": 0.0}]
    for i, sigma in enumerate(cfg.sigmas):
        for draw in range(cfg.noise_draws):
            gen = torch.Generator().manual_seed(derive_seed(seed, "noise", i, draw))
            loss = mean_loss(add_relative_noise(model, sigma, gen), data.pretrain_val)
            rows.append({"probe": "noise", "sigma": sigma, "draw": draw, "loss": loss,
                         "delta": loss - base})
    loss = mean_loss(quantize_rtn(model, cfg.quant_bits), data.pretrain_val)
    rows.append({"probe": f"rtn{cfg.quant_bits}", "sigma": float("nan"), "draw": 0, "loss": loss,
                 "delta": loss - base})
    return rows


def finetune(model, cfg: OvertrainConfig, data: Data, lr: float, seed: int,
             callbacks=()) -> dict:
    """Fine-tune a copy on the shifted domain (cosine schedule, warmup over `ft_warmup` of the
    steps, at least one); report losses after."""
    tuned = copy.deepcopy(model)
    warmup = max(1, int(cfg.ft_warmup * cfg.ft_steps))
    schedule = Schedule("cosine", warmup_steps=warmup, total_steps=cfg.ft_steps)
    train_cfg = TrainConfig(lr=lr, schedule=schedule, seed=seed, log_every=cfg.ft_steps)
    trainer = Trainer(tuned, train_cfg, RandomWindows(data.finetune, cfg.batch_size, cfg.context),
                      callbacks=callbacks)
    trainer.fit(cfg.ft_steps)
    return {"ft_lr": lr, "target_val": mean_loss(tuned, data.finetune_val),
            "target_test": mean_loss(tuned, data.finetune_test),
            "pretrain_after": mean_loss(tuned, data.pretrain_val)}


def probe_checkpoint(model, cfg: OvertrainConfig, data: Data,
                     seed: int) -> tuple[list[dict], list[dict]]:
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


def run_one(cfg: OvertrainConfig, width: int, seed: int, device: str = "cpu",
            data: Data | None = None) -> dict:
    """Pretrain one size and seed, then probe each annealed checkpoint: rows for the tables
    (`sensitivity`, `finetune`, and the stable trajectory's `history`)."""
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
    return {"sensitivity": sens_rows, "finetune": ft_rows, "history": history}


def run_job(cfg: OvertrainConfig, job: dict, device: str = "cpu") -> dict:
    """`run_jobs`'s entry point: the job {"d_model": width, "seed": seed}."""
    return run_one(cfg, job["d_model"], job["seed"], device, _data_for(cfg))


def jobs(cfg: OvertrainConfig) -> list[dict]:
    """One job per pretraining run, the largest width first (it takes longest)."""
    return [{"d_model": w, "seed": s} for w in sorted(cfg.widths, reverse=True)
            for s in cfg.seed_list]


def runs_folder(cfg: OvertrainConfig):
    """Where each job's result is recorded: named by every field that shapes the pretrained
    weights or their probes."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


@dataclass
class Results:
    """Everything the figures and the verdict need."""

    sensitivity: pd.DataFrame  # one row per checkpoint x probe (x sigma x draw)
    finetune: pd.DataFrame  # one row per checkpoint x fine-tuning learning rate
    history: pd.DataFrame  # the stable trajectory's training losses
    seconds: dict = field(default_factory=dict)  # job id -> wall seconds it took
    resumed: list = field(default_factory=list)  # ids of the jobs read back from an earlier run


def run_all(cfg: OvertrainConfig, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every (size, seed) job through `run_jobs`: `workers` > 1 runs that many at once in
    processes (CPU only); a job whose result is recorded (an interrupted run) is not rerun."""
    load_data(cfg)  # build tokenizer and token caches once, before any worker reads them
    done = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                    label=lambda job: f"d_model={job['d_model']} seed={job['seed']}")
    return Results(done.rows("sensitivity"), done.rows("finetune"), done.rows("history"),
                   {k: round(v, 1) for k, v in done.seconds.items()}, done.resumed)


def estimate_seconds(cfg: OvertrainConfig, device="cpu", workers: int = 1) -> float:
    """Wall-time estimate from timing a few real training steps of each size on this machine."""
    per_step, threads = {}, torch.get_num_threads()
    parallel = workers if torch.device(device).type == "cpu" else 1
    if parallel > 1:
        torch.set_num_threads(1)  # as in the worker processes
    try:
        for shape in shapes(cfg):
            model = build_lm(shape).to(device)
            windows = torch.randint(0, shape.vocab_size, (cfg.batch_size, cfg.context + 1),
                                    device=device)  # (B, L + 1) token ids
            trainer = Trainer(model, TrainConfig(log_every=10**9),
                              lambda g, x=windows: (x[:, :-1], x[:, 1:]))
            per_step[shape.d_model] = seconds_per_step(trainer, steps=5, warmup=2)
    finally:
        torch.set_num_threads(threads)
    total = 0.0
    n_checkpoints = len(set(cfg.tpp))
    for width, steps in steps_to_train(cfg).items():
        probe_steps = n_checkpoints * len(cfg.ft_lrs) * cfg.ft_steps
        evals = n_checkpoints * (len(cfg.sigmas) * cfg.noise_draws + 3 + 3 * len(cfg.ft_lrs))
        eval_steps = evals * cfg.eval_windows / cfg.batch_size / 3  # a forward ~ 1/3 of a step
        total += cfg.seeds * per_step[width] * (steps + probe_steps + eval_steps)
    return total / max(1, min(parallel, cfg.seeds * len(cfg.widths)))
