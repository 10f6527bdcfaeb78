"""Notebook 04: tiny LMs trained with the k-shot loss −log(1 − (1 − p)^k), evaluated by pass@k.

Two tasks: modular arithmetic (one answer per problem; problems are held-out pairs) and sibling
discovery (many valid answers; a problem is `<q> b1`, its answers the pairs `b2 a` with b2 a
sibling of b1, and a sample counts as correct when it is a valid triplet *not* in the training
set). Each (task, k, seed) job trains one model and samples n answers per problem at T = 1; jobs
run in parallel processes and are recorded one by one (`nblib.train.grid`), so a run resumes.
Statistics and verdicts live in `kshot_analysis`, the scoring-rule analysis in `kshot_theory`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.tasks import creativity
from nblib.data.tasks.modular import ModularTask
from nblib.eval.passk import pass_at_k, pass_at_k_exact
from nblib.models.lm import LMShape, build_lm
from nblib.paths import checkpoints_dir
from nblib.train.batches import TaskExamples
from nblib.train.grid import run_jobs
from nblib.train.objectives import kshot_loss
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "04_kshot_objective"
TASKS = ("modular", "sibling")
RESULT_FIELDS = ("modulus", "train_fraction", "n_parents", "n_children", "sibling_train", "d_model",
                 "n_layers", "n_heads", "steps", "batch_size", "lr", "weight_decay", "warmup_steps",
                 "eval_problems", "samples", "pass_ks", "ntp_temperatures")  # a job adds task, k, seed


@dataclass(frozen=True)
class KshotConfig:
    """Parameters of notebook 04 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds (data split, initialisation, data order) per condition",
                       low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    tasks: list[str] = param(["modular", "sibling"], "tasks trained on (the first one is the headline)")
    ks: list[int] = param([1, 4, 16, 64], "k of the training loss −log(1 − (1 − p)^k); 1 is next-token CE",
                          item_low=1, item_high=4096)
    modulus: int = param(23, "modular task: p of a + b mod p", low=3, high=1000)
    train_fraction: float = param(0.4, "modular task: share of the p² pairs trained on", low=0.05, high=0.95)
    n_parents: int = param(5, "sibling task: parents", low=1, high=1000)
    n_children: int = param(40, "sibling task: children per parent in each of the two sets", low=2, high=10000)
    sibling_train: int = param(2000, "sibling task: distinct training triplets", low=10, high=10**7)
    d_model: int = param(64, "model width", low=8, high=8192)
    n_layers: int = param(2, "transformer blocks", low=1, high=64)
    n_heads: int = param(4, "attention heads", low=1, high=64)
    steps: int = param(1200, "optimizer steps per model", low=10, high=10**7)
    batch_size: int = param(64, "sequences per optimizer step", low=1, high=65536)
    lr: float = param(3e-3, "peak learning rate (AdamW, cosine to 10%)", low=1e-6, high=1.0)
    weight_decay: float = param(0.1, "AdamW weight decay on matrices", low=0.0, high=10.0)
    warmup_steps: int = param(50, "linear warmup steps", low=0, high=10**6)
    eval_problems: int = param(128, "problems per task and seed that pass@k is measured on", low=2, high=10**6)
    samples: int = param(64, "n: answers sampled per problem at T = 1 (pass@k needs n ≥ k)", low=1, high=10**5)
    pass_ks: list[int] = param([1, 2, 4, 8, 16, 32, 64], "k values of pass@k", item_low=1, item_high=10**5)
    ntp_temperatures: list[float] = param([1.5, 2.0], "extra sampling temperatures of the k = 1 model "
                                          "(is the k-shot model just a hotter NTP model?)",
                                          item_low=0.05, item_high=100.0)
    theory_classes: int = param(8, "scoring-rule analysis: classes of the target distribution q", low=2, high=1000)
    theory_zipf: list[float] = param([1.0, 0.5, 2.0, 3.0], "scoring-rule analysis: targets q_i ∝ i^−zipf "
                                     "(the first is drawn)", item_low=0.0, item_high=10.0)
    theory_ks: list[int] = param([1, 2, 4, 16, 64], "scoring-rule analysis: k values", item_low=1, item_high=10**4)
    workers: int = param(2, "training runs at once (processes, CPU only)", low=1, high=64)

    def check(self) -> None:
        if not self.tasks or any(t not in TASKS for t in self.tasks) or len(set(self.tasks)) < len(self.tasks):
            raise ConfigError(f"tasks={self.tasks}: use distinct names from {list(TASKS)}")
        if 1 not in self.ks or len(self.ks) < 2 or len(set(self.ks)) < len(self.ks):
            raise ConfigError(f"ks={self.ks}: need k = 1 (the NTP baseline) and at least one k > 1, no repeats")
        if max(self.pass_ks) > self.samples or 1 not in self.pass_ks:
            raise ConfigError(f"pass_ks={self.pass_ks}, samples={self.samples}: pass@k needs k = 1 and every "
                              f"k ≤ samples (the unbiased estimator never extrapolates)")
        LMShape(d_model=self.d_model, n_heads=self.n_heads).check()
        if "modular" in self.tasks:
            ModularTask(self.modulus, self.train_fraction)  # raises on an empty split
        if "sibling" in self.tasks and self.sibling_train >= self.n_parents * self.n_children**2:
            raise ConfigError(f"sibling_train={self.sibling_train} must be below the "
                              f"{self.n_parents * self.n_children**2} valid triplets "
                              "(n_parents · n_children²), or nothing is left to discover")
        if not self.theory_zipf or 1 not in self.theory_ks:
            raise ConfigError(f"theory_zipf={self.theory_zipf}, theory_ks={self.theory_ks}: need at least one "
                              "target and k = 1 (the proper case) among the k values")
        if self.warmup_steps >= self.steps:
            raise ConfigError(f"warmup_steps={self.warmup_steps} must be below steps={self.steps}")


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


