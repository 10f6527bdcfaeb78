"""Notebook 08's compute: one job per (width, seed).

1. Pretrain a tiny Llama from scratch on answer-masked traces of training-range problems, each
   trace linear or binary with probability `binary_share` (warmup, cosine to a tenth). Every
   width of a seed reads the same data stream, for the same steps, on the same schedule.
2. GRPO (`nblib.train.grpo`, batches from `rollouts`) from the pretrained model: the same
   configuration and, given the seed, the same training prompts for every width.
3. At RL step 0 (the pretrained model: the model that never moves) and at evenly spaced RL
   checkpoints, measure every evaluation problem (`eval_per_b` per exponent of both ranges, the
   same set for every job): the exact probability of the binary tag as the first token, a greedy
   completion, a greedy completion forced to each algorithm (its tag given), and `eval_samples`
   completions at T = 1 (the policy RL trains), each graded and classified. The weights of every
   checkpoint are saved for the widget.

Jobs run through `train.grid.run_jobs`, each recorded the moment it finishes (a rerun resumes).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.tasks.modexp import TAGS, ModExpTask, n_steps
from nblib.env import derive_seed
from nblib.eval.decoding import generate
from nblib.eval.passk import pass_at_k
from nblib.experiments.more_is_different import SLUG
from nblib.experiments.more_is_different.rollouts import Rollouts
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import CheckpointStore
from nblib.train.grid import JobResults, run_jobs
from nblib.train.grpo import frozen_copy, grpo_loss_fn
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

EVAL_BATCH = 4096  # rows decoded at once (part of what a sampling seed reproduces)
CLASSES = ("linear", "binary", "other")


def checkpoint_steps(cfg) -> list[int]:
    """RL step 0 (the pretrained model) and `rl_checkpoints` evenly spaced steps to rl_steps."""
    return [0] + [int(round(cfg.rl_steps * (i + 1) / cfg.rl_checkpoints))
                  for i in range(cfg.rl_checkpoints)]


def jobs(cfg) -> list[dict]:
    return [{"width": w, "seed": s} for w in cfg.widths for s in cfg.seed_list]


def eval_problems(cfg, task: ModExpTask) -> tuple[torch.Tensor, list[str]]:
    """(n, 3) problems, `eval_per_b` for every b of both ranges (a and c drawn once, seed 0),
    and each one's split."""
    gen = torch.Generator().manual_seed(derive_seed(0, "eval-problems"))
    rows, splits = [], []
    for split in ("train", "test"):
        lo, hi = task.b_range(split)
        for b in range(lo, hi + 1):
            for _ in range(cfg.eval_per_b):
                c = task.moduli[int(torch.randint(len(task.moduli), (1,), generator=gen))]
                a = int(torch.randint(1, c, (1,), generator=gen))
                rows.append([a, b, c])
                splits.append(split)
    return torch.tensor(rows, dtype=torch.long), splits


