"""Notebook 11, Part B: the answerer's reading of an edited ledger, and the editor that chooses
the edit, trained two ways with the same number of updates and of answerer queries.

The editor scores each line given the question (`LineEditor`, an MLP over one-hot features of both:
a per-line keep/drop decision, written as an edit call by `nblib.eval.edit_tool.format_edit`);
P(keep) is the sigmoid of the score.

- Supervised from random edits: per ledger, `edits_per_ledger` random masks (each line kept with
  probability 1/2) are scored by the answerer's log-probability of the right answer; a line's
  credit is the mean score of the masks that keep it minus that of the masks that drop it, and
  the editor's keep score regresses on it (squared error): it ranks lines by expected credit.
- RL (REINFORCE with group-normalised advantages, as in GRPO): per ledger, `edits_per_ledger`
  masks sampled from the editor's own P(keep); reward = answer correct after the edit −
  `length_cost` × share of lines kept.
"""

from __future__ import annotations

import numpy as np
import torch

from nblib.data.tasks.ledger import LINE_DIGITS, N_ENTITIES, N_TAGS, Problem, answerer_batch
from nblib.env import derive_seed
from nblib.train.grpo import group_advantages
from nblib.train.trainer import param_groups

BATCH = 4096  # rows per forward pass
FEATURES = 2 * (N_ENTITIES + N_TAGS) + LINE_DIGITS  # one-hot question (e, t) and line (e, t, d)


