"""A grid of training jobs inside one notebook: each job's result recorded as JSON, resumable, run
in parallel processes on CPU.

A job is a dict of JSON-able keys (e.g. {"width": 32, "seed": 1}); `fn(job)` returns a JSON-able
result. Results land in `folder/<job id>.json` (atomic writes), so a re-run, or a run killed
halfway, redoes only the jobs without a result. Across machines and notebooks, the runner's
`sweep` plays the same role one level up (one papermill run per grid point).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from nblib.record import write_json_atomic


def job_id(job: dict) -> str:
    """'width=32-seed=1' for short keys, else a hash; stable across runs."""
    text = "-".join(f"{k}={job[k]}" for k in sorted(job))
    if len(text) <= 80 and all(c.isalnum() or c in "=-_." for c in text):
        return text
    return hashlib.blake2b(json.dumps(job, sort_keys=True).encode(), digest_size=8).hexdigest()


def _one_thread(fn: Callable, job: dict):
    torch.set_num_threads(1)  # processes, not threads, share the cores
    return fn(job)


def run_grid(fn: Callable[[dict], dict], jobs: Sequence[dict], folder: str | Path, workers: int = 1,
             on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Results of `fn` for every job, in job order; jobs with a recorded result are not rerun.
    `fn` must be importable (a module-level function) when `workers` > 1."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{job_id(job)}.json" for job in jobs]
    results: list[dict | None] = [None] * len(jobs)
    todo = []
    for i, (job, path) in enumerate(zip(jobs, paths, strict=True)):
        if path.is_file():
            results[i] = json.loads(path.read_text())["result"]
            if on_result:
                on_result(job, results[i])
        else:
            todo.append(i)

    def finish(i: int, result: dict) -> None:
        write_json_atomic(paths[i], {"job": jobs[i], "result": result})
        results[i] = result
        if on_result:
            on_result(jobs[i], result)

    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
            futures = {i: pool.submit(_one_thread, fn, jobs[i]) for i in todo}
            for i, future in futures.items():
                finish(i, future.result())
    else:
        for i in todo:
            finish(i, fn(jobs[i]))
    return results


def run_jobs(fn: Callable, cfg, jobs: Sequence[dict], folder: str | Path, device="cpu", workers: int = 1,
             bar=None, label: Callable[[dict], str] | None = None) -> list[dict]:
    """`run_grid` for a notebook's job function `fn(cfg, job, device=...)`: worker processes on CPU
    only (a GPU runs one job at a time), and `bar` (a tqdm bar) ticked per job, with `label(job)`
    as its postfix."""
    parallel = workers if torch.device(device).type == "cpu" else 1

    def tick(job: dict, result: dict) -> None:
        if bar is not None:
            if label is not None:
                bar.set_postfix_str(label(job))
            bar.update(1)

    return run_grid(functools.partial(fn, cfg, device=str(device)), jobs, folder, workers=parallel, on_result=tick)
