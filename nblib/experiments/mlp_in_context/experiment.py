"""Notebook 09's compute: the conditions, one training run through the `Trainer` (shared by the
sweep and the widget), and the grid of runs through `train.grid.run_jobs` (resumable, one JSON
result per job). Task and Bayes baselines: `nblib.data.tasks.icl_regression`.

Compute-fair terms. Training FLOPs are counted as matmul FLOPs: 6 per weight of every Linear per
row it processes (forward 2, backward 4; `MLP.flops_per_example`: one flattened row per sequence;
`SequenceTransformer.flops_per_example`: all L rows, plus attention's QKᵀ and AV products,
12 · layers · L² · d_model); biases, norms, activations and the loss are not counted. Each
network's steps at each L are `train_flops / (FLOPs per sequence · batch)`, so both spend the
same budget, each on its own warm-up + cosine schedule run to completion.

Two phases. First the learning-rate sweep: every network × L × rate on `tune_seed`, scored by its
final MSE on that seed's held-out sequences (never a test seed's). Then the test runs on the
test seeds at each network's selected rate per L: the headline pairs, the k sweep (MLP at
`context_len`, its selected rate) and the one-hidden-layer MLP.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nblib.config import ConfigError, cache_key, param
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

JOB_KEYS = ("model", "pool_size", "context_len", "seed", "lr")  # a job, and a Condition's fields
COMPARED = ("mlp", "transformer")  # the networks of the compute-fair comparison


@dataclass(frozen=True)
class Condition:
    """One training run."""

    model: str = param("mlp", "which network", choices=("mlp", "transformer", "small_mlp"))
    pool_size: int | None = param(None, "task pool size k (None: unrestricted)", low=1,
                                  high=2**20)
    context_len: int = param(8, "L, points per sequence with the query", low=2, high=256)
    seed: int = param(0, "seed of the initialisation, the data and the pool", low=0, high=10**6)
    lr: float = param(3e-3, "peak learning rate (AdamW, warm-up then cosine to 0)", low=1e-6,
                      high=1.0)


def build_model(cfg: ICLConfig, cond: Condition) -> torch.nn.Module:
    row = cfg.dim + 1
    if cond.model == "mlp":
        return MLP(cond.context_len * row, cfg.mlp_width, cfg.mlp_depth)
    if cond.model == "small_mlp":
        return MLP(cond.context_len * row, cfg.small_mlp_width, depth=1)
    return SequenceTransformer(row, cfg.transformer_d_model, cfg.transformer_layers,
                               cfg.transformer_heads)


def flops_per_example(model: torch.nn.Module, context_len: int) -> float:
    """Training (matmul) FLOPs per sequence, see the module docstring."""
    if isinstance(model, SequenceTransformer):
        return model.flops_per_example(context_len)
    return model.flops_per_example()


def train_flops_per_step(cfg: ICLConfig, model: str, context_len: int) -> float:
    """Training FLOPs of one step (a batch) of `model` at this L."""
    with torch.random.fork_rng(devices=[]):  # a throwaway model leaves the RNG as it was
        net = build_model(cfg, Condition(model, None, context_len))
    return flops_per_example(net, context_len) * cfg.batch_size


def steps_for(cfg: ICLConfig, model: str, context_len: int) -> int:
    """Steps of a run: `train_flops` spent at this network's FLOPs per step (the one-hidden-layer
    MLP, outside the comparison, trains `small_mlp_steps`)."""
    if model == "small_mlp":
        return cfg.small_mlp_steps
    return max(1, round(cfg.train_flops / train_flops_per_step(cfg, model, context_len)))


def compute_table(cfg: ICLConfig) -> pd.DataFrame:
    """Per compared network and L: its parameters, FLOPs per step, steps and warm-up steps.
    Raises ConfigError when a run would get fewer than `min_steps` (too close to warm-up)."""
    rows = []
    for model in COMPARED:
        for L in sorted(cfg.context_lens):
            with torch.random.fork_rng(devices=[]):
                net = build_model(cfg, Condition(model, None, L))
            steps = steps_for(cfg, model, L)
            rows.append(dict(model=model, context_len=L,
                             n_params=sum(p.numel() for p in net.parameters()),
                             flops_per_step=flops_per_example(net, L) * cfg.batch_size,
                             steps=steps, warmup_steps=_warmup(cfg, steps)))
    table = pd.DataFrame(rows)
    short = table[table.steps < cfg.min_steps]
    if len(short):
        raise ConfigError(f"parameter train_flops={cfg.train_flops:g}: gives "
                          f"{short.steps.min()} steps to {short.iloc[0].model} at "
                          f"L={short.iloc[0].context_len}, below min_steps={cfg.min_steps}; "
                          "raise train_flops (or lower min_steps)")
    return table


def _warmup(cfg: ICLConfig, steps: int) -> int:
    return max(1, int(cfg.warmup_frac * steps))


def tuning_conditions(cfg: ICLConfig) -> list[Condition]:
    """The learning-rate sweep: each compared network × L × its rates, on `tune_seed`."""
    lrs = {"mlp": cfg.mlp_lrs, "transformer": cfg.transformer_lrs}
    return [Condition(m, None, L, cfg.tune_seed, lr) for m in COMPARED
            for L in sorted(cfg.context_lens) for lr in lrs[m]]


def select_lrs(tuning: pd.DataFrame) -> dict[tuple[str, int], float]:
    """(network, L) -> the swept rate with the lowest final held-out MSE on the tuning seed (a
    diverged run, MSE NaN, never wins; a network whose every rate diverged is an error)."""
    ok = tuning[np.isfinite(pd.to_numeric(tuning.mse_true, errors="coerce"))]
    missing = (set(zip(tuning.model, tuning.context_len, strict=True))
               - set(zip(ok.model, ok.context_len, strict=True)))
    if missing:
        raise FloatingPointError(f"every swept learning rate diverged for {sorted(missing)}: "
                                 "lower the rates of mlp_lrs / transformer_lrs")
    best = ok.loc[ok.groupby(["model", "context_len"]).mse_true.idxmin()]
    return {(r.model, int(r.context_len)): float(r.lr) for r in best.itertuples()}


def conditions(cfg: ICLConfig, lrs: dict[tuple[str, int], float]) -> list[Condition]:
    """The test runs at the selected rates `lrs`: per seed, both networks at every L
    (k unrestricted), the MLP's k sweep at `context_len`, and the one-hidden-layer MLP."""
    out: list[Condition] = []
    for seed in cfg.seed_list:
        out += [Condition(m, None, L, seed, lrs[m, L]) for m in COMPARED
                for L in sorted(cfg.context_lens)]
        out += [Condition("mlp", k, cfg.context_len, seed, lrs["mlp", cfg.context_len])
                for k in cfg.pool_sizes if k is not None]
        out.append(Condition("small_mlp", None, cfg.context_len, seed, cfg.small_mlp_lr))
    return out


