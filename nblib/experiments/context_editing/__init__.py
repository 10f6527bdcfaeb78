"""Notebook 11: context as a tool, learning to forget. Part A measures context rot in the packaged
SmolLM2-135M-Instruct (a four-digit code among State of the Union sentences: longer haystacks,
same-surname distractors, coherent or shuffled; `nblib.data.tasks.needle`); Part B gives a tiny
answerer trained from scratch an edit tool and learns the editor, supervised from random edits
scored by the answer's log-probability, and by RL on the answer's correctness
(`nblib.data.tasks.ledger`, `nblib.eval.edit_tool`). Chroma's Context Rot (Hong et al. 2025),
Lost in the Middle (Liu et al. 2023), MEM1 and MemAgent.

`rot` Part A's prompts and scores, `editors` the editor and its two trainings, `experiment` the
jobs (item chunks of Part A, one job per seed of Part B, through `train.grid.run_jobs`),
`analysis` the statistics and the pre-registered verdicts, `views` the figures and the widget.
Fields say what they shape: "rot" (Part A), "train" (the answerer), "editor", "eval" (what is
measured on the trained models), "jobs", "analysis".
"""

from __future__ import annotations

from dataclasses import dataclass

from nblib.config import ConfigError, GridConfig, check_order, param
from nblib.data.tasks.ledger import RELEVANT, LedgerTask
from nblib.data.tasks.needle import FIRST_NAMES
from nblib.models.lm import LMShape

SLUG = "11_context_editing"
QUESTION = ("Does a model lose what is in its context as the context grows, and can it learn to "
            "delete what hurts before it answers? (Chroma's Context Rot 2025; Liu et al. 2023, "
            "arXiv 2307.03172; MEM1; MemAgent)")
FIGURE = "editing"
POLICIES = ("full", "oracle", "lexical", "random", "supervised", "rl")  # who chooses the lines


