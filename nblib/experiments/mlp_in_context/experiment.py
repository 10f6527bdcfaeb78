"""Notebook 09's compute: the conditions, one training run through the `Trainer` (shared by the
sweep and the widget), and the grid of runs through `train.grid.run_jobs` (resumable, one JSON
result per job). Task and Bayes baselines: `nblib.data.tasks.icl_regression`."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch

from nblib.config import cache_key, param
from nblib.data.tasks.icl_regression import RegressionTask, dmmse_predict, ridge_predict
from nblib.env import derive_seed
from nblib.experiments.mlp_in_context import SLUG, ICLConfig
from nblib.models.mlp import MLP
from nblib.models.set_transformer import SequenceTransformer
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import JobResults, run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

JOB_KEYS = ("model", "pool_size", "context_len", "seed")  # a job, and a Condition's fields


@dataclass(frozen=True)
class Condition:
    """One training run."""

    model: str = param("mlp", "which network", choices=("mlp", "transformer", "small_mlp"))
    pool_size: int | None = param(None, "task pool size k (None: unrestricted)", low=1,
                                  high=2**20)
    context_len: int = param(8, "L, points per sequence with the query", low=2, high=256)
    seed: int = param(0, "seed of the initialisation, the data and the pool", low=0, high=10**6)


def conditions(cfg: ICLConfig) -> list[Condition]:
    """The k sweep (MLP), the L sweep (MLP and transformer, k unrestricted) and the small MLP."""
    out: list[Condition] = []
    for seed in cfg.seed_list:
        out += [Condition("mlp", k, cfg.context_len, seed) for k in cfg.pool_sizes]
        out += [Condition("mlp", None, L, seed) for L in cfg.context_lens if L != cfg.context_len]
        out += [Condition("transformer", None, L, seed) for L in cfg.context_lens]
        out.append(Condition("small_mlp", None, cfg.context_len, seed))
    return out


def jobs(cfg: ICLConfig) -> list[dict]:
    """`conditions(cfg)` as run_jobs' job dicts."""
    return [asdict(c) for c in conditions(cfg)]


def build_model(cfg: ICLConfig, cond: Condition) -> torch.nn.Module:
    row = cfg.dim + 1
    if cond.model == "mlp":
        return MLP(cond.context_len * row, cfg.mlp_width, cfg.mlp_depth)
    if cond.model == "small_mlp":
        return MLP(cond.context_len * row, cfg.small_mlp_width, depth=1)
    return SequenceTransformer(row, cfg.transformer_d_model, cfg.transformer_layers,
                               cfg.transformer_heads)


def flops_per_example(model: torch.nn.Module, cond: Condition) -> float:
    if isinstance(model, SequenceTransformer):
        return model.flops_per_example(cond.context_len)
    return model.flops_per_example()


def budget(cfg: ICLConfig, cond: Condition) -> tuple[int, float]:
    """(steps, peak learning rate) of a condition."""
    if cond.model == "transformer":
        return cfg.transformer_steps, cfg.transformer_lr
    return (cfg.mlp_steps if cond.model == "mlp" else cfg.small_mlp_steps), cfg.mlp_lr


def train_config(cfg: ICLConfig, cond: Condition) -> TrainConfig:
    """AdamW with linear warm-up (at least one step), then cosine decay to zero."""
    steps, peak_lr = budget(cfg, cond)
    warmup = max(1, int(cfg.warmup_frac * steps))
    return TrainConfig(lr=peak_lr, schedule=Schedule("cosine", warmup, steps),
                       weight_decay=cfg.weight_decay, beta1=cfg.adam_beta1, beta2=cfg.adam_beta2,
                       grad_clip=cfg.grad_clip, log_every=steps, seed=cond.seed)


def pool_seed(cond: Condition) -> int:
    """Seed of the task pool of a condition (one pool per seed and k)."""
    return derive_seed(cond.seed, "pool", cond.pool_size or 0)