def make_pretrainer(cfg, task: ModExpTask, width: int, seed: int, device="cpu") -> Trainer:
    model = build_lm(shape_of(cfg, d_model=width, vocab_size=task.vocab.size,
                              context=task.max_len), seed=derive_seed(seed, "init"))
    schedule = Schedule("cosine", cfg.warmup_steps, cfg.pretrain_steps, final_ratio=0.1)
    train_cfg = TrainConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, schedule=schedule,
                            seed=derive_seed(seed, "data"),
                            log_every=max(1, cfg.pretrain_steps // 100))
    return Trainer(model.to(device), train_cfg, task.batches(cfg.batch_size, cfg.binary_share))


def make_rl_trainer(cfg, task: ModExpTask, model, seed: int) -> tuple[Trainer, Rollouts]:
    """The GRPO Trainer on `model` (trained in place) and its rollouts (whose log it fills)."""
    rollouts = Rollouts(task, model, cfg.prompts_per_step, cfg.group_size,
                        derive_seed(seed, "rl-prompts"), cfg.advantage, cfg.length_cost)
    reference = frozen_copy(model) if cfg.kl_coef > 0 else None
    train_cfg = TrainConfig(lr=cfg.rl_lr, weight_decay=0.0,
                            schedule=Schedule("constant", cfg.rl_warmup_steps, cfg.rl_steps),
                            seed=derive_seed(seed, "rl-samples"), log_every=1)
    loss = grpo_loss_fn(task.prompt_len, cfg.loss_norm, reference, cfg.kl_coef)
    return Trainer(model, train_cfg, rollouts, loss_fn=loss), rollouts


def _graded(task, problems, completions) -> dict:
    g = task.grade(problems, completions)
    return {"correct": g["reward"].bool().tolist(), "algorithm": g["algorithm"],
            "length": g["length"].tolist()}


@torch.no_grad()
def evaluate(cfg, model, task: ModExpTask, problems: torch.Tensor, seed: int, step: int) -> dict:
    """One checkpoint on the evaluation problems (n, 3): per problem, P(binary tag first), the
    greedy completion (correct, algorithm, length), greedy correctness forced to each algorithm,
    and counts over `eval_samples` completions at T = 1 (correct, each algorithm, mean length)."""
    device = next(model.parameters()).device
    prompts = task.prompts(problems).to(device)  # (n, Tp)
    n_new, stop, pad = task.max_completion_len("test"), task.vocab.stop_id, task.vocab.pad_id
    was_training = model.training
    model.eval()
    first = torch.softmax(model(input_ids=prompts).logits[:, -1].float(), -1)  # (n, V)
    model.train(was_training)
    out = {"step": step, "p_binary": first[:, TAGS["binary"]].tolist()}
    greedy = generate(model, prompts, n_new, stop_id=stop, pad_id=pad, batch_size=EVAL_BATCH,
                      cached=True)  # (n, n_new)
    out["greedy"] = _graded(task, problems, greedy)
    for name, tag in TAGS.items():
        tagged = torch.cat([prompts, torch.full((len(prompts), 1), tag, device=device)], 1)
        done = generate(model, tagged, n_new - 1, stop_id=stop, pad_id=pad,
                        batch_size=EVAL_BATCH, cached=True)  # (n, n_new - 1)
        done = torch.cat([tagged[:, -1:].cpu(), done], 1)  # (n, n_new)
        out[f"forced_{name}"] = _graded(task, problems, done)["correct"]
    gen = torch.Generator().manual_seed(derive_seed(seed, "eval-samples", step))
    s = cfg.eval_samples
    drawn = generate(model, prompts.repeat_interleave(s, 0), n_new, 1.0, gen, stop_id=stop,
                     pad_id=pad, batch_size=EVAL_BATCH, cached=True)  # (n·s, n_new)
    g = _graded(task, problems.repeat_interleave(s, 0), drawn)
    by_problem = [range(i * s, (i + 1) * s) for i in range(len(problems))]
    out["samples"] = {
        "correct": [sum(g["correct"][j] for j in rows) for rows in by_problem],
        **{a: [Counter(g["algorithm"][j] for j in rows)[a] for rows in by_problem]
           for a in CLASSES},
        "length": [float(np.mean([g["length"][j] for j in rows])) for rows in by_problem]}
    return out


def store_for(cfg, width: int, seed: int) -> CheckpointStore:
    """The RL checkpoints of one (width, seed), keyed by every field that shapes training."""
    return CheckpointStore(checkpoints_dir(SLUG, cache_key(cfg, "train"), f"d{width}-seed{seed}"))


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Pretrain, then GRPO one (width, seed), evaluating and saving every RL checkpoint."""
    start = time.perf_counter()
    task = cfg.task()
    problems, _ = eval_problems(cfg, task)
    pre = make_pretrainer(cfg, task, job["width"], job["seed"], device)
    pre.fit(cfg.pretrain_steps)
    pretrain_s = time.perf_counter() - start
    rl, rollouts = make_rl_trainer(cfg, task, pre.model, job["seed"])
    store, evals = store_for(cfg, job["width"], job["seed"]), []
    for step in checkpoint_steps(cfg):
        rl.fit(step)
        evals.append(evaluate(cfg, rl.model, task, problems, job["seed"], step))
        store.save(rl.model, step, {**job, "pretrain_steps": cfg.pretrain_steps})
    return {"evals": evals, "rl_log": rollouts.log,
            "pretrain_loss": [h["train_loss"] for h in pre.history if "train_loss" in h],
            "rl_loss": [h["train_loss"] for h in rl.history if "train_loss" in h],
            "params": count_params(rl.model)["total"], "pretrain_seconds": pretrain_s,
            "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Job results keyed by every field that shapes training or evaluation."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


@dataclass(frozen=True)
class Results:
    """Every job's checkpoints as tables."""

    problems: pd.DataFrame  # one row per evaluation problem: a, b, c, split, steps of each
    per_problem: pd.DataFrame  # one row per (width, seed, step, problem): every measurement
    curves: pd.DataFrame  # one row per (width, seed, step, split): accuracies, shares, pass@k
    rl_log: pd.DataFrame  # one row per (width, seed, RL step): reward and shares of the samples
    pretrain_loss: pd.DataFrame  # one row per (width, seed, logged step): pretraining loss
    steps: list[int]  # the RL checkpoint steps, 0 (pretrained) first
    params: dict  # width -> total parameters
    seconds: dict  # job label -> wall seconds


def problem_table(cfg) -> pd.DataFrame:
    task = cfg.task()
    problems, splits = eval_problems(cfg, task)
    t = pd.DataFrame(problems.numpy(), columns=["a", "b", "c"]).assign(split=splits)
    t["answer"] = task.answers(problems).numpy()
    for alg in TAGS:
        t[f"steps_{alg}"] = [n_steps(int(b), alg) for b in t.b]
    return t.rename_axis("problem").reset_index()


def _rows(job: dict, e: dict, problems: pd.DataFrame) -> pd.DataFrame:
    g, s = e["greedy"], e["samples"]
    return problems[["problem", "b", "split"]].assign(
        **job, step=e["step"], p_binary=e["p_binary"], greedy=g["correct"],
        greedy_algorithm=g["algorithm"], greedy_length=g["length"],
        forced_linear=e["forced_linear"], forced_binary=e["forced_binary"],
        correct=s["correct"], **{f"n_{a}": s[a] for a in CLASSES}, length=s["length"])


def aggregate(per_problem: pd.DataFrame, cfg) -> pd.DataFrame:
    """Per (width, seed, step, split): sampled accuracy and algorithm shares, greedy accuracy and
    shares, mean P(binary tag), forced-algorithm accuracies, mean length, pass@k."""
    s, rows = cfg.eval_samples, []
    for key, g in per_problem.groupby(["width", "seed", "step", "split"], sort=True):
        passk = pass_at_k(s, g.correct.to_numpy(), cfg.pass_ks).mean(-1)  # (K,)
        rows.append({
            **dict(zip(["width", "seed", "step", "split"], key, strict=True)),
            "accuracy": g.correct.sum() / (s * len(g)), "greedy": g.greedy.mean(),
            **{f"share_{a}": g[f"n_{a}"].sum() / (s * len(g)) for a in CLASSES},
            **{f"greedy_{a}": (g.greedy_algorithm == a).mean() for a in CLASSES},
            "p_binary": g.p_binary.mean(), "forced_linear": g.forced_linear.mean(),
            "forced_binary": g.forced_binary.mean(), "length": g.length.mean(),
            **{f"pass{k}": float(v) for k, v in zip(cfg.pass_ks, passk, strict=True)}})
    return pd.DataFrame(rows)


def tables(cfg, results: JobResults) -> Results:
    problems = problem_table(cfg)
    per, logs, losses, params = [], [], [], {}
    for job, res in zip(results.jobs, results, strict=True):
        per += [_rows(job, e, problems) for e in res["evals"]]
        logs += [{**job, "rl_step": i + 1, **row} for i, row in enumerate(res["rl_log"])]
        every = max(1, cfg.pretrain_steps // 100)
        losses += [{**job, "step": min((i + 1) * every, cfg.pretrain_steps), "loss": v}
                   for i, v in enumerate(res["pretrain_loss"])]
        params[job["width"]] = res["params"]
    per_problem = pd.concat(per, ignore_index=True)
    seconds = {f"d{j['width']}-seed{j['seed']}": round(r["seconds"], 1)
               for j, r in zip(results.jobs, results, strict=True)}
    return Results(problems, per_problem, aggregate(per_problem, cfg), pd.DataFrame(logs),
                   pd.DataFrame(losses), checkpoint_steps(cfg), params, seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every (width, seed) job, trained or read back from the record."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda j: f"d={j['width']} seed={j['seed']}")
    return tables(cfg, results)


def baselines(cfg) -> dict:
    """Accuracies that need no model, per split of the evaluation problems: a blind guess of a
    residue (1/c, averaged over the problems' moduli) and the best constant answer (the most
    frequent answer of the split, chosen on the evaluation problems themselves)."""
    t, out = problem_table(cfg), {}
    for split, g in t.groupby("split"):
        out[f"chance_{split}"] = float((1.0 / g.c).mean())
        out[f"constant_{split}"] = float(g.answer.value_counts().iloc[0] / len(g))
    return out


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: per width, timed pretraining steps, GRPO steps and one
    evaluation on a throwaway untrained model, scaled to every job in rounds of `workers`. An
    untrained model never stops before the longest completion, so the GRPO and evaluation parts
    are upper bounds."""
    task, per_job = cfg.task(), []
    problems, _ = eval_problems(cfg, task)
    for width in cfg.widths:
        pre = make_pretrainer(cfg, task, width, 0, device)
        pre_s = seconds_per_step(pre, steps=3, warmup=1) * cfg.pretrain_steps
        rl, _ = make_rl_trainer(cfg, task, pre.model, 0)
        rl_s = seconds_per_step(rl, steps=1, warmup=1) * cfg.rl_steps
        start = time.perf_counter()
        evaluate(cfg, pre.model, task, problems, 0, 0)
        eval_s = (time.perf_counter() - start) * len(checkpoint_steps(cfg))
        per_job += [pre_s + rl_s + eval_s] * cfg.seeds
    rounds = math.ceil(len(per_job) / max(1, workers))  # a GPU runs one job at a time
    return float(rounds * np.mean(per_job))
