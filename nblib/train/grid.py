"""The one job runner: a notebook's grid of training jobs, each result recorded as JSON,
resumable, run in parallel processes on CPU, returned as one flat table.

A job is a dict of JSON-able keys (e.g. {"width": 32, "seed": 1}); `fn(cfg, job, device=...)`
returns a JSON-able dict. Each result lands in `folder/<job id>.json` (atomic write) the moment its
job finishes, so a run killed halfway and restarted redoes only the jobs without a result. Name
`folder` by `config.cache_key(cfg, "train", ...)` so a change to any field that shapes the results
never reuses them. Across machines and notebooks, `nblib.sweep` plays the same role one level up
(one papermill run per grid point).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from nblib.pool import process_pool
from nblib.record import write_json_atomic


def job_id(job: dict) -> str:
    """'width=32-seed=1' for short keys, else a hash; stable across runs."""
    text = "-".join(f"{k}={job[k]}" for k in sorted(job))
    if len(text) <= 80 and all(c.isalnum() or c in "=-_." for c in text):
        return text
    return hashlib.blake2b(json.dumps(job, sort_keys=True).encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class JobResults:
    """Every job's result, in job order: a sequence of result dicts, and tables over them."""

    jobs: list[dict]  # the jobs, as given
    results: list[dict]  # fn's result per job
    seconds: dict[str, float]  # job id -> wall seconds the job took when it ran
    resumed: list[str]  # ids of the jobs read back from the record instead of run

    def __iter__(self) -> Iterator[dict]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> dict:
        return self.results[i]

    @property
    def table(self) -> pd.DataFrame:
        """One row per job: {**job, **result} (list- and dict-valued results as objects)."""
        return pd.DataFrame([{**job, **res} for job, res in zip(self.jobs, self.results,
                                                                strict=True)])

    def rows(self, key: str) -> pd.DataFrame:
        """One row per entry of each job's `result[key]` (a list of dicts), with the job's keys."""
        return pd.DataFrame([{**job, **row} for job, res in zip(self.jobs, self.results,
                                                                strict=True)
                             for row in res[key]])

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds.values()))


def _timed(fn: Callable, job: dict, threads: int | None) -> tuple[dict, float]:
    if threads:
        torch.set_num_threads(threads)  # processes, not threads, share the cores
    start = time.perf_counter()
    result = fn(job)
    return result, time.perf_counter() - start


def run_grid(fn: Callable[[dict], dict], jobs: Sequence[dict], folder: str | Path, workers: int = 1,
             on_result: Callable[[dict, dict], None] | None = None) -> JobResults:
    """Results of `fn(job)` for every job; jobs with a recorded result are not rerun. `fn` must be
    picklable (a module-level function or a partial of one) when `workers` > 1."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [dict(job) for job in jobs]
    ids = [job_id(job) for job in jobs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate jobs in the grid: "
                         f"{sorted(i for i in ids if ids.count(i) > 1)}")
    results: list[dict | None] = [None] * len(jobs)
    seconds: dict[str, float] = {}
    resumed, todo = [], []
    for i, jid in enumerate(ids):
        path = folder / f"{jid}.json"
        if path.is_file():
            saved = json.loads(path.read_text())
            results[i], seconds[jid] = saved["result"], float(saved.get("seconds", 0.0))
            resumed.append(jid)
            if on_result:
                on_result(jobs[i], results[i])
        else:
            todo.append(i)
    if resumed:
        print(f"{len(resumed)} of {len(jobs)} jobs read back "
              f"from {folder} (finished by an earlier run)")

    def finish(i: int, result: dict, took: float) -> None:
        write_json_atomic(folder / f"{ids[i]}.json",
                          {"job": jobs[i], "result": result, "seconds": took})
        results[i], seconds[ids[i]] = result, took
        if on_result:
            on_result(jobs[i], result)

    if workers > 1 and len(todo) > 1:
        # workers die with this process (a killed kernel does not leave them training orphaned)
        with process_pool(min(workers, len(todo))) as pool:
            futures = {pool.submit(_timed, fn, jobs[i], 1): i for i in todo}
            try:
                for future in as_completed(futures):  # record each job the moment it finishes
                    finish(futures[future], *future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    else:
        for i in todo:
            finish(i, *_timed(fn, jobs[i], None))
    return JobResults(jobs, results, seconds, resumed)


def run_jobs(fn: Callable, cfg, jobs: Sequence[dict], folder: str | Path, device="cpu",
             workers: int = 1,
             bar=None, label: Callable[[dict], str] | None = None) -> JobResults:
    """`run_grid` for a notebook's job function `fn(cfg, job, device=...)`: worker processes on CPU
    only (a GPU runs one job at a time), and `bar` (a tqdm bar) ticked per job, with `label(job)`
    as its postfix."""
    parallel = workers if torch.device(device).type == "cpu" else 1

    def tick(job: dict, result: dict) -> None:
        if bar is not None:
            if label is not None:
                bar.set_postfix_str(label(job))
            bar.update(1)

    return run_grid(functools.partial(fn, cfg, device=str(device)), jobs, folder, workers=parallel,
                    on_result=tick)
