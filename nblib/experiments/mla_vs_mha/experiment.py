"""Notebook 10's compute: the variants at matched parameters, one training run through the
`Trainer`, the mechanism probes on the trained model, and the grid through `train.grid.run_jobs`
(resumable, one JSON result per job).

Pairing. A seed fixes the data order (the Trainer's batch generator) and the initial weights
(`attention.init_weights`: one stream per parameter name and shape), so at one seed every variant
sees the same batches and starts from the same embeddings, norms and every equal-shaped matrix.

Two phases, as in notebook 09: a learning-rate sweep on `tune_seed` (every variant at every rate
of `lrs`, scored by its final validation loss), then the test seeds at each variant's selected rate,
reported on the test split (never used to select).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from nblib.config import ConfigError, cache_key
from nblib.data.splits import token_splits
from nblib.experiments.mla_vs_mha import SLUG, MLAConfig
from nblib.experiments.mla_vs_mha.probes import probe
from nblib.models.attention import AttentionSpec, build_attention_lm, reference_difference
from nblib.models.lm import count_params
from nblib.paths import checkpoints_dir
from nblib.train.batches import RandomWindows
from nblib.train.grid import JobResults, run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

VARIANTS = {  # the grouped variants by name (MLA variants are named mla_r<rank>[_q<rank>])
    "mha": "MHA, full RoPE (the baseline)",
    "gqa": "GQA, gqa_kv_heads key-value heads",
    "mqa": "MQA, one key-value head (KV sharing)",
    "mha_big_qk": "MHA with MLA's query-key head (head + rope_dim), full RoPE",
    "mha_partial_rope": "MHA, RoPE on rope_dim of each head's dims only",
    "mha_mla_heads": "MHA with MLA's head layout: larger query-key head and partial RoPE",
}


def head_dim(cfg: MLAConfig) -> int:
    return cfg.d_model // cfg.n_heads


ABLATIONS = {  # full-width MLAs with DeepSeek's design choices switched off, by name suffix
    "headrope": dict(shared_rope=False),  # a rope key per head instead of one shared
    "nonorm": dict(latent_norm=False),  # no RMSNorm on the latent
    "headrope_nonorm": dict(shared_rope=False, latent_norm=False),  # both: MHA's function class
}
CALIBRATION_ABLATION = "headrope_nonorm"


def mla_name(rank: int, q_rank: int = 0, ablation: str = "") -> str:
    return f"mla_r{rank}" + (f"_q{q_rank}" if q_rank else "") + (f"_{ablation}" if ablation
                                                                 else "")


def calibration_mla(cfg: MLAConfig) -> str:
    """The MLA of the calibration pair: full-width latent, a rope key per head, no latent norm,
    so that its function class is exactly mha_mla_heads' (only the factoring W_UK·W_DKV and
    the code path differ)."""
    return mla_name(cfg.d_model, ablation=CALIBRATION_ABLATION)


def variant_specs(cfg: MLAConfig) -> dict[str, AttentionSpec]:
    """Every variant of the run, MHA first: its attention spec (checked)."""
    H, dh, dr = cfg.n_heads, head_dim(cfg), cfg.rope_dim
    if dr >= dh:
        raise ConfigError(f"parameter rope_dim={dr}: must be below the head size "
                          f"d_model / n_heads = {dh} (partial RoPE)")
    grouped = {"mha": AttentionSpec("grouped", H, H, dh, dh, dh),
               "gqa": AttentionSpec("grouped", H, cfg.gqa_kv_heads, dh, dh, dh),
               "mqa": AttentionSpec("grouped", H, 1, dh, dh, dh),
               "mha_big_qk": AttentionSpec("grouped", H, H, dh + dr, dh, dh + dr),
               "mha_partial_rope": AttentionSpec("grouped", H, H, dh, dh, dr),
               "mha_mla_heads": AttentionSpec("grouped", H, H, dh + dr, dh, dr)}
    out = {"mha": grouped["mha"], **{c: grouped[c] for c in cfg.controls if c != "mha"}}
    for r in sorted(cfg.mla_ranks):
        out[mla_name(r)] = AttentionSpec("latent", H, H, dh + dr, dh, dr, kv_lora_rank=r)
    for a in cfg.mla_ablations:
        out[mla_name(cfg.d_model, ablation=a)] = AttentionSpec(
            "latent", H, H, dh + dr, dh, dr, kv_lora_rank=cfg.d_model, **ABLATIONS[a])
    if cfg.q_lora_rank:
        out[mla_name(cfg.headline_rank, cfg.q_lora_rank)] = AttentionSpec(
            "latent", H, H, dh + dr, dh, dr, kv_lora_rank=cfg.headline_rank,
            q_lora_rank=cfg.q_lora_rank)
    for spec in out.values():
        spec.check(cfg.d_model)
    return out


def base_mlp_width(cfg: MLAConfig) -> int:
    """MHA's SwiGLU width: 2/3 of mlp_ratio · d_model, a multiple of 8 (as `LMShape.d_mlp`)."""
    return 8 * max(1, round(int(2 * int(cfg.mlp_ratio * cfg.d_model) / 3) / 8))


