"""Notebook 16: "Roll the dice & look before you leap" (Nagarajan et al. 2025) at laptop scale.

`experiment` trains and evaluates (one job per task, objective and seed); `analysis` turns the
metric rows into per-task verdicts; `views` draws (import those two as submodules).
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, param
from nblib.data.tasks import creativity as ct
from nblib.experiments.roll_the_dice.experiment import (
    OBJECTIVES,
    SLUG,
    estimate_seconds,
    eval_steps,
    jobs,
    make_task,
    run_all,
    teacherless_rows,
    train_count,
)
from nblib.models.lm import LMShape

QUESTION = ("Do multi-token (teacherless) objectives and seed-conditioning make LMs more creative "
            "than next-token prediction with temperature sampling? (Nagarajan, Wu, Ding & "
            "Raghunathan 2025, arXiv 2504.15266)")
FIGURE = "creativity_vs_step"
__all__ = ["FIGURE", "OBJECTIVES", "QUESTION", "SLUG", "RollTheDiceConfig", "estimate_seconds",
           "eval_steps", "jobs", "make_task", "run_all", "teacherless_rows", "train_count"]


@dataclass(frozen=True)
class RollTheDiceConfig(GridConfig):
    """Parameters of notebook 16 (one field per line of its parameters cell)."""

    seeds: int = param(6, "independent seeds (data, initialisation, order, hashes) per condition",
                       affects="analysis", low=1, high=50)
    tasks: list[str] = param(["sibling", "line"], "tasks: sibling, triangle, circle, line",
                             affects="grid")
    sibling_parents: int = param(5, "sibling discovery: parents", affects="train", low=1,
                                 high=1000)
    sibling_children: int = param(40, "sibling discovery: children per parent in each set",
                                  affects="train", low=2, high=10000)
    triangle_nodes: int = param(40, "triangle discovery: nodes of the hidden graph",
                                affects="train", low=6, high=5000)
    triangle_share: float = param(0.5, "triangle discovery: share of the graph's triangles "
                                  "trained on (instead of n_train)", affects="train", low=0.01,
                                  high=0.99)
    graph_entities: int = param(12, "circle/line construction: entity tokens", affects="train",
                                low=4, high=1000)
    graph_len: int = param(4, "circle/line construction: nodes per cycle or path",
                           affects="train", low=3, high=100)
    n_train: int = param(1000, "sibling discovery: distinct training objects (each with its own "
                         "hash)", affects="train", low=10, high=10**7)
    graph_train: int = param(1500, "circle/line construction: distinct training objects",
                             affects="train", low=10, high=10**7)
    hash_lengths: list[int] = param([0, 1, 2, 6], "hash lengths the training strings cycle "
                                    "through (0: none)", affects="train", item_low=0,
                                    item_high=64)
    teacherless_ratio: float = param(1.0, "teacherless: teacherless rows added per NTP row of a "
                                     "batch (copies of its first rows; 1: every row, as the "
                                     "paper adds variants of every example)", affects="train",
                                     low=0.01, high=1.0)
    d_model: int = param(64, "model width", affects="train", low=8, high=4096)
    n_layers: int = param(2, "transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "attention heads", affects="train", low=1, high=64)
    lr: float = param(2e-3, "peak learning rate (AdamW, constant after warmup)", affects="train",
                      low=1e-6, high=1.0)
    warmup_steps: int = param(100, "linear warmup steps", affects="train", low=0, high=10**6)
    weight_decay: float = param(0.0, "AdamW weight decay on matrices", affects="train", low=0.0,
                                high=10.0)
    batch_size: int = param(32, "NTP training strings per step (teacherless adds its rows)",
                            affects="train", low=1, high=8192)
    steps: int = param(2000, "optimizer steps per run", affects="train", low=16, high=10**7)
    n_evals: int = param(7, "evaluations per run, log-spaced, the last at `steps`",
                         affects="eval", low=2, high=50)
    temperatures: list[float] = param([0.5, 1.0, 1.5, 2.0], "temperatures of the sampling "
                                      "frontier (no hash)", affects="eval", item_low=0.01,
                                      item_high=10.0)
    main_temperature: float = param(1.0, "temperature of the sampled curves over training",
                                    affects="eval", low=0.01, high=10.0)
    n_samples: int = param(256, "generations per decoding condition and evaluation",
                           affects="eval", low=8, high=10**6)
    n_memorization: int = param(256, "training prompts re-decoded to measure memorization",
                                affects="eval", low=8, high=10**6)
    headline_task: str = param("sibling", "the task of the headline verdict (each task gets its "
                               "own verdicts)", affects="analysis", choices=ct.TASKS)
    memorization_level: float = param(0.5, "secondary endpoint: creativity compared where "
                                      "memorization first reaches this level",
                                      affects="analysis", low=0.01, high=0.99)
    coherence_level: float = param(0.8, "secondary endpoint: creativity compared where "
                                   "seed-conditioned coherence first reaches this level",
                                   affects="analysis", low=0.01, high=0.99)
    learned_creativity: float = param(0.05, "a task counts as learned when some objective and "
                                      "decoding peaks at a creativity whose CI lies above this "
                                      "(else its verdicts are INCONCLUSIVE)", affects="analysis",
                                      low=0.0, high=1.0)
    mid_fraction: float = param(0.25, "verdict 3 compares the last evaluation with the one "
                                "nearest this fraction of training", affects="analysis",
                                low=0.01, high=0.99)
    match_margin: float = param(0.02, "verdict 2: seed-conditioning 'matches' temperature "
                                "sampling if its creativity is at most this much lower "
                                "(absolute)", affects="analysis", low=0.0, high=1.0)

    def check(self) -> None:
        bad = [t for t in self.tasks if t not in ct.TASKS]
        if bad or not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks={self.tasks}: use distinct names from {ct.TASKS}")
        if 0 not in self.hash_lengths or max(self.hash_lengths) == 0:
            raise ConfigError(f"hash_lengths={self.hash_lengths}: need 0 (temperature sampling "
                              "without a hash) and at least one positive length "
                              "(seed-conditioning)")
        if self.headline_task not in self.tasks:
            raise ConfigError(f"headline_task={self.headline_task!r} is not one of "
                              f"tasks={self.tasks}: set headline_task to one of them")
        if self.graph_len > self.graph_entities:
            raise ConfigError(f"graph_len={self.graph_len} must not exceed "
                              f"graph_entities={self.graph_entities}")
        LMShape(d_model=self.d_model, n_heads=self.n_heads).check()
        for name in self.tasks:
            task = make_task(self, name)
            n = train_count(self, task)
            if n < 2:
                raise ConfigError(f"triangle_share={self.triangle_share} of {task.n_objects()} "
                                  "triangles leaves fewer than 2 to train on: raise "
                                  "triangle_nodes or triangle_share")
            if name != "triangle" and n > task.n_objects():
                field = "n_train" if name == "sibling" else "graph_train"
                raise ConfigError(f"{field}={n} exceeds the {task.n_objects()} distinct objects "
                                  f"of the {name} task: lower it or enlarge the task")
        if 2 ** (self.n_evals - 1) > self.steps:
            raise ConfigError(f"n_evals={self.n_evals} log-spaced evaluations need steps >= "
                              f"{2 ** (self.n_evals - 1)}, got {self.steps}")
        if self.warmup_steps >= self.steps:
            raise ConfigError(f"warmup_steps={self.warmup_steps} must be below "
                              f"steps={self.steps}")
