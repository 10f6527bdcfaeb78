"""Notebook 16's compute: "Roll the dice & look before you leap" (Nagarajan et al. 2025).

One job = one (task, objective, seed): a tiny Llama trained on the task's strings with next-token
prediction (NTP) or the teacherless hybrid as the paper trains it (the full NTP batch plus
teacherless copies of its rows, whose answer tokens are replaced by a dummy: `PlusTeacherless`),
evaluated at log-spaced steps under several decodings: temperature sampling without a hash,
seed-conditioning (a fresh random hash, then greedy) and both. Every training example carries
a hash whose length cycles through `hash_lengths` (0 included), so one model serves every
decoding and the comparison between decodings is paired on the same weights. Jobs run through
`train.grid.run_jobs`, recorded one by one, so a run resumes.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.tasks import creativity as ct
from nblib.env import derive_seed
from nblib.eval.creativity import creativity_scores, memorization, to_objects
from nblib.eval.decoding import generate, seed_conditioned
from nblib.eval.lm_loss import IGNORE
from nblib.models.lm import build_lm, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import geometric_steps
from nblib.train.grid import run_jobs
from nblib.train.objectives import answer_masked_targets, teacherless_targets
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

SLUG = "16_roll_the_dice"
OBJECTIVES = ("ntp", "teacherless")


class PlusTeacherless:
    """Batches of the teacherless hybrid (Nagarajan et al. 2025, `sibling_hybrid.ipynb`): the NTP
    batch (`batch_size` rows drawn uniformly, loss on the answer tokens) with `n_teacherless`
    teacherless copies of its first rows appended: inputs whose answer tokens are all `dummy_id`,
    so answer token i + 1 is predicted from the prompt and i dummies. A copy's first answer token
    is predicted from the true prefix, as in its NTP row, so it is masked there (the paper adds
    only the later-token variants). n_teacherless 0 is plain answer-masked NTP, and for one
    generator the NTP rows are the same rows in either case (one draw per batch)."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, dummy_id: int, batch_size: int,
                 n_teacherless: int = 0):
        if not 0 <= n_teacherless <= batch_size:
            raise ValueError(f"n_teacherless={n_teacherless} must lie in [0, {batch_size}]")
        self.ntp = answer_masked_targets(ids, mask)  # inputs, targets: (n, seq) each
        inputs, targets = teacherless_targets(ids, mask, dummy_id)  # (n, seq) each
        first = (targets != IGNORE).int().argmax(1)  # (n,) position predicting answer token 1
        targets[torch.arange(len(targets)), first] = IGNORE
        self.tl = inputs, targets
        self.batch_size, self.n_teacherless = batch_size, n_teacherless

    def __call__(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, len(self.ntp[0]), (self.batch_size,), generator=generator)  # (B,)
        copies = rows[:self.n_teacherless]  # (k,)
        inputs = torch.cat([self.ntp[0][rows], self.tl[0][copies]])  # (B + k, seq)
        return inputs, torch.cat([self.ntp[1][rows], self.tl[1][copies]])  # (B + k, seq)


def teacherless_rows(cfg, objective: str) -> int:
    """Teacherless rows added to each batch: round(teacherless_ratio · batch_size), at least 1,
    for the teacherless objective; 0 for NTP."""
    if objective != "teacherless":
        return 0
    return min(cfg.batch_size, max(1, round(cfg.teacherless_ratio * cfg.batch_size)))


def make_task(cfg, name: str) -> ct.Task:
    sizes = {"sibling": dict(n_parents=cfg.sibling_parents, n_children=cfg.sibling_children),
             "triangle": dict(n_nodes=cfg.triangle_nodes),
             "circle": dict(n_entities=cfg.graph_entities, cycle_len=cfg.graph_len),
             "line": dict(n_entities=cfg.graph_entities, path_len=cfg.graph_len)}[name]
    return ct.make_task(name, **sizes)


def train_count(cfg, task: ct.Task) -> int:
    """Training objects of a task: n_train (sibling), graph_train (circle, line), or a share of
    the triangles of the graph."""
    if task.name == "triangle":
        return int(cfg.triangle_share * task.n_objects())
    return cfg.n_train if task.name == "sibling" else cfg.graph_train


def eval_steps(cfg) -> list[int]:
    """`n_evals` log-spaced evaluation steps, doubling up to `steps` (`geometric_steps` from
    steps / 2^(n_evals − 1))."""
    return geometric_steps(cfg.steps, cfg.n_evals, first=cfg.steps / 2 ** (cfg.n_evals - 1))


def decodings(cfg, final: bool) -> list[tuple[str, int, float]]:
    """(method, hash length, temperature) evaluated at a step: the three main ones every time,
    the whole frontier (every temperature, every hash length) at the last step."""
    h = max(cfg.hash_lengths)
    main = [("temperature", 0, cfg.main_temperature), ("seed", h, 0.0),
            ("both", h, cfg.main_temperature)]
    if not final:
        return main
    more = ([("temperature", 0, t) for t in [0.0, *cfg.temperatures]]
            + [("seed", k, 0.0) for k in sorted(set(cfg.hash_lengths)) if k]
            + [("both", h, t) for t in cfg.temperatures])
    return list(dict.fromkeys(main + more))


def split_halves(objects: list, train_set: set) -> dict[str, float]:
    """Creativity of the first and of the second half of the samples (creativity_a,
    creativity_b, each over n/2): a peak over evaluations is chosen on one half and measured on
    the other, so its value carries no selection bias from sampling noise."""
    half = len(objects) // 2
    return {"creativity_a": creativity_scores(objects[:half], train_set)["creativity"],
            "creativity_b": creativity_scores(objects[half:2 * half], train_set)["creativity"]}