def modular_problems(cfg: KshotConfig, seed: int) -> Problems:
    """Held-out pairs of a + b mod p: exactly one correct answer each."""
    task = ModularTask(cfg.modulus, cfg.train_fraction, split_seed=seed)
    train, heldout = task.split()
    pick = torch.randperm(len(heldout), generator=torch.Generator().manual_seed(seed))[:cfg.eval_problems]
    pairs = heldout[pick]  # (P, 2)
    seqs, mask = task.sequences(train)

    def grade(samples: torch.Tensor) -> dict:
        correct = task.is_correct(pairs, samples[..., 0]).numpy()  # (P, n)
        return {"correct": correct, "valid": correct}

    return Problems("modular", task.vocab_size, seqs, mask, task.prompts(pairs), 1, grade)


def sibling_problems(cfg: KshotConfig, seed: int) -> Problems:
    """Sibling discovery without a hash: a problem is `<q> b1`; a sample `b2 a </a>` is valid when
    (a, b1, b2) is a sibling triplet and correct when it is valid and not a training triplet."""
    task = creativity.Sibling(cfg.n_parents, cfg.n_children)
    data = creativity.split(task, cfg.sibling_train, seed=seed, hash_lengths=(0,))
    vocab, seen = data.vocab, data.train_set
    seqs, mask = creativity.encode(vocab, data.train)
    firsts = sorted({obj[1] for obj in data.train_objects})  # b1 tokens seen in training
    order = torch.randperm(len(firsts), generator=torch.Generator().manual_seed(seed))[:cfg.eval_problems]
    b1s = [firsts[i] for i in order.tolist()]
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

    return Problems("sibling", len(vocab), seqs, mask, prompts, 3, grade)


def problems(cfg: KshotConfig, task: str, seed: int) -> Problems:
    return {"modular": modular_problems, "sibling": sibling_problems}[task](cfg, seed)


@torch.no_grad()
def next_token_probs(model, prompts: torch.Tensor) -> torch.Tensor:
    """(P, vocab) distribution of the first answer token after each prompt."""
    device = next(model.parameters()).device
    return torch.softmax(model(input_ids=prompts.to(device)).logits[:, -1].float(), -1).cpu()


@torch.no_grad()
def sample_answers(model, prompts: torch.Tensor, n: int, length: int, temperature: float,
                   generator: torch.Generator, chunk: int = 8192) -> torch.Tensor:
    """(P, n, length) answers sampled token by token at `temperature` (nblib.eval has no decoding
    module yet: this is the minimal one). Draws use the CPU `generator`, so any device gives the
    same samples for a seed up to float differences in the logits."""
    device = next(model.parameters()).device
    rows = prompts.repeat_interleave(n, 0)  # (P·n, prompt_len)
    out = []
    for part in rows.split(chunk):
        x = part.to(device)
        for _ in range(length):
            logits = model(input_ids=x).logits[:, -1].float() / temperature  # (m, vocab)
            nxt = torch.multinomial(torch.softmax(logits, -1).cpu(), 1, generator=generator)  # (m, 1)
            x = torch.cat([x, nxt.to(device)], 1)
        out.append(x[:, prompts.shape[1]:].cpu())
    return torch.cat(out).view(len(prompts), n, length)


def shape_of(cfg: KshotConfig, vocab_size: int) -> LMShape:
    return LMShape(vocab_size=vocab_size, d_model=cfg.d_model, n_layers=cfg.n_layers,
                   n_heads=cfg.n_heads, context=16)