def mlp_width(cfg: MLAConfig, spec: AttentionSpec) -> int:
    """The SwiGLU width that brings a variant's per-layer parameters to MHA's."""
    d = cfg.d_model
    target = variant_specs(cfg)["mha"].params(d) + 3 * d * base_mlp_width(cfg)
    return max(1, round((target - spec.params(d)) / (3 * d)))


def build_model(cfg: MLAConfig, name: str, seed: int) -> torch.nn.Module:
    spec = variant_specs(cfg)[name]
    return build_attention_lm(spec, cfg.vocab_size, cfg.d_model, cfg.n_layers,
                              mlp_width(cfg, spec), cfg.context, seed)


def flops_per_token(cfg: MLAConfig, spec: AttentionSpec, n_non_embedding: int) -> float:
    """Training matmul FLOPs per token: 6 per non-embedding weight, the output head, and the
    attention products QKᵀ and AV over the causal half of the context."""
    scores = cfg.n_layers * (cfg.context / 2) * spec.n_heads * (spec.qk_head_dim + spec.v_head_dim)
    return 6.0 * (n_non_embedding + cfg.d_model * cfg.vocab_size + scores)


def plan(cfg: MLAConfig) -> pd.DataFrame:
    """Per variant: attention kind, KV-cache elements per token per layer, MLP width, parameter
    counts (of the built model) and their mismatch to MHA, training FLOPs per token."""
    rows = []
    for name, spec in variant_specs(cfg).items():
        with torch.random.fork_rng(devices=[]):
            counts = count_params(build_model(cfg, name, 0))
        rows.append(dict(variant=name, kind=spec.kind, cache_per_token=spec.cache_per_token(),
                         qk_head_dim=spec.qk_head_dim, rope_dim=spec.rope_dim,
                         kv_heads=spec.n_kv_heads if spec.kind == "grouped" else None,
                         kv_lora_rank=spec.kv_lora_rank or None, d_mlp=mlp_width(cfg, spec),
                         params_non_embedding=counts["non_embedding"],
                         params_total=counts["total"],
                         flops_per_token=flops_per_token(cfg, spec, counts["non_embedding"])))
    table = pd.DataFrame(rows)
    mha = table.set_index("variant").loc["mha"]
    table["cache_vs_mha"] = table.cache_per_token / mha.cache_per_token
    table["param_mismatch"] = table.params_non_embedding / mha.params_non_embedding - 1
    table["tokens_per_param"] = cfg.steps * cfg.batch_size * cfg.context / \
        table.params_non_embedding
    return table


def reference_differences(cfg: MLAConfig) -> dict[str, float]:
    """Per variant that `transformers` has (full-RoPE MHA/GQA/MQA: Llama; MLA: dense
    DeepseekV3): the largest |logit difference| of our model to it with the same weights."""
    out = {}
    for name, spec in variant_specs(cfg).items():
        with torch.random.fork_rng(devices=[]):
            diff = reference_difference(spec, cfg.vocab_size, cfg.d_model, cfg.n_layers,
                                        mlp_width(cfg, spec), cfg.context)
        if diff is not None:
            out[name] = diff
    return out


# ------------------------------------------------------------------ data