def evaluate(cfg, model, data: ct.Split, step: int, seed: int, final: bool) -> list[dict]:
    """Creativity metrics of every decoding (with `split_halves`), and memorization, at one
    step."""
    task, vocab = data.task, data.vocab
    out_len = ct.output_length(task)
    query, eos = vocab.encode([task.query]), vocab.index[ct.EOS]
    rows = []
    for i, (method, h, temp) in enumerate(decodings(cfg, final)):
        g = torch.Generator().manual_seed(derive_seed(seed, "decoding", step, i))
        out = seed_conditioned(model, cfg.n_samples, h, vocab.hash_ids, query, out_len, g, temp,
                               eos)  # (n_samples, out_len)
        objects = to_objects(out, vocab.decode, task.canonical, ct.EOS)
        rows.append({"step": step, "method": method, "hash_len": h, "temperature": temp,
                     **creativity_scores(objects, data.train_set),
                     **split_halves(objects, data.train_set)})
    h = max(cfg.hash_lengths)  # the longest hashes are unique: recalling from one is memorization
    group = [(e, o) for e, o in zip(data.train, data.train_objects, strict=False)
             if len(e.hash) == h][:cfg.n_memorization]
    prompts = torch.tensor([vocab.encode(e.tokens()[: h + 1]) for e, _ in group])  # (m, h + 1)
    greedy = generate(model, prompts, out_len, stop_id=eos)  # (m, out_len)
    recalled = to_objects(greedy, vocab.decode, task.canonical, ct.EOS)
    rows.append({"step": step, "method": "memorization", "hash_len": -1, "temperature": 0.0,
                 "memorization": memorization(recalled, [o for _, o in group])})
    return rows


def setup_run(cfg, job: dict, device: str = "cpu") -> tuple[ct.Split, Trainer]:
    """The data of one (task, seed) and a fresh trainer for its objective."""
    task, seed = make_task(cfg, job["task"]), job["seed"]
    data = ct.split(task, train_count(cfg, task), seed, cfg.hash_lengths)
    ids, mask = ct.encode(data.vocab, data.train)  # (n, seq + 1) each
    model = build_lm(shape_of(cfg, vocab_size=len(data.vocab), context=ids.shape[1] + 1),
                     seed=seed).to(device)
    batches = PlusTeacherless(ids, mask, data.vocab.index[ct.DUMMY], cfg.batch_size,
                              teacherless_rows(cfg, job["objective"]))
    schedule = Schedule("constant", warmup_steps=cfg.warmup_steps)
    train_cfg = TrainConfig(lr=cfg.lr, schedule=schedule, weight_decay=cfg.weight_decay,
                            seed=seed, log_every=max(1, cfg.steps // 50))
    return data, Trainer(model, train_cfg, batches)


def train_run(cfg, job: dict, device: str = "cpu") -> dict:
    """One task, objective and seed: train, evaluating at every eval step; the metric rows."""
    start = time.perf_counter()
    data, trainer = setup_run(cfg, job, device)
    steps = eval_steps(cfg)
    rows = []
    for step in steps:
        trainer.fit(step)
        rows += [{**row, "train_tokens": trainer.tokens}  # input tokens processed so far
                 for row in evaluate(cfg, trainer.model, data, step, job["seed"],
                                     final=step == steps[-1])]
    losses = [{"step": h["step"], "train_loss": h["train_loss"]} for h in trainer.history
              if "train_loss" in h]
    return {"rows": rows, "losses": losses, "seconds": time.perf_counter() - start}


def runs_folder(cfg):
    """Where each job's result is recorded: keyed by every field that shapes training or
    evaluation (`cache_key`)."""
    return checkpoints_dir(SLUG, cache_key(cfg, "train", "eval"), "runs")


def jobs(cfg) -> list[dict]:
    return [{"task": t, "objective": o, "seed": s} for t in cfg.tasks for s in cfg.seed_list
            for o in OBJECTIVES]


def run_all(cfg, device="cpu", workers: int = 1, bar=None
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every job; returns the metric rows, the training losses and the seconds per job (a job
    recorded by an earlier run with the same settings is loaded, not retrained)."""
    results = run_jobs(train_run, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda job: f"{job['task']} {job['objective']} seed={job['seed']}")
    seconds = {f"{j['task']}-{j['objective']}-seed{j['seed']}": round(res["seconds"], 1)
               for j, res in zip(results.jobs, results, strict=True)}
    return results.rows("rows"), results.rows("losses"), seconds


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: a few timed training steps of each objective (the
    teacherless batches are larger) and one timed evaluation (three decodings and memorization)
    per task on this machine, scaled to every job."""
    per_seed = 0.0
    for name in cfg.tasks:
        for objective in OBJECTIVES:
            data, trainer = setup_run(cfg, {"task": name, "objective": objective,
                                            "seed": cfg.first_seed}, str(device))
            per_seed += seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
        start = time.perf_counter()
        evaluate(cfg, trainer.model, data, 1, cfg.first_seed, final=False)
        per_decoding = (time.perf_counter() - start) / 4  # three decodings and memorization
        n_decodings = 4 * (cfg.n_evals - 1) + len(decodings(cfg, final=True)) + 1
        per_seed += per_decoding * n_decodings * len(OBJECTIVES)
    return float(per_seed * len(cfg.seed_list) / max(1, workers))