def eval_seed(seed: int) -> int:
    """Seed of the held-out sequences (shared by every condition of a seed and its baselines)."""
    return derive_seed(seed, "eval")


def query_mse(model: torch.nn.Module, batch: tuple[torch.Tensor, ...], step: int = 0):
    """The loss hook: mean squared error of the query prediction on a (z, y) batch."""
    z, y = batch  # (B, L, d+1), (B,)
    return ((model(z).squeeze(-1) - y) ** 2).mean()


@torch.no_grad()
def mse(model: torch.nn.Module, z: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    out = float(query_mse(model, (z, y)))
    model.train()
    return out


def _setup(cfg: ICLConfig, cond: Condition, device: torch.device):
    """The task, the held-out sequences and a Trainer for one condition (model seeded)."""
    task = RegressionTask(cfg.dim, cond.context_len, cfg.noise_var, cond.pool_size,
                          pool_seed=pool_seed(cond))
    true_task = RegressionTask(cfg.dim, cond.context_len, cfg.noise_var, None)
    pool = task.pool()  # (k, d) on the CPU, where sampling runs; None when unrestricted
    g_eval = torch.Generator().manual_seed(eval_seed(cond.seed))
    held = {"true": true_task.sample(cfg.n_eval, g_eval, device=device)}  # (n, L, d+1), (n,)
    held["pool"] = task.sample(cfg.n_eval, g_eval, pool, device) if pool is not None \
        else held["true"]
    torch.manual_seed(cond.seed)
    model = build_model(cfg, cond).to(device)
    trainer = Trainer(model, train_config(cfg, cond),
                      lambda g: task.sample(cfg.batch_size, g, pool),  # (B, L, d+1), (B,)
                      loss_fn=query_mse, eval_fn=lambda m: mse(m, *held["true"]))
    return trainer, held, pool


def train_condition(cfg: ICLConfig, cond: Condition, device: torch.device | str = "cpu") -> dict:
    """Train one network, evaluate it and the Bayes baselines on the same held-out sequences.

    Returns {"row": final metrics, "history": [metrics along training], "model": the network}.
    MSEs are on the pool distribution ("pool", the pretraining distribution) and on fresh task
    vectors ("true").
    """
    device = torch.device(device)
    steps, _ = budget(cfg, cond)
    trainer, held, pool = _setup(cfg, cond, device)
    (z_true, y_true), (z_pool, y_pool) = held["true"], held["pool"]
    model = trainer.model
    flops_step = flops_per_example(model, cond) * cfg.batch_size
    history, t0 = [], time.perf_counter()
    # n_evals log-spaced steps from ~1% of training to the end; evaluate (and check) only there
    for step in geometric_steps(steps, cfg.n_evals, first=steps / 100):
        trainer.fit(step)
        history.append(dict(step=step, flops=flops_step * step, mse_true=trainer.evaluate(),
                            mse_pool=mse(model, z_pool, y_pool)))
        if not math.isfinite(history[-1]["mse_true"]):
            raise FloatingPointError(f"{cond}: held-out MSE became {history[-1]['mse_true']} "
                                     f"at step {step}")
    with torch.no_grad():
        base = dict(ridge_true=_mse(ridge_predict(z_true, cfg.noise_var), y_true),
                    ridge_pool=_mse(ridge_predict(z_pool, cfg.noise_var), y_pool),
                    zero_true=float((y_true**2).mean()))
        if pool is not None:
            pool = pool.to(device)
            base["dmmse_true"] = _mse(dmmse_predict(z_true, pool, cfg.noise_var), y_true)
            base["dmmse_pool"] = _mse(dmmse_predict(z_pool, pool, cfg.noise_var), y_pool)
    row = dict(model=cond.model, pool_size=cond.pool_size, context_len=cond.context_len,
               seed=cond.seed, steps=steps, n_params=sum(p.numel() for p in model.parameters()),
               train_s=time.perf_counter() - t0, **history[-1], **base)
    row.pop("step")  # the last evaluation is at the last step; `flops` is the total
    return {"row": row, "history": [dict(row, **h) for h in history], "model": model}


def _mse(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float(((pred - y) ** 2).mean())


def train_job(cfg: ICLConfig, job: dict, device: str = "cpu") -> dict:
    """run_jobs' job function: one condition's final row and its evaluations along training
    (JSON-able); a small MLP's weights too (the first-layer figure and statistics read them)."""
    out = train_condition(cfg, Condition(**job), device)
    keep = ("step", "flops", "mse_true", "mse_pool")
    result = {k: v for k, v in out["row"].items() if k not in JOB_KEYS}
    result["history"] = [{k: h[k] for k in keep} for h in out["history"]]
    if job["model"] == "small_mlp":
        result["state"] = {k: v.cpu().tolist() for k, v in out["model"].state_dict().items()}
    return result


@dataclass
class Results:
    """Everything the figures and statistics read."""

    table: pd.DataFrame  # one row per condition: final MSEs, baselines, compute
    history: pd.DataFrame  # one row per (condition, evaluation step)
    models: dict = field(default_factory=dict)  # Condition -> trained one-hidden-layer MLP
    jobs: JobResults | None = None  # the grid's raw results (timings, resumed job ids)


def runs_folder(cfg: ICLConfig) -> Path:
    """Where the job results live: named by every field that shapes them."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def run_all(cfg: ICLConfig, device: torch.device | str = "cpu", workers: int = 1,
            bar=None) -> Results:
    """Train every condition of `conditions(cfg)` (a job recorded by an earlier run with the
    same settings is read back, not retrained); `workers` > 1 trains that many at once in
    separate processes (CPU only). `bar` is an optional progress bar, advanced per condition."""
    grid = run_jobs(train_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                    label=lambda j: f"{j['model']} k={j['pool_size']} L={j['context_len']} "
                                    f"seed={j['seed']}")
    table = grid.table.drop(columns=["history", "state"], errors="ignore")
    table["k"] = table.pool_size.map(lambda k: "∞" if pd.isna(k) else str(int(k)))
    history, models = [], {}
    for job, res in zip(grid.jobs, grid, strict=True):
        row = {**job, **{k: v for k, v in res.items() if k not in ("history", "state")}}
        history += [{**row, **h} for h in res["history"]]
        if "state" in res:
            cond = Condition(**job)
            with torch.random.fork_rng(devices=[]):  # the throwaway init leaves no trace
                model = build_model(cfg, cond)
            model.load_state_dict({k: torch.tensor(v) for k, v in res["state"].items()})
            models[cond] = model
    return Results(table, pd.DataFrame(history), models, grid)


def estimate_seconds(cfg: ICLConfig, device: torch.device | str = "cpu", workers: int = 1,
                     probe_steps: int = 20) -> float:
    """Wall-clock estimate of `run_all`: each network's seconds per step timed on this machine
    (`seconds_per_step` on a throwaway Trainer of the real shape, on one thread when worker
    processes will train) times its steps, plus its evaluations, spread over `workers`."""
    device = torch.device(device)
    per_step: dict[tuple, tuple[float, float]] = {}
    total, threads = 0.0, torch.get_num_threads()
    if workers > 1 and device.type == "cpu":
        torch.set_num_threads(1)  # as run_jobs' worker processes do
    try:
        for cond in conditions(cfg):
            key = (cond.model, cond.context_len)
            if key not in per_step:
                probe = Condition(cond.model, None, cond.context_len, 0)
                trainer, _, _ = _setup(cfg, probe, device)
                step_s = seconds_per_step(trainer, probe_steps, warmup=2)
                t0 = time.perf_counter()
                trainer.evaluate()
                per_step[key] = step_s, 2 * (time.perf_counter() - t0)  # true and pool sets
            step_s, eval_s = per_step[key]
            total += step_s * budget(cfg, cond)[0] + eval_s * cfg.n_evals
    finally:
        torch.set_num_threads(threads)
    return total / max(1, workers)
