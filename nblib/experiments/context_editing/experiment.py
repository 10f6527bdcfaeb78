"""Notebook 11's compute: Part A's item chunks and Part B's seeds, as jobs of
`train.grid.run_jobs` (each recorded the moment it finishes; a rerun resumes).

Part B, one job per seed:
1. Train the answerer from scratch on fresh ledgers (0..max_distractors distractors each), the
   loss on the answer and the stop token.
2. Its rot curve: accuracy on full ledgers with each number of distractors in `rot_curve`.
3. Train two editors from the same initial weights on the same ledgers: supervised from random
   edits, and RL (`editors`).
4. On the evaluation ledgers (max_distractors distractors, the same for every seed), every
   policy keeps its top-k lines for each budget k (full: all lines), and the answerer answers
   from what is kept. Each editor also keeps the lines it would choose alone (P(keep) > 1/2).
The answerer's and both editors' weights are saved for the widget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from nblib.config import cache_key
from nblib.data.tasks.ledger import VOCAB_SIZE, Batches, Problem
from nblib.env import derive_seed
from nblib.experiments.context_editing import POLICIES, SLUG, rot
from nblib.experiments.context_editing import editors as ed
from nblib.models.lm import build_lm, count_params, shape_of
from nblib.paths import checkpoints_dir
from nblib.train.checkpoints import CheckpointStore
from nblib.train.grid import JobResults, run_jobs
from nblib.train.schedules import Schedule
from nblib.train.trainer import TrainConfig, Trainer, seconds_per_step

EDITORS = ("supervised", "rl")


def jobs(cfg) -> list[dict]:
    """Part A's chunks (none when rot_items is 0), then Part B's seeds."""
    chunks = [{"part": "rot", "chunk": c} for c in range(cfg.rot_chunks)] if cfg.rot_items else []
    return chunks + [{"part": "edit", "seed": s} for s in cfg.seed_list]


def eval_ledgers(cfg, distractors: int | None = None, salt: str = "eval") -> list[Problem]:
    """The evaluation ledgers (max_distractors distractors unless given), drawn once for every
    seed."""
    d = cfg.max_distractors if distractors is None else distractors
    rng = np.random.default_rng(derive_seed(0, "ledgers", salt, d))
    return cfg.task().problems(cfg.eval_ledgers, rng, d)


def constant_baseline(cfg) -> float:
    """Accuracy of the best constant answer on the evaluation ledgers (the most frequent sum,
    chosen on them: optimistic); a model reading nothing does no better."""
    answers = np.array([p.answer for p in eval_ledgers(cfg)])
    return float(np.bincount(answers).max() / len(answers))


def make_answerer(cfg, seed: int, device="cpu") -> Trainer:
    task = cfg.task()
    model = build_lm(shape_of(cfg, vocab_size=VOCAB_SIZE, context=task.max_len),
                     seed=derive_seed(seed, "answerer"))
    schedule = Schedule("cosine", cfg.warmup_steps, cfg.steps, final_ratio=0.1)
    train_cfg = TrainConfig(lr=cfg.lr, weight_decay=0.1, schedule=schedule,
                            seed=derive_seed(seed, "data"), log_every=max(1, cfg.steps // 100))
    return Trainer(model.to(device), train_cfg, Batches(task, cfg.batch_size))


def make_editor(cfg, seed: int) -> ed.LineEditor:
    return ed.LineEditor(cfg.editor_hidden, derive_seed(seed, "editor"))


def store_for(cfg, seed: int) -> CheckpointStore:
    """The answerer of one seed, keyed by every field that shapes it."""
    return CheckpointStore(checkpoints_dir(SLUG, cache_key(cfg, "train"), f"seed{seed}"))


def policy_accuracy(cfg, answerer, editors: dict, problems: list[Problem], seed: int) -> dict:
    """policy -> budget -> (accuracy, share of relevant lines kept) on `problems`; full under
    the budget 'all'."""
    truth = [p.answer for p in problems]
    _, right = ed.answer_scores(answerer, problems)
    out = {"full": {"all": [float(right.float().mean()), 1.0]}}
    for policy in POLICIES[1:]:
        rng = np.random.default_rng(derive_seed(seed, "ties", policy))
        scores = ed.policy_scores(policy, problems, rng, editors)
        out[policy] = {}
        for k in cfg.budgets:
            masks = [ed.top_k(s, k, rng) for s in scores]
            kept = [p.kept(m) for p, m in zip(problems, masks, strict=True)]
            _, right = ed.answer_scores(answerer, kept, truth)
            recall = np.mean([sum(r and m for r, m in zip(p.relevant(), mask, strict=True)) /
                              sum(p.relevant()) for p, mask in zip(problems, masks, strict=True)])
            out[policy][str(k)] = [float(right.float().mean()), float(recall)]
    for name, editor in editors.items():  # the editor's own choice of length
        masks = [(s > 0).tolist() for s in ed.keep_scores(editor, problems)]
        kept = [p.kept(m) for p, m in zip(problems, masks, strict=True)]
        _, right = ed.answer_scores(answerer, kept, truth)
        out[name]["own"] = [float(right.float().mean()),
                            float(np.mean([sum(m) / len(m) for m in masks]))]
    return out


def run_edit(cfg, seed: int, device="cpu") -> dict:
    start = time.perf_counter()
    trainer = make_answerer(cfg, seed, device)
    trainer.fit(cfg.steps)
    answerer = trainer.model.cpu().eval()
    curve = {}
    for d in cfg.rot_curve:
        _, right = ed.answer_scores(answerer, eval_ledgers(cfg, d, salt="curve"))
        curve[str(d)] = float(right.float().mean())
    editors, traces = {}, {}
    for method in EDITORS:
        editors[method] = make_editor(cfg, seed)  # the same initial weights for both
        traces[method] = ed.train_editor(cfg, editors[method], answerer, method, seed)
    store_for(cfg, seed).save(answerer, cfg.steps, {"seed": seed}, branch="answerer")
    return {"curve": curve,
            "policies": policy_accuracy(cfg, answerer, editors, eval_ledgers(cfg), seed),
            "traces": {m: t["trace"] for m, t in traces.items()},
            "queries": {m: t["queries"] for m, t in traces.items()},
            "editors": {m: {k: v.tolist() for k, v in e.state_dict().items()}
                        for m, e in editors.items()},  # tiny: kept in the record
            "loss": [h["train_loss"] for h in trainer.history if "train_loss" in h],
            "params": {"answerer": count_params(answerer)["total"],
                       "editor": sum(p.numel() for p in editors["rl"].parameters())},
            "seconds": time.perf_counter() - start}


def run_job(cfg, job: dict, device="cpu") -> dict:
    if job["part"] == "rot":
        return rot.run_chunk(cfg, job["chunk"], device)
    return run_edit(cfg, job["seed"], device)


def runs_folder(cfg):
    """Job results keyed by every field that shapes them."""
    return checkpoints_dir(SLUG, cache_key(cfg, "rot", "train", "editor", "eval"), "runs")


def load_models(cfg, results: Results, seed: int) -> dict:
    """The answerer (saved weights) and both editors (weights in the record) of a seed."""
    out = {"answerer": store_for(cfg, seed).load(cfg.steps, branch="answerer")}
    for m in EDITORS:
        editor = make_editor(cfg, seed)
        editor.load_state_dict({k: torch.tensor(v) for k, v in results.editors[seed][m].items()})
        out[m] = editor.eval()
    return out


@dataclass(frozen=True)
class Results:
    """Both parts as tables."""

    rot: pd.DataFrame  # Part A: one row per (item, length, distractors, shuffled): logp, correct
    curve: pd.DataFrame  # Part B: one row per (seed, distractors): the answerer's accuracy
    policies: pd.DataFrame  # one row per (seed, policy, budget): accuracy, relevant kept / share
    traces: pd.DataFrame  # one row per (seed, method, update): loss (supervised) / reward (RL)
    loss: pd.DataFrame  # one row per (seed, logged step): the answerer's training loss
    params: dict  # parameters of the answerer and of an editor
    queries: dict  # answerer queries per editor training (equal by design)
    editors: dict  # seed -> method -> the editor's weights (state dict as lists)
    seconds: dict  # job label -> wall seconds


def tables(cfg, results: JobResults) -> Results:
    rot_rows, curve, pol, traces, loss, seconds = [], [], [], [], [], {}
    params, queries, editors = {}, {}, {}
    for job, r in zip(results.jobs, results, strict=True):
        if job["part"] == "rot":
            rot_rows += r["rows"]
            seconds[f"rot-chunk{job['chunk']}"] = results.seconds.get(
                f"chunk={job['chunk']}-part=rot", float("nan"))
            continue
        s = job["seed"]
        seconds[f"edit-seed{s}"] = round(r["seconds"], 1)
        curve += [{"seed": s, "distractors": int(d), "accuracy": a} for d, a in r["curve"].items()]
        for policy, by in r["policies"].items():
            for budget, (acc, other) in by.items():
                pol.append({"seed": s, "policy": policy, "budget": budget, "accuracy": acc,
                            "kept_measure": other})
        for m, t in r["traces"].items():
            traces += [{"seed": s, "method": m, "update": i + 1, "value": v}
                       for i, v in enumerate(t)]
        every = max(1, cfg.steps // 100)
        loss += [{"seed": s, "step": min((i + 1) * every, cfg.steps), "loss": v}
                 for i, v in enumerate(r["loss"])]
        params, queries, editors[s] = r["params"], r["queries"], r["editors"]
    rot_table = pd.DataFrame(rot_rows, columns=["item", "length", "distractors", "shuffled",
                                                "logp", "correct", "tokens"])
    return Results(rot_table, pd.DataFrame(curve), pd.DataFrame(pol), pd.DataFrame(traces),
                   pd.DataFrame(loss), params, queries, editors, seconds)


def run_all(cfg, device="cpu", workers: int = 1, bar=None) -> Results:
    """Every job, run or read back from the record."""
    results = run_jobs(run_job, cfg, jobs(cfg), runs_folder(cfg), device, workers, bar,
                       label=lambda j: (f"needles {j['chunk'] + 1}/{cfg.rot_chunks}"
                                        if j["part"] == "rot" else f"ledger seed={j['seed']}"))
    return tables(cfg, results)


def estimate_seconds(cfg, device, workers: int) -> float:
    """Expected wall seconds of `run_all`: timed answerer steps, editor updates and one Part A
    prompt of the longest haystack, scaled to every job in rounds of `workers`."""
    trainer = make_answerer(cfg, 0, device)
    train_s = seconds_per_step(trainer, steps=3, warmup=1) * cfg.steps
    editor = make_editor(cfg, 0)
    small = type(cfg)(**{**cfg.__dict__, "editor_steps": 2})
    begin = time.perf_counter()
    ed.train_editor(small, editor, trainer.model.cpu(), "rl", 0)
    editor_s = (time.perf_counter() - begin) / 2 * cfg.editor_steps * 2 * 1.3
    edit_s = train_s + editor_s
    rot_s = 0.0
    if cfg.rot_items:
        per_prompt = 3.0e-3 * (cfg.rot_lengths[-1] + 80)  # seconds per prompt (measured ~2 cores)
        n_prompts = cfg.rot_items * len(rot.conditions(cfg))
        rot_s = per_prompt * n_prompts * 0.7 / cfg.rot_chunks  # mean length < the longest
    n_edit = len(cfg.seed_list)
    rounds = math.ceil((n_edit + (cfg.rot_chunks if cfg.rot_items else 0)) / max(1, workers))
    return float(max(rounds * max(edit_s, rot_s), n_edit * edit_s / max(1, workers)))
