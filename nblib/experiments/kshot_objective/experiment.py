"""Notebook 04's compute: tiny LMs trained with the k-shot loss −log(1 − (1 − p)^k), evaluated
by pass@k, and the baselines a k-shot model must beat.

Two tasks: modular arithmetic (one answer per problem; problems are held-out pairs) and sibling
discovery (many valid answers; a problem is `<q> b1`, its answers the pairs `b2 a` with b2 a
sibling of b1, and a sample counts as correct when it is a valid triplet *not* in the training
set). Each (task, k, seed) job trains one model and samples n answers per problem at T = 1
(`eval.decoding.generate`). On the one-answer task every model is also evaluated exactly (pass@k
= 1 − (1 − p)^k from its probability p of the answer) at `n_evals` log-spaced checkpoints, under
every sampling temperature of `FRONTIER_TEMPERATURES` and every mixture with a uniform guess of
`FRONTIER_MIXTURES`; label-smoothed cross-entropy models (jobs with `smoothing` > 0) are trained
for that task only, as baselines. Jobs run through `train.grid.run_jobs`, recorded one by one, so
a run resumes. Statistics, verdicts and the exact scoring-rule analysis live in `analysis`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.tasks import creativity
from nblib.data.tasks.modular import ModularTask
from nblib.env import derive_seed
from nblib.eval.decoding import generate
from nblib.eval.passk import pass_at_k, pass_at_k_exact
from nblib.models.lm import build_lm, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.batches import TaskExamples
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import JobResults, run_jobs
from nblib.train.objectives import kshot_loss, label_smoothed_loss
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

SLUG = "04_kshot_objective"
TASKS = ("modular", "sibling")
CONTEXT = 16  # model context in tokens: every prompt + answer of both tasks fits
SAMPLE_BATCH = 8192  # rows decoded at once (part of what a sampling seed reproduces)
# sampling-time transforms of a model evaluated exactly on the one-answer task: temperatures
# 2^−2 … 2^3 (quarter octaves, 1 included) and mixtures (1 − ε)·p + ε·uniform answer, ε = 0 … 1
FRONTIER_TEMPERATURES = tuple(float(2.0**e) for e in np.arange(-2.0, 3.01, 0.25))
FRONTIER_MIXTURES = tuple(float(e) for e in np.linspace(0.0, 1.0, 41))


@dataclass
class Problems:
    """One task at one seed: training rows, evaluation prompts, and how samples are graded."""

    task: str  # "modular" or "sibling"
    vocab_size: int  # tokens the model needs
    sequences: torch.Tensor  # (n_train, length) training rows
    answer_mask: torch.Tensor  # (n_train, length) True on the tokens the loss is on
    prompts: torch.Tensor  # (P, prompt_len) evaluation prompts
    answer_len: int  # tokens sampled per answer
    grade: object  # samples (P, n, answer_len) -> {"correct": (P, n) bool, ...} plus coverage
    chance: np.ndarray  # (P,) probability that one uniform guess over well-formed answers is right
    mirrored: np.ndarray | None = None  # (P,) modular: is b + a trained while a + b is held out


def modular_problems(cfg, seed: int) -> Problems:
    """Held-out pairs of a + b mod p: exactly one correct answer each."""
    task = ModularTask(cfg.modulus, cfg.train_fraction, split_seed=seed)
    train, heldout = task.split()
    order = torch.randperm(len(heldout), generator=torch.Generator().manual_seed(seed))
    pairs = heldout[order[:cfg.eval_problems]]  # (P, 2)
    seqs, mask = task.sequences(train)
    trained = {tuple(pair) for pair in train.tolist()}
    mirrored = np.array([(b, a) in trained for a, b in pairs.tolist()])  # (P,)

    def grade(samples: torch.Tensor) -> dict:
        correct = task.is_correct(pairs, samples[..., 0]).numpy()  # (P, n)
        return {"correct": correct, "valid": correct}

    chance = np.full(len(pairs), 1.0 / cfg.modulus)  # a uniform guess among the p answers
    return Problems("modular", task.vocab_size, seqs, mask, task.prompts(pairs), 1, grade,
                    chance, mirrored)


def sibling_problems(cfg, seed: int) -> Problems:
    """Sibling discovery without a hash: a problem is `<q> b1`; a sample `b2 a </a>` is valid when
    (a, b1, b2) is a sibling triplet and correct when it is valid and not a training triplet."""
    task = creativity.Sibling(cfg.n_parents, cfg.n_children)
    data = creativity.split(task, cfg.sibling_train, seed=seed, hash_lengths=(0,))
    vocab, seen = data.vocab, data.train_set
    seqs, mask = creativity.encode(vocab, data.train)
    firsts = sorted({obj[1] for obj in data.train_objects})  # b1 tokens seen in training
    order = torch.randperm(len(firsts), generator=torch.Generator().manual_seed(seed))
    b1s = [firsts[i] for i in order[:cfg.eval_problems].tolist()]
    prompts = torch.tensor([vocab.encode([creativity.QUERY, b1]) for b1 in b1s])  # (P, 2)
    n_valid = cfg.n_children  # pairs (b2, a) valid for a given b1
    unseen = np.array([n_valid - sum(1 for a, b, _ in seen if b == b1) for b1 in b1s])  # (P,)

    def grade(samples: torch.Tensor) -> dict:
        P, n, _ = samples.shape
        valid, novel = np.zeros((P, n), bool), np.zeros((P, n), bool)
        found, found_new = np.zeros(P), np.zeros(P)
        for i, b1 in enumerate(b1s):
            objects = set()
            for j, row in enumerate(samples[i].tolist()):
                b2, a, end = vocab.decode(row)
                obj = task.canonical((b1, b2, a)) if end == creativity.EOS else None
                valid[i, j] = obj is not None
                novel[i, j] = valid[i, j] and obj not in seen
                if obj is not None:
                    objects.add(obj)
            found[i], found_new[i] = len(objects), len(objects - seen)
        return {"correct": novel, "valid": valid, "coverage": found / n_valid,
                "novel_coverage": found_new / np.maximum(unseen, 1)}

    # a uniform guess `b2 a` over the set-2 children and the parents: right when new and valid
    chance = unseen / (cfg.n_parents**2 * cfg.n_children)  # (P,)
    return Problems("sibling", len(vocab), seqs, mask, prompts, 3, grade, chance)


def problems(cfg, task: str, seed: int) -> Problems:
    return {"modular": modular_problems, "sibling": sibling_problems}[task](cfg, seed)


@torch.no_grad()
def next_token_probs(model, prompts: torch.Tensor) -> torch.Tensor:
    """(P, vocab) distribution of the first answer token after each prompt."""
    device = next(model.parameters()).device
    logits_PxV = model(input_ids=prompts.to(device)).logits[:, -1].float()
    return torch.softmax(logits_PxV, -1).cpu()


def sample_answers(model, prompts: torch.Tensor, n: int, length: int, temperature: float,
                   generator: torch.Generator) -> torch.Tensor:
    """(P, n, length) answers: `n` per prompt, sampled token by token at `temperature` by the one
    sampler (`eval.decoding.generate`, multinomial on the CPU generator, so any device gives the
    same samples for a seed up to float differences in the logits)."""
    rows = prompts.repeat_interleave(n, 0)  # (P·n, prompt_len)
    out = generate(model, rows, length, temperature, generator, batch_size=SAMPLE_BATCH,
                   sampler="multinomial")  # (P·n, length)
    return out.view(len(prompts), n, length)


def objective(k: int, smoothing: float = 0.0):
    """The training loss on answer tokens: the k-shot loss (k = 1: cross-entropy), or
    label-smoothed cross-entropy when `smoothing` > 0 (then k must be 1)."""
    if smoothing:
        if k != 1:
            raise ValueError(f"k={k} with smoothing={smoothing}: label smoothing is a "
                             "cross-entropy (k = 1) baseline")
        return functools.partial(label_smoothed_loss, smoothing=smoothing)
    return functools.partial(kshot_loss, k=k)


def make_trainer(cfg, probs: Problems, k: int, seed: int, device: str = "cpu",
                 smoothing: float = 0.0) -> Trainer:
    """A fresh model and its trainer for the task's answer tokens (warmup, cosine decay)."""
    model = build_lm(shape_of(cfg, vocab_size=probs.vocab_size, context=CONTEXT), seed=seed)
    schedule = Schedule("cosine", cfg.warmup_steps, cfg.steps, final_ratio=cfg.final_lr_ratio)
    train_cfg = TrainConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, schedule=schedule,
                            seed=seed, log_every=max(1, cfg.steps // 50))
    return Trainer(model.to(device), train_cfg,
                   TaskExamples(probs.sequences, probs.answer_mask, cfg.batch_size),
                   objective=objective(k, smoothing))


def train_model(cfg, probs: Problems, k: int, seed: int, device: str = "cpu") -> tuple:
    """One model trained with the k-shot loss for `steps`; (model, trainer)."""
    trainer = make_trainer(cfg, probs, k, seed, device)
    return trainer.model, trainer.fit(cfg.steps)


def eval_steps(cfg) -> list[int]:
    """`n_evals` log-spaced checkpoints, doubling up to `steps` (the last is `steps`)."""
    return geometric_steps(cfg.steps, cfg.n_evals, first=cfg.steps / 2 ** (cfg.n_evals - 1))


def answer_probability(model, probs: Problems) -> torch.Tensor:
    """One-answer tasks: (P, vocab) first-answer-token distributions and (P, vocab) booleans,
    True on each problem's right answer token."""
    dist = next_token_probs(model, probs.prompts)  # (P, vocab)
    tokens = torch.arange(dist.shape[1]).expand(len(dist), -1)[..., None]  # (P, vocab, 1)
    return dist, torch.as_tensor(probs.grade(tokens)["correct"])


def exact_transforms(cfg, model, probs: Problems, step: int) -> list[dict]:
    """One-answer tasks: `transform_rows` of the model at this step."""
    model.eval()
    dist, right = answer_probability(model, probs)  # (P, vocab) each
    model.train()
    return transform_rows(dist, right, probs.chance, cfg.pass_ks, step)


def transform_rows(dist: torch.Tensor, right: torch.Tensor, chance: np.ndarray, pass_ks,
                   step: int) -> list[dict]:
    """The exact pass@k (mean over problems) of answer distributions `dist` (P, vocab), whose
    right answers are True in `right` (P, vocab), under every temperature of
    FRONTIER_TEMPERATURES and every uniform mixture of FRONTIER_MIXTURES. A mixture
    (1 − ε)·p + ε·u samples the model with probability 1 − ε and a uniform answer otherwise, so
    its success probability is (1 − ε)·p_right + ε·chance (chance: (P,))."""
    log_dist, rows = dist.clamp_min(1e-30).log(), []

    def row(sampling: str, setting: float, p_right: np.ndarray) -> dict:
        exact = pass_at_k_exact(np.clip(p_right, 0.0, 1.0), pass_ks).mean(-1)  # (len(pass_ks),)
        return {"step": step, "sampling": sampling, "setting": setting,
                "pass": dict(zip(map(str, pass_ks), exact.tolist(), strict=True))}

    for temperature in FRONTIER_TEMPERATURES:
        hot = torch.softmax(log_dist / temperature, -1)  # (P, vocab)
        rows.append(row("temperature", temperature, (hot * right).sum(-1).numpy()))
    p_right = (dist * right).sum(-1).numpy()  # (P,)
    for eps in FRONTIER_MIXTURES:
        rows.append(row("mixture", eps, (1 - eps) * p_right + eps * chance))
    return rows


def _by_pass_k(cfg, values: np.ndarray) -> dict[str, float]:
    return dict(zip(map(str, cfg.pass_ks), values.mean(-1).tolist(), strict=True))


def evaluate(cfg, model, probs: Problems, seed: int, temperature: float = 1.0) -> dict:
    """pass@k (unbiased, from `samples` answers per problem), per-problem correct counts, first
    answer token's top-1 probability and entropy (nats), and coverage where the task has it."""
    model.eval()
    dist = next_token_probs(model, probs.prompts)  # (P, vocab)
    if temperature != 1.0:
        dist = torch.softmax(dist.clamp_min(1e-30).log() / temperature, -1)
    gen = torch.Generator().manual_seed(derive_seed(seed, "answers"))  # every temperature
    samples = sample_answers(model, probs.prompts, cfg.samples, probs.answer_len, temperature, gen)
    graded = probs.grade(samples)
    c, v = graded["correct"].sum(1), graded["valid"].sum(1)  # (P,)
    out = {"temperature": temperature,
           "pass": _by_pass_k(cfg, pass_at_k(cfg.samples, c, cfg.pass_ks)),
           "pass_valid": _by_pass_k(cfg, pass_at_k(cfg.samples, v, cfg.pass_ks)),
           "pass_chance": _by_pass_k(cfg, pass_at_k_exact(probs.chance, cfg.pass_ks)),
           "correct_counts": c.tolist(),
           "top1": dist.max(-1).values.tolist(),
           "entropy": (-(dist * dist.clamp_min(1e-30).log()).sum(-1)).tolist()}
    for key in ("coverage", "novel_coverage"):
        if key in graded:
            out[key] = float(np.mean(graded[key]))
    if probs.answer_len == 1:  # one-token answers: the exact pass@k and the argmax's correctness
        tokens = torch.arange(dist.shape[1]).expand(len(dist), -1)[..., None]  # (P, vocab, 1)
        p_correct = (dist * torch.as_tensor(probs.grade(tokens)["correct"])).sum(-1)  # (P,)
        out["pass_exact"] = _by_pass_k(cfg, pass_at_k_exact(p_correct.numpy(), cfg.pass_ks))
        out["p_correct"] = p_correct.tolist()
        top = dist.argmax(-1).view(-1, 1, 1)  # (P, 1, 1)
        out["top1_correct"] = probs.grade(top)["correct"][:, 0].tolist()
    if probs.mirrored is not None:
        out["mirrored"] = probs.mirrored.tolist()
    return out


def run_job(cfg, job: dict, device: str = "cpu") -> dict:
    """Train one (task, k, smoothing, seed) model. On a one-answer task evaluate it exactly at
    every checkpoint of `eval_steps` under every frontier transform ("trajectory"). A k-shot
    model (smoothing 0) is then sampled at T = 1 (and, for k = 1, at the extra temperatures).
    JSON-able."""
    start = time.perf_counter()
    probs = problems(cfg, job["task"], job["seed"])
    trainer = make_trainer(cfg, probs, job["k"], job["seed"], device, job["smoothing"])
    trajectory = []
    for step in eval_steps(cfg):
        trainer.fit(step)
        if probs.answer_len == 1:
            trajectory += exact_transforms(cfg, trainer.model, probs, step)
    temps = [1.0] + (list(cfg.ntp_temperatures) if job["k"] == 1 else [])
    evals = ([] if job["smoothing"] else
             [evaluate(cfg, trainer.model, probs, job["seed"], t) for t in temps])
    losses = [h["train_loss"] for h in trainer.history if "train_loss" in h]
    return {"evals": evals, "trajectory": trajectory, "final_loss": losses[-1],
            "train_loss": losses, "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Where each job's result is recorded: keyed by every field that shapes training or
    evaluation (`cache_key`), so no other setting ever reads them."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def jobs(cfg) -> list[dict]:
    """Every (task, k, seed) k-shot model (smoothing 0), then the label-smoothed cross-entropy
    baselines (k = 1) of the headline task."""
    kshot = [{"task": t, "k": k, "smoothing": 0.0, "seed": s} for t in cfg.tasks
             for s in cfg.seed_list for k in cfg.ks]
    smoothed = [{"task": cfg.tasks[0], "k": 1, "smoothing": a, "seed": s}
                for s in cfg.seed_list for a in cfg.label_smoothing]
    return kshot + smoothed


def model_name(job: dict) -> str:
    """How a model is named in tables and figures: "k=4", or "LS 0.1" (label-smoothed CE)."""
    return f"LS {job['smoothing']:g}" if job["smoothing"] else f"k={job['k']}"


def tables(results: JobResults) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(curves, per_problem, trajectory): one row per k-shot model's (task, k, seed, temperature,
    pass k) with sampled pass@k; one row per evaluated problem (T = 1) with its top-1 probability,
    entropy, correct count (and, one-answer tasks, exact p of the answer and the mirror flag); one
    row per model, checkpoint, transform and pass k with the exact pass@k (one-answer tasks)."""
    curves, per_problem, trajectory = [], [], []
    for job, res in zip(results.jobs, results, strict=True):
        name = model_name(job)
        trajectory += [{**job, "model": name, "step": row["step"], "sampling": row["sampling"],
                        "setting": row["setting"], "pass_k": int(kk), "pass": v}
                       for row in res["trajectory"] for kk, v in row["pass"].items()]
        for ev in res["evals"]:
            cond = {**job, "temperature": ev["temperature"], "final_loss": res["final_loss"]}
            extra = {key: ev[key] for key in ("coverage", "novel_coverage") if key in ev}
            for kk, value in ev["pass"].items():
                exact = ev.get("pass_exact", {}).get(kk, float("nan"))
                curves.append({**cond, "pass_k": int(kk), "pass": value,
                               "pass_valid": ev["pass_valid"][kk], "pass_exact": exact,
                               "pass_chance": ev["pass_chance"][kk], **extra})
            if ev["temperature"] == 1.0:
                none = [None] * len(ev["top1"])
                columns = zip(ev["top1"], ev["entropy"], ev["correct_counts"],
                              ev.get("top1_correct", none), ev.get("p_correct", none),
                              ev.get("mirrored", none), strict=True)
                per_problem += [{**job, "problem": i, "top1": t, "entropy": h, "correct": c,
                                 "top1_correct": g, "p_correct": p, "mirrored": m}
                                for i, (t, h, c, g, p, m) in enumerate(columns)]
    return pd.DataFrame(curves), pd.DataFrame(per_problem), pd.DataFrame(trajectory)


def run_all(cfg, device="cpu", workers: int = 1, bar=None
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Every job; returns (curves, per_problem, trajectory, seconds per job): see `tables`."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"{job['task']} {model_name(job)} seed={job['seed']}")
    curves, per_problem, trajectory = tables(results)
    seconds = {f"{j['task']}-{model_name(j).replace(' ', '')}-seed{j['seed']}":
               round(r["seconds"], 1) for j, r in zip(results.jobs, results, strict=True)}
    return curves, per_problem, trajectory, seconds


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: a few timed training steps and one timed sampling
    batch per task on this machine, scaled to every job (throwaway models; nothing recorded)."""
    per_job = {}
    for task in cfg.tasks:
        probs = problems(cfg, task, cfg.first_seed)
        model = build_lm(shape_of(cfg, vocab_size=probs.vocab_size, context=CONTEXT)).to(device)
        trainer = Trainer(model, TrainConfig(lr=cfg.lr, seed=0),
                          TaskExamples(probs.sequences, probs.answer_mask, cfg.batch_size),
                          objective=functools.partial(kshot_loss, k=max(cfg.ks)))
        train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
        rows = min(len(probs.prompts) * cfg.samples, 512)
        start = time.perf_counter()
        sample_answers(model, probs.prompts[:1], rows, probs.answer_len, 1.0,
                       torch.Generator().manual_seed(0))
        sample_s = (time.perf_counter() - start) * len(probs.prompts) * cfg.samples / rows
        temps = 1 + len(cfg.ntp_temperatures) / len(cfg.ks)  # k = 1 also samples hotter
        per_job[task] = train_s + sample_s * temps
    n_seed_k = len(cfg.seed_list) * len(cfg.ks)
    smoothed = len(cfg.seed_list) * len(cfg.label_smoothing) * per_job[cfg.tasks[0]]
    return float((sum(per_job.values()) * n_seed_k + smoothed) / max(1, workers))  # 1 on a GPU