@dataclass(frozen=True)
class ContextEditingConfig(GridConfig):
    """Parameters of notebook 11 (one field per line of its parameters cell)."""

    # Part A: context rot in a pretrained chat model (the unit is the item)
    rot_model: str = param("smollm2-135m-instruct", "Part A's model: packaged name, local folder "
                           "or hub id (an instruct model with a chat template)", affects="rot")
    rot_items: int = param(24, "needles (person, code, speech, depths), each asked under every "
                           "condition", affects="rot", low=0, high=10**5)
    rot_lengths: list[int] = param([128, 256, 512], "haystack lengths in model tokens, "
                                   "increasing (the shuffled haystack has the longest)",
                                   affects="rot", item_low=16, item_high=10**6)
    rot_distractors: int = param(2, "same-surname distractors in the distractor conditions",
                                 affects="rot", low=1, high=len(FIRST_NAMES) - 1)
    rot_chunks: int = param(2, "Part A jobs (items split evenly; each one process)", affects="rot",
                            low=1, high=64)
    # Part B: an answerer trained from scratch, and its editor
    seeds: int = param(5, "independent seeds of Part B (answerer, editors, data)", affects="jobs",
                       low=2, high=50)
    max_distractors: int = param(8, "distractor lines of the evaluation ledgers (training draws "
                                 "0..this); lines = this + 2", affects="train", low=1, high=60)
    hard_share: float = param(0.5, "chance a distractor names the question's entity with the "
                              "other tag (hard), else another entity (easy)", affects="train",
                              low=0.0, high=1.0)
    d_model: int = param(64, "answerer's residual width", affects="train", low=8, high=4096)
    n_layers: int = param(2, "answerer's transformer blocks", affects="train", low=1, high=48)
    n_heads: int = param(4, "answerer's attention heads", affects="train", low=1, high=64)
    steps: int = param(600, "answerer training steps", affects="train", low=1, high=10**7)
    batch_size: int = param(64, "ledgers per answerer step", affects="train", low=1, high=65536)
    lr: float = param(3e-3, "peak learning rate of both models (AdamW, warmup then cosine to a "
                      "tenth)", affects=("train", "editor"), low=1e-6, high=1.0)
    warmup_steps: int = param(50, "linear warmup steps of the answerer", affects="train", low=0,
                              high=10**6)
    editor_hidden: int = param(64, "hidden units of the editor (an MLP over the question and a "
                               "line)", affects="editor", low=1, high=4096)
    editor_steps: int = param(300, "editor updates, the same for both trainings", affects="editor",
                              low=1, high=10**6)
    editor_batch: int = param(16, "ledgers per editor update", affects="editor", low=1,
                              high=65536)
    edits_per_ledger: int = param(16, "edits the answerer scores per ledger and update (random "
                                  "masks for the supervised editor, policy samples for RL): "
                                  "both trainings query the answerer equally often",
                                  affects="editor", low=2, high=1024)
    length_cost: float = param(0.01, "RL reward = correct − length_cost × share of lines kept",
                               affects="editor", low=0.0, high=1.0)
    eval_ledgers: int = param(1000, "evaluation ledgers (the same for every model)",
                              affects="eval", low=10, high=10**6)
    budgets: list[int] = param([2, 4, 6], "lines kept in the equal-length comparisons, "
                               "increasing; the first is the verdicts' (2 = the oracle's count)",
                               affects="eval", item_low=1, item_high=10**4)
    rot_curve: list[int] = param([0, 1, 2, 4, 8], "distractor counts of the answerer's own rot "
                                 "curve (full context)", affects="eval", item_low=0,
                                 item_high=10**4)
    # verdicts
    gain_margin: float = param(0.05, "smallest accuracy difference worth the name",
                               affects="analysis", low=1e-3, high=1.0)
    gap_share: float = param(0.5, "share of the oracle's gain over the full context a learned "
                             "editor must close (stated in advance)", affects="analysis",
                             low=0.0, high=1.0)
    equivalence_margin: float = param(0.05, "largest difference between the two editors still "
                                      "called equivalent (TOST)", affects="analysis", low=1e-3,
                                      high=1.0)

    def task(self) -> LedgerTask:
        return LedgerTask(self.max_distractors, self.hard_share)

    def check(self) -> None:
        """Cross-field rules, checked before any compute."""
        task = self.task()
        LMShape(d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                context=task.max_len).check()
        check_order(self, "warmup_steps", "steps")
        for name in ("rot_lengths", "budgets", "rot_curve"):
            values = getattr(self, name)
            if not values or list(values) != sorted(set(values)):
                raise ConfigError(f"parameter {name}={values}: distinct and increasing, at least "
                                  "one")
        if self.budgets[-1] > task.max_lines:
            raise ConfigError(f"parameter budgets={self.budgets}: a budget of "
                              f"{self.budgets[-1]} lines exceeds the {task.max_lines} lines of a "
                              "ledger (max_distractors + 2)")
        if self.budgets[0] < RELEVANT:
            raise ConfigError(f"parameter budgets={self.budgets}: the first budget must keep at "
                              f"least the {RELEVANT} relevant lines")
        if self.rot_curve[-1] > self.max_distractors:
            raise ConfigError(f"parameter rot_curve={self.rot_curve}: more distractors "
                              f"({self.rot_curve[-1]}) than max_distractors="
                              f"{self.max_distractors} (distractors > lines)")
        if self.rot_items and self.rot_chunks > self.rot_items:
            raise ConfigError(f"parameter rot_chunks={self.rot_chunks}: more chunks than "
                              f"rot_items={self.rot_items}")


from nblib.experiments.context_editing.analysis import (  # noqa: E402
    HEADLINE,
    closing_line,
    decide,
    invariants,
    statistics,
)
from nblib.experiments.context_editing.experiment import (  # noqa: E402
    Results,
    estimate_seconds,
    jobs,
    run_all,
)

__all__ = ["FIGURE", "HEADLINE", "POLICIES", "QUESTION", "SLUG", "ContextEditingConfig",
           "Results", "closing_line", "decide", "estimate_seconds", "invariants", "jobs",
           "run_all", "statistics"]
