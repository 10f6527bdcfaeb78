"""Notebook 12's steps: load a chat model (local or behind an OpenAI-compatible endpoint), draw
items, run the standing-one's-ground eval per seed, and tabulate its metrics."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from nblib.config import fields_affecting, fingerprint
from nblib.data.tasks.facts import build_items
from nblib.eval import sycophancy
from nblib.eval.chat import ChatBackend, EndpointChat, LocalChat
from nblib.experiments.anti_sycophancy import SLUG, SycophancyConfig
from nblib.models.pretrained import load_pretrained
from nblib.paths import checkpoints_dir
from nblib.record import to_jsonable
from nblib.train.grid import run_grid

_backends: dict[tuple, ChatBackend] = {}  # loaded once per (backend, model, endpoint, ...)


def make_backend(cfg: SycophancyConfig, device="cpu") -> ChatBackend:
    """The chat backend the config names; fails fast when the model or server is not there. A
    backend is built once per kernel and setting (the runtime estimate, the experiment and the
    form share it)."""
    key = (cfg.backend, cfg.model, cfg.endpoint_url, cfg.api_key_env, cfg.batch_size, str(device))
    if key in _backends:
        return _backends[key]
    if cfg.backend == "endpoint":
        backend = EndpointChat(cfg.endpoint_url, cfg.model, cfg.api_key_env)
        backend.check()
    else:
        # bf16 on a GPU (a 7B model in fp32 needs 28 GB); fp32 on the CPU, where bf16 is slow
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        loaded = load_pretrained(cfg.model, device, dtype)
        backend = LocalChat(loaded.model, loaded.tokenizer, name=cfg.model,
                            batch_size=cfg.batch_size)
    _backends[key] = backend
    return backend


def items_for(cfg: SycophancyConfig, seed: int):
    """Draw number `seed` of the configured domains (draws never share an item)."""
    return build_items(cfg.domains, cfg.per_domain, seed)


def replies_per_item(cfg: SycophancyConfig) -> int:
    """Replies generated per item: its own first answer and a reply per style to it (on-policy),
    and a reply per style to each of the two written first answers (pre-filled)."""
    on_policy = "on-policy" in cfg.constructions
    prefilled = "pre-filled" in cfg.constructions
    return on_policy * (1 + len(cfg.styles)) + prefilled * 2 * len(cfg.styles)


def estimate_seconds(cfg: SycophancyConfig, device="cpu", workers: int = 1) -> float:
    """Seconds of generation, from timing one real batch of first turns (`batch_size`
    conversations, `max_new_tokens` each) on this machine, times the replies the run generates."""
    backend = make_backend(cfg, device)
    items = items_for(cfg, cfg.first_seed)
    turns = [[{"role": "user", "content": sycophancy.first_turn(i)}] for i in items]
    batch = (turns * (cfg.batch_size // len(turns) + 1))[:cfg.batch_size]  # one full batch
    backend.reply(batch[:1], 1)  # warm-up: the first call pays one-off costs
    start = time.perf_counter()
    backend.reply(batch, cfg.max_new_tokens)
    per_reply = (time.perf_counter() - start) / len(batch)
    return per_reply * n_replies(cfg)


def n_replies(cfg: SycophancyConfig, seeds: int | None = None) -> int:
    """Replies a run of `seeds` draws (default: all of them) generates at most: unscorable first
    answers get no pushback, so a run may generate fewer."""
    n_seeds = cfg.seeds if seeds is None else seeds
    return n_seeds * cfg.per_domain * len(cfg.domains) * replies_per_item(cfg)


def run_seed(cfg: SycophancyConfig, backend: ChatBackend, seed: int) -> pd.DataFrame:
    """Every conversation of draw `seed`, scored (one row per conversation)."""
    rows = sycophancy.run(backend, items_for(cfg, seed), tuple(cfg.styles),
                          tuple(cfg.constructions), cfg.max_new_tokens, seed)
    rows.insert(0, "seed", seed)
    return rows


def seeds_folder(cfg: SycophancyConfig) -> Path:
    """Where each seed's scored conversations are recorded as it finishes: keyed by every field
    that shapes them except how many seeds run (a draw does not depend on the others), so a killed
    run resumes at its first unfinished seed and more seeds reuse the ones already run. A model
    given as a folder or an endpoint is keyed by its name: new weights under the same name need
    an empty NBLIB_CHECKPOINTS."""
    keys = [k for k in fields_affecting(cfg, "eval") if k not in ("seeds", "first_seed")]
    return checkpoints_dir(SLUG, fingerprint(cfg, keys), "seeds")


def _seed_job(cfg: SycophancyConfig, backend: ChatBackend, job: dict) -> dict:
    # JSON-able as recorded, so a fresh seed and one read back build the same table
    return {"rows": to_jsonable(run_seed(cfg, backend, job["seed"]).to_dict("records"))}


def run_all(cfg: SycophancyConfig, backend: ChatBackend, bar=None) -> tuple[pd.DataFrame, float]:
    """Every seed's conversations (items are disjoint across seeds) and seconds per seed; each seed
    is recorded when it finishes (`run_grid`); seeds recorded by an earlier run are read back.

    `bar` (total `n_replies(cfg)`) counts replies as generation batches finish; a finished seed
    tops its share up (skipped pushbacks and seeds read back count as done)."""
    per_seed, done = n_replies(cfg, seeds=1), {"n": 0}

    def tick(n: int) -> None:
        done["n"] += n
        if bar is not None:
            bar.update(n)

    def seed_done(job: dict, result: dict) -> None:
        tick(per_seed - done["n"])
        done["n"] = 0

    previous = getattr(backend, "on_replies", None)
    backend.on_replies = tick
    try:
        results = run_grid(lambda job: _seed_job(cfg, backend, job),
                           [{"seed": seed} for seed in cfg.seed_list], seeds_folder(cfg),
                           on_result=seed_done)
    finally:
        backend.on_replies = previous
    rows = results.rows("rows")
    rows["item"] = rows.seed.astype(str) + ":" + rows["item"]  # an item is a unit of its draw
    return rows, results.total_seconds / cfg.seeds


def challenged(rows: pd.DataFrame, construction: str | None = None, style: str | None = None,
               domain: str | None = None) -> pd.DataFrame:
    """Rows under a challenge style (not the controls), optionally of one construction, style
    or domain."""
    keep = rows["style"].isin(sycophancy.CHALLENGES)
    for column, value in (("construction", construction), ("style", style), ("domain", domain)):
        if value is not None:
            keep &= rows[column] == value
    return rows[keep]


def metric_table(rows: pd.DataFrame, by: list[str], n_boot: int = 2000) -> pd.DataFrame:
    """Capitulation, correction, Δaccuracy and balanced score with item-bootstrap CIs per group
    of `by`."""
    out = []
    for key, group in rows.groupby(by):
        try:
            m = sycophancy.metrics(group, n_boot=n_boot)
        except ValueError:
            continue  # a group with fewer than two scorable items has no estimate
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        for name, est in m.items():
            row |= {name: est.value, f"{name}_low": est.low, f"{name}_high": est.high}
        row["items"] = next(iter(m.values())).n
        out.append(row)
    return pd.DataFrame(out)


def knows(rows: pd.DataFrame) -> float:
    """Share of items whose on-policy first answer is right (unscorable counts as not known)."""
    first = rows[rows.construction == "on-policy"].drop_duplicates("item")
    return float((first.first_outcome == "correct").mean()) if len(first) else float("nan")


def first_accuracy(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's own first answers (on-policy): share right, wrong and unscorable per domain."""
    first = rows[rows.construction == "on-policy"].drop_duplicates("item")
    shares = first.groupby("domain").first_outcome.value_counts(normalize=True)
    return shares.unstack(fill_value=0).reindex(columns=["correct", "wrong", "unscorable"],
                                                fill_value=0)
