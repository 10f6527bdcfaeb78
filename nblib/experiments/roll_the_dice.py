"""Notebook 16: "Roll the dice & look before you leap" (Nagarajan et al. 2025) at laptop scale.

One job = one (task, objective, seed): a tiny Llama trained on the task's strings with next-token
prediction (NTP) or the teacherless hybrid (NTP rows plus rows whose answer tokens are replaced by
a dummy), evaluated at log-spaced steps under several decodings: temperature sampling without a
hash, seed-conditioning (a fresh random hash, then greedy) and both. Every training example carries
a hash whose length cycles through `hash_lengths` (0 included), so one model serves every decoding
and the comparison between decodings is paired on the same weights. Jobs run in parallel processes
and are recorded one by one (`nblib.train.grid`). Figures and verdicts: `roll_the_dice_analysis`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import torch

from nblib.config import ConfigError, fingerprint, param
from nblib.data.tasks import creativity as ct
from nblib.eval.creativity import creativity_scores, memorization, to_objects
from nblib.eval.decoding import generate, seed_conditioned
from nblib.models.lm import LMShape, build_lm
from nblib.paths import checkpoints_dir
from nblib.train.grid import run_jobs
from nblib.train.objectives import answer_masked_targets, teacherless_targets
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer

SLUG = "16_roll_the_dice"
OBJECTIVES = ("ntp", "teacherless")
TRAINING_FIELDS = ("sibling_parents", "sibling_children", "triangle_nodes", "triangle_share", "graph_entities", "graph_len",
                   "n_train", "graph_train", "hash_lengths", "teacherless_fraction", "d_model", "n_layers", "n_heads",
                   "lr", "batch_size", "steps", "n_evals", "temperatures", "main_temperature",
                   "n_samples", "n_memorization")  # a job adds task, objective and seed


@dataclass(frozen=True)
class RollTheDiceConfig:
    """Parameters of notebook 16 (one field per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "independent seeds (data, initialisation, order, hashes) per condition", low=1, high=50)
    device: str = param("auto", "torch device", choices=("auto", "cpu", "cuda"))
    tasks: list[str] = param(["sibling", "circle"], "tasks: sibling, triangle, circle, line")
    sibling_parents: int = param(5, "sibling discovery: parents", low=1, high=1000)
    sibling_children: int = param(40, "sibling discovery: children per parent in each set", low=2, high=10000)
    triangle_nodes: int = param(40, "triangle discovery: nodes of the hidden graph", low=6, high=5000)
    triangle_share: float = param(0.5, "triangle discovery: share of the graph's triangles trained on (instead "
                                  "of n_train)", low=0.01, high=0.99)
    graph_entities: int = param(10, "circle/line construction: entity tokens", low=4, high=1000)
    graph_len: int = param(4, "circle/line construction: nodes per cycle or path", low=3, high=100)
    n_train: int = param(1000, "sibling discovery: distinct training objects (each with its own hash)", low=10,
                         high=10**7)
    graph_train: int = param(300, "circle/line construction: distinct training objects", low=10, high=10**7)
    hash_lengths: list[int] = param([0, 1, 2, 6], "hash lengths the training strings cycle through (0: none)",
                                    item_low=0, item_high=64)
    teacherless_fraction: float = param(0.5, "teacherless: share of each batch in teacherless rows", low=0.0,
                                        high=1.0)
    d_model: int = param(64, "model width", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", low=1, high=48)
    n_heads: int = param(4, "attention heads", low=1, high=64)
    lr: float = param(2e-3, "peak learning rate (AdamW, constant after warmup)", low=1e-6, high=1.0)
    batch_size: int = param(64, "training strings per step", low=1, high=8192)
    steps: int = param(1500, "optimizer steps per run", low=16, high=10**7)
    n_evals: int = param(6, "evaluations per run, log-spaced, the last at `steps`", low=2, high=50)
    temperatures: list[float] = param([0.5, 1.0, 1.5, 2.0], "temperatures of the sampling frontier (no hash)",
                                      item_low=0.01, item_high=10.0)
    main_temperature: float = param(1.0, "temperature of the sampled curves over training", low=0.01, high=10.0)
    n_samples: int = param(256, "generations per decoding condition and evaluation", low=8, high=10**6)
    n_memorization: int = param(256, "training prompts re-decoded to measure memorization", low=8, high=10**6)
    mid_fraction: float = param(0.25, "verdict 3 compares the last evaluation with the one nearest this "
                                "fraction of training", low=0.01, high=0.99)
    match_margin: float = param(0.02, "verdict 2: seed-conditioning 'matches' temperature sampling if its "
                                "creativity is at most this much lower (absolute)", low=0.0, high=1.0)
    workers: int = param(2, "training runs at once (processes, CPU only)", low=1, high=64)

    def check(self) -> None:
        bad = [t for t in self.tasks if t not in ct.TASKS]
        if bad or not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks={self.tasks}: use distinct names from {ct.TASKS}")
        if 0 not in self.hash_lengths or max(self.hash_lengths) == 0:
            raise ConfigError(f"hash_lengths={self.hash_lengths}: need 0 (temperature sampling without a "
                              "hash) and at least one positive length (seed-conditioning)")
        if self.graph_len > self.graph_entities:
            raise ConfigError(f"graph_len={self.graph_len} must not exceed graph_entities={self.graph_entities}")
        LMShape(d_model=self.d_model, n_heads=self.n_heads).check()
        for name in self.tasks:
            task = make_task(self, name)
            if train_count(self, task) < 2:
                raise ConfigError(f"triangle_share={self.triangle_share} of {task.n_objects()} triangles leaves "
                                  "fewer than 2 to train on: raise triangle_nodes or triangle_share")
            if name != "triangle" and train_count(self, task) > task.n_objects():
                field = "n_train" if name == "sibling" else "graph_train"
                raise ConfigError(f"{field}={train_count(self, task)} exceeds the {task.n_objects()} distinct objects of "
                                  f"the {name} task: lower it or enlarge the task")
        if 2 ** (self.n_evals - 1) > self.steps:
            raise ConfigError(f"n_evals={self.n_evals} log-spaced evaluations need steps >= "
                              f"{2 ** (self.n_evals - 1)}, got {self.steps}")


def make_task(cfg: RollTheDiceConfig, name: str) -> ct.Task:
    sizes = {"sibling": dict(n_parents=cfg.sibling_parents, n_children=cfg.sibling_children),
             "triangle": dict(n_nodes=cfg.triangle_nodes),
             "circle": dict(n_entities=cfg.graph_entities, cycle_len=cfg.graph_len),
             "line": dict(n_entities=cfg.graph_entities, path_len=cfg.graph_len)}[name]
    return ct.make_task(name, **sizes)


def train_count(cfg: RollTheDiceConfig, task: ct.Task) -> int:
    """Training objects of a task: n_train (sibling), graph_train (circle, line), or a share of the
    triangles of the graph."""
    if task.name == "triangle":
        return int(cfg.triangle_share * task.n_objects())
    return cfg.n_train if task.name == "sibling" else cfg.graph_train


def eval_steps(cfg: RollTheDiceConfig) -> list[int]:
    """Log-spaced evaluation steps, halving back from `steps`."""
    return sorted({max(1, cfg.steps >> k) for k in range(cfg.n_evals)})


def seq_len(cfg: RollTheDiceConfig, task: ct.Task, data: ct.Split) -> int:
    return max(len(e.tokens()) for e in data.train)


class HybridBatches:
    """Training rows for the Trainer: NTP rows (answer-masked) and, with probability `fraction`
    per row, the same string as a teacherless row (its answer tokens replaced by DUMMY in the
    inputs). fraction 0 is plain NTP."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, dummy_id: int, batch_size: int, fraction: float):
        self.ntp = answer_masked_targets(ids, mask)  # inputs, targets: (n, seq) each
        self.tl = teacherless_targets(ids, mask, dummy_id)
        self.batch_size, self.fraction = batch_size, fraction

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, len(self.ntp[0]), (self.batch_size,), generator=generator)  # (batch,)
        teach = (torch.rand(self.batch_size, generator=generator) < self.fraction)[:, None]  # (batch, 1)
        inputs = torch.where(teach, self.tl[0][rows], self.ntp[0][rows])
        return inputs, self.ntp[1][rows]


def decodings(cfg: RollTheDiceConfig, final: bool) -> list[tuple[str, int, float]]:
    """(method, hash length, temperature) evaluated at a step: the three main ones every time, the
    whole frontier (every temperature, every hash length) at the last step."""
    h = max(cfg.hash_lengths)
    main = [("temperature", 0, cfg.main_temperature), ("seed", h, 0.0), ("both", h, cfg.main_temperature)]
    if not final:
        return main
    more = ([("temperature", 0, t) for t in [0.0, *cfg.temperatures]]
            + [("seed", k, 0.0) for k in sorted(set(cfg.hash_lengths)) if k]
            + [("both", h, t) for t in cfg.temperatures])
    return list(dict.fromkeys(main + more))


def evaluate(cfg: RollTheDiceConfig, model, data: ct.Split, step: int, seed: int, final: bool) -> list[dict]:
    """Creativity metrics of every decoding, and memorization, at one step."""
    task, vocab = data.task, data.vocab
    out_len = ct.output_length(task)
    query, eos = vocab.encode([task.query]), vocab.index[ct.EOS]
    train_set = data.train_set
    rows = []
    for i, (method, h, temp) in enumerate(decodings(cfg, final)):
        g = torch.Generator().manual_seed(seed * 1_000_003 + step * 101 + i)
        out = seed_conditioned(model, cfg.n_samples, h, vocab.hash_ids, query, out_len, g, temp, eos)
        objects = to_objects(out, vocab.decode, task.canonical, ct.EOS)
        rows.append({"step": step, "method": method, "hash_len": h, "temperature": temp,
                     **creativity_scores(objects, train_set)})
    h = max(cfg.hash_lengths)  # the longest hashes are unique: recalling from one is memorization
    group = [(e, o) for e, o in zip(data.train, data.train_objects, strict=False) if len(e.hash) == h]
    group = group[:cfg.n_memorization]
    prompts = torch.tensor([vocab.encode(e.tokens()[: h + 1]) for e, _ in group])  # (m, h + 1)
    recalled = to_objects(generate(model, prompts, out_len, stop_id=eos), vocab.decode, task.canonical, ct.EOS)
    targets = [o for _, o in group]
    rows.append({"step": step, "method": "memorization", "hash_len": -1, "temperature": 0.0,
                 "memorization": memorization(recalled, targets)})
    return rows


def train_run(cfg: RollTheDiceConfig, job: dict, device: str = "cpu") -> dict:
    """One task, objective and seed: train, evaluating at every eval step; the metric rows."""
    start = time.perf_counter()
    task, seed = make_task(cfg, job["task"]), job["seed"]
    data = ct.split(task, train_count(cfg, task), seed, cfg.hash_lengths)
    ids, mask = ct.encode(data.vocab, data.train)  # (n, seq + 1) each
    shape = LMShape(vocab_size=len(data.vocab), d_model=cfg.d_model, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                    context=ids.shape[1] + 1)
    model = build_lm(shape, seed=seed).to(device)
    fraction = cfg.teacherless_fraction if job["objective"] == "teacherless" else 0.0
    batches = HybridBatches(ids, mask, data.vocab.index[ct.DUMMY], cfg.batch_size, fraction)
    trainer = Trainer(model, TrainConfig(lr=cfg.lr, schedule=Schedule("constant", warmup_steps=min(100, cfg.steps // 10)),
                                         weight_decay=0.0, seed=seed, log_every=max(1, cfg.steps // 50)), batches)
    rows, last = [], eval_steps(cfg)[-1]
    for step in eval_steps(cfg):
        trainer.fit(step)
        rows += evaluate(cfg, trainer.model, data, step, seed, final=step == last)
    losses = [{"step": h["step"], "train_loss": h["train_loss"]} for h in trainer.history if "train_loss" in h]
    return {"rows": rows, "losses": losses, "seconds": time.perf_counter() - start}


def runs_folder(cfg: RollTheDiceConfig):
    return checkpoints_dir(SLUG, fingerprint(cfg, TRAINING_FIELDS), "runs")


def jobs(cfg: RollTheDiceConfig) -> list[dict]:
    return [{"task": t, "objective": o, "seed": s} for t in cfg.tasks for s in range(cfg.seeds) for o in OBJECTIVES]


def run_all(cfg: RollTheDiceConfig, device="cpu", workers: int = 1, bar=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every job; returns the metric rows, the training losses and the seconds per job (a job
    recorded by an earlier run with the same training settings is loaded, not retrained)."""
    todo = jobs(cfg)
    results = run_jobs(train_run, cfg, todo, runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"{job['task']} {job['objective']} seed={job['seed']}")
    keys = lambda job: {"task": job["task"], "objective": job["objective"], "seed": job["seed"]}  # noqa: E731
    metrics = pd.DataFrame([{**keys(j), **r} for j, res in zip(todo, results, strict=True) for r in res["rows"]])
    losses = pd.DataFrame([{**keys(j), **r} for j, res in zip(todo, results, strict=True) for r in res["losses"]])
    seconds = {f"{j['task']}-{j['objective']}-seed{j['seed']}": round(res["seconds"], 1)
               for j, res in zip(todo, results, strict=True)}
    return metrics, losses, seconds