@dataclass
class Data:
    """The token stream and fixed evaluation windows (each (n, context + 1))."""

    train: torch.Tensor  # (n_tokens,) training stream
    val: torch.Tensor  # windows that select the learning rate and draw the learning curves
    test: torch.Tensor  # windows every verdict is computed on
    unigram_loss: float  # the trivial baseline: cross-entropy of the train unigram on test


def unigram_loss(train: torch.Tensor, windows: torch.Tensor, vocab_size: int) -> float:
    """Test cross-entropy (nats/token) of the add-one-smoothed unigram of the training stream."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0
    logp = (counts / counts.sum()).log()
    return float(-logp[windows[:, 1:]].mean())


_loaded: dict[tuple, Data] = {}  # a kernel's (or worker's) data, shared by its jobs


def load_data(cfg: MLAConfig) -> Data:
    """Tokenize (cached after the first call) and cut the evaluation windows."""
    key = (cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows)
    if key not in _loaded:
        s = token_splits(cfg.corpus, cfg.vocab_size, cfg.context, cfg.eval_windows, test=True)
        _loaded[key] = Data(s.train, s.val, s.test, unigram_loss(s.train, s.test, cfg.vocab_size))
    return _loaded[key]


# ------------------------------------------------------------------ one run


def train_config(cfg: MLAConfig, seed: int, lr: float) -> TrainConfig:
    return TrainConfig(lr=lr, schedule=Schedule("cosine", cfg.warmup_steps, cfg.steps),
                       weight_decay=cfg.weight_decay, eval_every=max(1, cfg.steps // cfg.n_evals),
                       log_every=max(1, cfg.steps // 50), seed=seed)


def train_run(cfg: MLAConfig, name: str, seed: int, lr: float, device="cpu",
              data: Data | None = None, callbacks=()) -> tuple[torch.nn.Module, list[dict]]:
    """Train one variant at one seed and rate: (model, history of train and val losses)."""
    data = data or load_data(cfg)
    model = build_model(cfg, name, seed).to(device)
    trainer = Trainer(model, train_config(cfg, seed, lr),
                      RandomWindows(data.train, cfg.batch_size, cfg.context), data.val, callbacks)
    try:
        trainer.fit(cfg.steps)
    except FloatingPointError:  # a swept rate may diverge: recorded, it then loses the sweep
        trainer.history.append({"step": trainer.step, "val_loss": math.nan})
        return model, trainer.history
    last = [h for h in trainer.history if "val_loss" in h]
    if not last or last[-1]["step"] != cfg.steps:
        trainer.evaluate()  # the endpoint: validation loss at the last step
    return model, trainer.history


def run_job(cfg: MLAConfig, job: dict, device: str = "cpu") -> dict:
    """`run_jobs`' entry point, job {"variant", "seed", "lr"}: the final losses, the learning
    curve and, on the test seeds, the probes' rows."""
    data = load_data(cfg)
    t0 = time.perf_counter()
    model, history = train_run(cfg, job["variant"], job["seed"], job["lr"], device, data)
    train_s = time.perf_counter() - t0
    final_val = history[-1]["val_loss"]
    out = {"row": {"val_loss": final_val, "train_s": train_s}, "history": history}
    if job["seed"] != cfg.tune_seed and math.isfinite(final_val):
        spec = variant_specs(cfg)[job["variant"]]
        out.update(probe(model, job["variant"], spec, cfg, data.test))
        out["row"]["test_loss"] = out.pop("test_loss")
    return out


# ------------------------------------------------------------------ the grid


def tuning_jobs(cfg: MLAConfig) -> list[dict]:
    return [{"variant": v, "seed": cfg.tune_seed, "lr": lr} for v in variant_specs(cfg)
            for lr in cfg.lrs]


def test_jobs(cfg: MLAConfig, lrs: dict[str, float]) -> list[dict]:
    """Seeds outermost, so an interrupted run has whole seeds; MLA (slowest) first in each."""
    names = sorted(variant_specs(cfg), key=lambda v: not v.startswith("mla"))
    return [{"variant": v, "seed": s, "lr": lrs[v]} for s in cfg.seed_list for v in names]


def n_runs(cfg: MLAConfig) -> int:
    return len(variant_specs(cfg)) * (len(cfg.lrs) + cfg.seeds)


