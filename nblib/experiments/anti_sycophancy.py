"""Notebook 12's config and steps: load a chat model (local or behind an OpenAI-compatible
endpoint), draw items, run the standing-one's-ground eval per seed, and tabulate its metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from nblib.config import ConfigError, param
from nblib.data.tasks.facts import BUILDERS, build_items, pool_sizes
from nblib.eval import sycophancy
from nblib.eval.chat import ChatBackend, EndpointChat, LocalChat
from nblib.models.pretrained import load_pretrained

SLUG = "12_anti_sycophancy"


@dataclass(frozen=True)
class SycophancyConfig:
    """Parameters of notebook 12 (one per line of its parameters cell)."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)")
    seeds: int = param(3, "disjoint draws of items (every seed sees different questions)", low=1, high=50)
    backend: str = param("local", "where the model runs", choices=("local", "endpoint"))
    model: str = param("smollm2-135m-instruct", "local: packaged name, folder or hub id; endpoint: served model name")
    endpoint_url: str = param("", "OpenAI-compatible base URL (backend 'endpoint'), e.g. http://127.0.0.1:8000/v1")
    api_key_env: str = param("OPENAI_API_KEY", "environment variable holding the endpoint's key")
    domains: list[str] = param(["capitals", "elements", "arithmetic", "truefalse"], "item domains")
    per_domain: int = param(8, "items per domain per seed", low=2, high=1000)
    styles: list[str] = param(list(sycophancy.STYLES), "pushback styles (challenges and controls)")
    constructions: list[str] = param(list(sycophancy.CONSTRUCTIONS), "how the first answer is made")
    max_new_tokens: int = param(32, "tokens generated per reply", low=4, high=4096)
    batch_size: int = param(16, "conversations generated together (local backend)", low=1, high=1024)
    device: str = param("auto", "torch device (local backend)", choices=("auto", "cpu", "cuda"))
    n_boot: int = param(4000, "bootstrap resamples of items", low=100, high=10**6)

    def check(self) -> None:
        """Cross-field rules, checked before any model is loaded."""
        for name, allowed in (("domains", BUILDERS), ("styles", sycophancy.STYLES),
                              ("constructions", sycophancy.CONSTRUCTIONS)):
            values = getattr(self, name)
            bad = [v for v in values if v not in allowed]
            if bad or not values or len(set(values)) != len(values):
                raise ConfigError(f"parameter {name}={values!r}: each must be one of {list(allowed)}, "
                                  "at least one, no repeats")
        if not set(self.styles) & set(sycophancy.CHALLENGES):
            raise ConfigError(f"parameter styles={self.styles!r}: needs at least one challenge "
                              f"{list(sycophancy.CHALLENGES)}")
        if self.backend == "endpoint" and not self.endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(f"parameter endpoint_url={self.endpoint_url!r}: backend 'endpoint' needs an "
                              "http(s) base URL such as http://127.0.0.1:8000/v1")
        sizes = {d: n for d, n in pool_sizes().items() if d in self.domains}
        for domain, size in sizes.items():
            if self.seeds * self.per_domain > size:
                raise ConfigError(f"parameters seeds={self.seeds} x per_domain={self.per_domain}: {domain} has "
                                  f"only {size} items (disjoint draws need seeds * per_domain <= {size})")


def make_backend(cfg: SycophancyConfig, device="cpu") -> ChatBackend:
    """The chat backend the config names; fails fast when the model or server is not there."""
    if cfg.backend == "endpoint":
        backend = EndpointChat(cfg.endpoint_url, cfg.model, cfg.api_key_env)
        backend.check()
        return backend
    loaded = load_pretrained(cfg.model, device)
    return LocalChat(loaded.model, loaded.tokenizer, name=cfg.model, batch_size=cfg.batch_size)


def items_for(cfg: SycophancyConfig, seed: int):
    return build_items(cfg.domains, cfg.per_domain, seed)


def run_seed(cfg: SycophancyConfig, backend: ChatBackend, seed: int) -> pd.DataFrame:
    rows = sycophancy.run(backend, items_for(cfg, seed), tuple(cfg.styles), tuple(cfg.constructions),
                          cfg.max_new_tokens, seed)
    rows.insert(0, "seed", seed)
    return rows


def run_all(cfg: SycophancyConfig, backend: ChatBackend, bar=None) -> tuple[pd.DataFrame, float]:
    """Every seed's conversations (items are disjoint across seeds) and seconds per seed."""
    frames, start = [], time.perf_counter()
    for seed in range(cfg.seeds):
        frames.append(run_seed(cfg, backend, seed))
        if bar is not None:
            bar.update(1)
    rows = pd.concat(frames, ignore_index=True)
    rows["item"] = rows.seed.astype(str) + ":" + rows["item"]  # an item is a unit within its draw
    return rows, (time.perf_counter() - start) / cfg.seeds


def challenged(rows: pd.DataFrame, construction: str | None = None, style: str | None = None,
               domain: str | None = None) -> pd.DataFrame:
    """Rows under a challenge style (not the controls), optionally of one construction/style/domain."""
    keep = rows["style"].isin(sycophancy.CHALLENGES)
    for column, value in (("construction", construction), ("style", style), ("domain", domain)):
        if value is not None:
            keep &= rows[column] == value
    return rows[keep]


def metric_table(rows: pd.DataFrame, by: list[str], n_boot: int = 2000) -> pd.DataFrame:
    """Capitulation, correction, Δaccuracy and balanced score with CIs per group of `by`."""
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


def first_accuracy(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's own first answers (on-policy): share right, wrong and unscorable per domain."""
    first = rows[rows.construction == "on-policy"].drop_duplicates("item")
    return (first.groupby("domain").first_outcome.value_counts(normalize=True).unstack(fill_value=0)
            .reindex(columns=["correct", "wrong", "unscorable"], fill_value=0))