@torch.no_grad()
def answer_scores(answerer, problems: list[Problem], truth: list[int] | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(n,) log p(right answer) and (n,) whether the argmax digit is right, at each row's '=';
    `truth` the right answers (default: each problem's own; an edited ledger keeps its
    original's, which a deletion of a relevant line changes)."""
    truth_all = torch.tensor([p.answer for p in problems] if truth is None else truth)
    logps, rights = [], []
    was_training = answerer.training
    answerer.eval()
    for i in range(0, len(problems), BATCH):
        part = problems[i:i + BATCH]
        rows, at = answerer_batch(part)  # (b, T), (b,)
        logits = answerer(input_ids=rows).logits[torch.arange(len(part)), at, :10]  # (b, 10)
        truth = truth_all[i:i + BATCH]
        logps.append(torch.log_softmax(logits.float(), -1)[torch.arange(len(part)), truth])
        rights.append(logits.argmax(-1) == truth)
    answerer.train(was_training)
    return torch.cat(logps), torch.cat(rights)


class LineEditor(torch.nn.Module):
    """Keep score of a line given the question: an MLP over one-hot features of the question
    (entity, tag) and of the line (entity, tag, digit). It is not told which features matter."""

    def __init__(self, hidden: int, seed: int):
        super().__init__()
        with torch.random.fork_rng():  # seeded initialisation, the global stream untouched
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(torch.nn.Linear(FEATURES, hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(hidden, 1))

    @staticmethod
    def features(problems: list[Problem]) -> torch.Tensor:
        """(Σ lines, FEATURES) one-hot question and line, problem by problem, line by line."""
        rows = []
        for p in problems:
            for e, t, d in p.lines:
                x = torch.zeros(FEATURES)
                for offset in (p.entity, N_ENTITIES + p.tag, N_ENTITIES + N_TAGS + e,
                               2 * N_ENTITIES + N_TAGS + t, 2 * (N_ENTITIES + N_TAGS) + d):
                    x[offset] = 1.0
                rows.append(x)
        return torch.stack(rows)

    def forward(self, problems: list[Problem]) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, L) keep scores per line (L the most lines of a problem; 0 past a problem's end)
        and the (n, L) mask of real lines."""
        flat = self.net(self.features(problems))[:, 0]  # (Σ lines,)
        counts = torch.tensor([len(p.lines) for p in problems])
        real = torch.arange(int(counts.max()))[None] < counts[:, None]  # (n, L)
        return torch.zeros(real.shape).masked_scatter(real, flat), real


def keep_logits(editor, problems: list[Problem]) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, L) keep scores and (n, L) real-line mask, with grad when in grad mode."""
    return editor(problems)


@torch.no_grad()
def keep_scores(editor, problems: list[Problem]) -> list[np.ndarray]:
    """Per problem, its lines' keep scores."""
    was_training = editor.training
    editor.eval()
    out = []
    for i in range(0, len(problems), BATCH):
        part = problems[i:i + BATCH]
        score, _ = keep_logits(editor, part)
        out += [score[k, :len(p.lines)].numpy() for k, p in enumerate(part)]
    editor.train(was_training)
    return out


def random_masks(problems: list[Problem], n: int, gen: torch.Generator) -> torch.Tensor:
    """(P, n, L) masks, each real line kept with probability 1/2 (padding lines False)."""
    width = max(len(p.lines) for p in problems)
    real = torch.arange(width)[None] < torch.tensor([len(p.lines) for p in problems])[:, None]
    return (torch.rand(len(problems), n, width, generator=gen) < 0.5) & real[:, None]


def edited(problems: list[Problem], masks: torch.Tensor) -> tuple[list[Problem], list[int]]:
    """Every problem under each of its masks, (P, n, L) -> P·n problems in row-major order, and
    the original answers (the right ones) of each."""
    rows = [(p.kept(m[:len(p.lines)].tolist()), p.answer)
            for p, ms in zip(problems, masks, strict=True) for m in ms]
    return [r[0] for r in rows], [r[1] for r in rows]


def line_credit(masks: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, n, L) masks and (P, n) their scores -> (P, L) credit per line (mean score when kept −
    mean when dropped) and (P, L) whether it is defined (the line both kept and dropped)."""
    kept = masks.float()  # (P, n, L)
    n_kept, n_dropped = kept.sum(1), (1 - kept).sum(1)  # (P, L)
    s = scores[..., None]  # (P, n, 1)
    mean_kept = (kept * s).sum(1) / n_kept.clamp(min=1)
    mean_dropped = ((1 - kept) * s).sum(1) / n_dropped.clamp(min=1)
    return mean_kept - mean_dropped, (n_kept > 0) & (n_dropped > 0)


def train_editor(cfg, editor, answerer, method: str, seed: int) -> dict:
    """Train `editor` in place by `method` ("supervised" or "rl"); its loss (supervised) or mean
    reward (RL) per update, and the answerer queries it made."""
    if method not in ("supervised", "rl"):
        raise ValueError(f"method {method!r}: 'supervised' or 'rl'")
    task, n = cfg.task(), cfg.edits_per_ledger
    data = np.random.default_rng(derive_seed(seed, "editor-data"))  # same ledgers for both
    gen = torch.Generator().manual_seed(derive_seed(seed, "editor-masks", method))
    opt = torch.optim.AdamW(param_groups(editor, 0.0), lr=cfg.lr)
    trace, queries = [], 0
    editor.train()
    for step in range(cfg.editor_steps):
        for group in opt.param_groups:  # cosine from lr to a tenth
            group["lr"] = cfg.lr * (0.55 + 0.45 * np.cos(np.pi * step / cfg.editor_steps))
        problems = task.problems(cfg.editor_batch, data)
        score, real = keep_logits(editor, problems)  # (B, L) each
        if method == "supervised":
            masks = random_masks(problems, n, gen)  # (B, n, L)
            logp, _ = answer_scores(answerer, *edited(problems, masks))
            credit, defined = line_credit(masks, logp.view(len(problems), n))
            use = real & defined
            loss = torch.nn.functional.mse_loss(score[use], credit[use])
            trace.append(loss.item())
        else:
            p_keep = torch.sigmoid(score)[:, None].expand(-1, n, -1)  # (B, n, L)
            masks = (torch.rand(p_keep.shape, generator=gen) < p_keep.detach()) & real[:, None]
            _, right = answer_scores(answerer, *edited(problems, masks))
            share = masks.sum(-1) / real.sum(-1, keepdim=True)  # (B, n)
            reward = right.view(len(problems), n).float() - cfg.length_cost * share
            advantage = group_advantages(reward)  # (B, n)
            m = masks.float()
            logpi = (m * torch.log(p_keep + 1e-6) + (1 - m) * torch.log(1 - p_keep + 1e-6))
            logpi = (logpi * real[:, None]).sum(-1)  # (B, n)
            loss = -(advantage * logpi).mean()
            trace.append(float(reward.mean()))
        queries += len(problems) * n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    editor.eval()
    return {"trace": trace, "queries": queries}


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> list[bool]:
    """Keep mask of the k highest-scoring lines (ties broken at random), in context order."""
    order = np.lexsort((rng.random(len(scores)), -np.asarray(scores, float)))
    keep = np.zeros(len(scores), bool)
    keep[order[:k]] = True
    return keep.tolist()


def policy_scores(policy: str, problems: list[Problem], rng: np.random.Generator,
                  editors: dict) -> list[np.ndarray]:
    """Per problem, the per-line scores a policy ranks lines by."""
    if policy == "oracle":
        return [np.array(p.relevant(), float) for p in problems]
    if policy == "lexical":
        return [np.array(p.lexical(), float) for p in problems]
    if policy == "random":
        return [rng.random(len(p.lines)) for p in problems]
    return keep_scores(editors[policy], problems)