def n_runs(cfg: ICLConfig) -> int:
    """How many runs `run_all` trains (or reads back): the sweep and the test runs."""
    per_seed = 2 * len(cfg.context_lens) + len([k for k in cfg.pool_sizes if k]) + 1
    return len(tuning_conditions(cfg)) + cfg.seeds * per_seed


def jobs(conds: list[Condition]) -> list[dict]:
    """Conditions as run_jobs' job dicts."""
    return [asdict(c) for c in conds]


def train_config(cfg: ICLConfig, cond: Condition) -> TrainConfig:
    """AdamW with linear warm-up (at least one step), then cosine decay to zero."""
    steps = steps_for(cfg, cond.model, cond.context_len)
    return TrainConfig(lr=cond.lr, schedule=Schedule("cosine", _warmup(cfg, steps), steps),
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


def train_condition(cfg: ICLConfig, cond: Condition, device: torch.device | str = "cpu",
                    on_step: Callable[[int, int], object] | None = None) -> dict:
    """Train one network, evaluate it and the Bayes baselines on the same held-out sequences;
    `on_step(step, steps)` after each evaluation (a progress bar).

    Returns {"row": final metrics, "history": [metrics along training], "model": the network}.
    MSEs are on the pool distribution ("pool", the pretraining distribution) and on fresh task
    vectors ("true").
    """
    device = torch.device(device)
    steps = steps_for(cfg, cond.model, cond.context_len)
    trainer, held, pool = _setup(cfg, cond, device)
    (z_true, y_true), (z_pool, y_pool) = held["true"], held["pool"]
    model = trainer.model
    flops_step = flops_per_example(model, cond.context_len) * cfg.batch_size
    history, t0 = [], time.perf_counter()
    # n_evals log-spaced steps from ~1% of training to the end; evaluate (and check) only there
    diverged = False
    for step in geometric_steps(steps, cfg.n_evals, first=steps / 100):
        try:
            trainer.fit(step)
            history.append(dict(step=step, flops=flops_step * step, mse_true=trainer.evaluate(),
                                mse_pool=mse(model, z_pool, y_pool)))
            if on_step is not None:
                on_step(step, steps)
        except FloatingPointError:  # a NaN training loss: the run diverged
            history.append(dict(step=step, flops=flops_step * step, mse_true=math.nan,
                                mse_pool=math.nan))
        if not math.isfinite(history[-1]["mse_true"]):
            diverged = True  # recorded, never raised: a swept rate may diverge (and lose)
            history[-1].update(step=steps, flops=flops_step * steps)
            break
    with torch.no_grad():
        base = dict(ridge_true=_mse(ridge_predict(z_true, cfg.noise_var), y_true),
                    ridge_pool=_mse(ridge_predict(z_pool, cfg.noise_var), y_pool),
                    zero_true=float((y_true**2).mean()))
        if pool is not None:
            pool = pool.to(device)
            base["dmmse_true"] = _mse(dmmse_predict(z_true, pool, cfg.noise_var), y_true)
            base["dmmse_pool"] = _mse(dmmse_predict(z_pool, pool, cfg.noise_var), y_pool)
    row = dict(asdict(cond), steps=steps, diverged=diverged,
               n_params=sum(p.numel() for p in model.parameters()),
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

    table: pd.DataFrame  # one row per test run: final MSEs, baselines, compute
    history: pd.DataFrame  # one row per (test run, evaluation step)
    tuning: pd.DataFrame  # one row per learning-rate-sweep run (tuning seed), `selected` marked
    lrs: dict = field(default_factory=dict)  # (network, L) -> selected learning rate
    models: dict = field(default_factory=dict)  # Condition -> trained one-hidden-layer MLP
    jobs: list[JobResults] = field(default_factory=list)  # the two grids' raw results


def runs_folder(cfg: ICLConfig) -> Path:
    """Where the job results live: named by every field that shapes them."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def _label(j: dict) -> str:
    return (f"{j['model']} k={j['pool_size']} L={j['context_len']} lr={j['lr']:g} "
            f"seed={j['seed']}")


def _frames(cfg: ICLConfig, grid: JobResults) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
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
    return table, pd.DataFrame(history), models


def run_all(cfg: ICLConfig, device: torch.device | str = "cpu", workers: int = 1,
            bar=None) -> Results:
    """The learning-rate sweep, the selection, then every test run (a job recorded by an earlier
    run with the same settings is read back, not retrained); `workers` > 1 trains that many at
    once in separate processes (CPU only). `bar` is an optional progress bar, ticked per run."""
    compute_table(cfg)  # too few steps is an error before any compute
    folder = runs_folder(cfg)
    sweep = run_jobs(train_job, cfg, jobs(tuning_conditions(cfg)), folder, device, workers, bar,
                     label=_label)
    tuning, _, _ = _frames(cfg, sweep)
    lrs = select_lrs(tuning)
    tuning["selected"] = [lrs[m, int(L)] == lr for m, L, lr in
                          zip(tuning.model, tuning.context_len, tuning.lr, strict=True)]
    test = run_jobs(train_job, cfg, jobs(conditions(cfg, lrs)), folder, device, workers, bar,
                    label=_label)
    table, history, models = _frames(cfg, test)
    return Results(table, history, tuning, lrs, models, [sweep, test])


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
    lrs = {(m, L): 1e-3 for m in COMPARED for L in cfg.context_lens}  # rates do not cost time
    try:
        for cond in tuning_conditions(cfg) + conditions(cfg, lrs):
            key = (cond.model, cond.context_len)
            if key not in per_step:
                probe = Condition(cond.model, None, cond.context_len, 0, cond.lr)
                trainer, _, _ = _setup(cfg, probe, device)
                step_s = seconds_per_step(trainer, probe_steps, warmup=2)
                t0 = time.perf_counter()
                trainer.evaluate()
                per_step[key] = step_s, 2 * (time.perf_counter() - t0)  # true and pool sets
            step_s, eval_s = per_step[key]
            total += step_s * steps_for(cfg, cond.model, cond.context_len) + eval_s * cfg.n_evals
    finally:
        torch.set_num_threads(threads)
    return total / max(1, workers)