def train_model(cfg: KshotConfig, probs: Problems, k: int, seed: int, device: str = "cpu") -> tuple:
    """One model trained with the k-shot loss on the task's answer tokens; (model, trainer)."""
    model = build_lm(shape_of(cfg, probs.vocab_size), seed=seed).to(device)
    schedule = Schedule("cosine", cfg.warmup_steps, cfg.steps, final_ratio=0.1)
    trainer = Trainer(model, TrainConfig(lr=cfg.lr, weight_decay=cfg.weight_decay, schedule=schedule, seed=seed,
                                         log_every=max(1, cfg.steps // 50)),
                      TaskExamples(probs.sequences, probs.answer_mask, cfg.batch_size),
                      objective=functools.partial(kshot_loss, k=k))
    return model, trainer.fit(cfg.steps)


def evaluate(cfg: KshotConfig, model, probs: Problems, seed: int, temperature: float = 1.0) -> dict:
    """pass@k (unbiased, from `samples` answers per problem), per-problem correct counts, first
    answer token's top-1 probability and entropy (nats), and coverage where the task has it."""
    model.eval()
    dist = next_token_probs(model, probs.prompts)  # (P, vocab)
    if temperature != 1.0:
        dist = torch.softmax(dist.clamp_min(1e-30).log() / temperature, -1)
    gen = torch.Generator().manual_seed(10_000 + seed)
    graded = probs.grade(sample_answers(model, probs.prompts, cfg.samples, probs.answer_len, temperature, gen))
    c, v = graded["correct"].sum(1), graded["valid"].sum(1)  # (P,)
    out = {"temperature": temperature,
           "pass": dict(zip(map(str, cfg.pass_ks), pass_at_k(cfg.samples, c, cfg.pass_ks).mean(-1).tolist(),
                            strict=True)),
           "pass_valid": dict(zip(map(str, cfg.pass_ks),
                                  pass_at_k(cfg.samples, v, cfg.pass_ks).mean(-1).tolist(), strict=True)),
           "correct_counts": c.tolist(),
           "top1": dist.max(-1).values.tolist(),
           "entropy": (-(dist * dist.clamp_min(1e-30).log()).sum(-1)).tolist()}
    for key in ("coverage", "novel_coverage"):
        if key in graded:
            out[key] = float(np.mean(graded[key]))
    if probs.answer_len == 1:  # one-token answers: the exact pass@k and the argmax's correctness
        tokens = torch.arange(dist.shape[1]).expand(len(dist), -1)[..., None]  # (P, vocab, 1)
        p_correct = (dist * torch.as_tensor(probs.grade(tokens)["correct"])).sum(-1)  # (P,)
        out["pass_exact"] = dict(zip(map(str, cfg.pass_ks),
                                     pass_at_k_exact(p_correct.numpy(), cfg.pass_ks).mean(-1).tolist(), strict=True))
        out["top1_correct"] = probs.grade(dist.argmax(-1).view(-1, 1, 1))["correct"][:, 0].tolist()
    return out


def run_job(cfg: KshotConfig, job: dict, device: str = "cpu") -> dict:
    """Train one (task, k, seed) model and evaluate it at T = 1 (and, for k = 1, at the extra
    temperatures). JSON-able."""
    start = time.perf_counter()
    probs = problems(cfg, job["task"], job["seed"])
    model, trainer = train_model(cfg, probs, job["k"], job["seed"], device)
    temps = [1.0] + (list(cfg.ntp_temperatures) if job["k"] == 1 else [])
    evals = [evaluate(cfg, model, probs, job["seed"], t) for t in temps]
    losses = [h["train_loss"] for h in trainer.history if "train_loss" in h]
    return {"evals": evals, "final_loss": losses[-1], "train_loss": losses,
            "seconds": time.perf_counter() - start}


def runs_folder(cfg: KshotConfig):
    """Where each job's result is recorded, keyed by every field that shapes the results."""
    return checkpoints_dir(SLUG, fingerprint(cfg, RESULT_FIELDS), "runs")


def jobs(cfg: KshotConfig) -> list[dict]:
    return [{"task": t, "k": k, "seed": s} for t in cfg.tasks for s in range(cfg.seeds) for k in cfg.ks]


def run_all(cfg: KshotConfig, device="cpu", workers: int = 1, bar=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every job; returns (curves, problems, seconds): one row per (task, k, seed, temperature,
    pass k) with pass@k, and one row per evaluated problem with its top-1 probability and entropy."""
    todo = jobs(cfg)
    results = run_jobs(run_job, cfg, todo, runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"{job['task']} k={job['k']} seed={job['seed']}")
    curves, per_problem = [], []
    for job, res in zip(todo, results, strict=True):
        for ev in res["evals"]:
            cond = {**job, "temperature": ev["temperature"], "final_loss": res["final_loss"]}
            extra = {key: ev[key] for key in ("coverage", "novel_coverage") if key in ev}
            for kk, value in ev["pass"].items():
                exact = ev.get("pass_exact", {}).get(kk, float("nan"))
                curves.append({**cond, "pass_k": int(kk), "pass": value, "pass_valid": ev["pass_valid"][kk],
                               "pass_exact": exact, **extra})
            if ev["temperature"] == 1.0:
                hits = ev.get("top1_correct", [None] * len(ev["top1"]))
                per_problem += [{**job, "problem": i, "top1": t, "entropy": h, "correct": c, "top1_correct": g}
                                for i, (t, h, c, g) in enumerate(zip(ev["top1"], ev["entropy"], ev["correct_counts"],
                                                                     hits, strict=True))]
    seconds = {f"{j['task']}-k{j['k']}-seed{j['seed']}": round(r["seconds"], 1) for j, r in zip(todo, results, strict=True)}
    return pd.DataFrame(curves), pd.DataFrame(per_problem), seconds