def select_lrs(tuning: pd.DataFrame) -> dict[str, float]:
    """Variant -> the swept rate with the lowest final validation loss on the tuning seed (a
    diverged run never wins; a variant whose every rate diverged is an error)."""
    ok = tuning[pd.to_numeric(tuning.val_loss, errors="coerce").notna()]
    missing = set(tuning.variant) - set(ok.variant)
    if missing:
        raise FloatingPointError(f"every swept learning rate diverged for {sorted(missing)}: "
                                 "lower the rates of lrs")
    best = ok.loc[ok.groupby("variant").val_loss.idxmin()]
    return {r.variant: float(r.lr) for r in best.itertuples()}


def runs_folder(cfg: MLAConfig) -> Path:
    """Where the job results live: named by every field that shapes them."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


@dataclass
class Results:
    """Everything the figures and statistics read."""

    table: pd.DataFrame  # one row per test run: variant, seed, rate, final losses, time
    history: pd.DataFrame  # one row per (test run, logged step): train_loss or val_loss
    tuning: pd.DataFrame  # one row per sweep run (tuning seed), `selected` marked
    entropy: pd.DataFrame  # attention entropy per (run, layer, head)
    ranks: pd.DataFrame  # effective rank of what each layer's keys and values derive from
    spectrum: pd.DataFrame  # singular values of the trained MHA's [W_K; W_V] per layer
    truncation: pd.DataFrame  # the trained MHA's test loss with [W_K; W_V] truncated to rank r
    lrs: dict = field(default_factory=dict)  # variant -> selected learning rate
    grids: list[JobResults] = field(default_factory=list)  # the two grids' raw results


def _label(job: dict) -> str:
    return f"{job['variant']} seed={job['seed']} lr={job['lr']:g}"


def _rows(grid: JobResults, key: str) -> pd.DataFrame:
    return pd.DataFrame([{**job, **row} for job, res in zip(grid.jobs, grid, strict=True)
                         for row in res.get(key, [])])


def run_all(cfg: MLAConfig, device="cpu", workers: int = 1, bar=None) -> Results:
    """The sweep, the selection, then every test run (a job recorded by an earlier run with the
    same settings is read back); `workers` > 1 trains that many at once (CPU only)."""
    load_data(cfg)  # tokenizer and token caches once, before any worker reads them
    folder = runs_folder(cfg)
    sweep = run_jobs(run_job, cfg, tuning_jobs(cfg), folder, device, workers, bar, _label)
    tuning = pd.DataFrame([{**j, **r["row"]} for j, r in zip(sweep.jobs, sweep, strict=True)])
    lrs = select_lrs(tuning)
    tuning["selected"] = [lrs[v] == lr for v, lr in zip(tuning.variant, tuning.lr, strict=True)]
    test = run_jobs(run_job, cfg, test_jobs(cfg, lrs), folder, device, workers, bar, _label)
    table = pd.DataFrame([{**j, **r["row"]} for j, r in zip(test.jobs, test, strict=True)])
    return Results(table, _rows(test, "history"), tuning, _rows(test, "entropy"),
                   _rows(test, "ranks"), _rows(test, "spectrum"), _rows(test, "truncation"),
                   lrs, [sweep, test])


def estimate_seconds(cfg: MLAConfig, device="cpu", workers: int = 1, probe_steps: int = 5) -> float:
    """Wall-time estimate of `run_all`: each variant's seconds per step timed here (one thread
    when worker processes will train) times its steps and runs, plus evaluations, over
    `workers`."""
    device = torch.device(device)
    threads = torch.get_num_threads()
    if workers > 1 and device.type == "cpu":
        torch.set_num_threads(1)
    total = 0.0
    try:
        for name in variant_specs(cfg):
            with torch.random.fork_rng(devices=[]):
                model = build_model(cfg, name, 0).to(device)
            x = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.context + 1), device=device)
            trainer = Trainer(model, TrainConfig(log_every=10**9), lambda g, x=x: (x[:, :-1],
                                                                                   x[:, 1:]))
            step_s = seconds_per_step(trainer, probe_steps, warmup=2)
            evals = cfg.n_evals * cfg.eval_windows / cfg.batch_size / 3  # a forward ≈ 1/3 step
            total += step_s * (cfg.steps + evals) * (len(cfg.lrs) + cfg.seeds)
    finally:
        torch.set_num_threads(threads)
    return total / max(1, workers)
