"""Sweeps: one papermill run per grid point, on a local process pool or a Dask cluster.

    python -m nblib sweep 09 --grid grid.yaml --workers 2            # local processes
    python -m nblib sweep 09 --grid grid.yaml --scheduler tcp://host:8786   # a Dask cluster

Every point is validated before anything runs. Runs land in the usual run records
(papermill_runs/<slug>/<run_id>/), so `load_runs()` sees them and a repeated sweep skips runs
already `ok`. On a cluster the workers must see the same checkout and runs folder (a shared file
system, as on university clusters). A worker process runs one notebook at a time (a run sets
process-wide environment variables), so start workers with one thread. A run holds a file lock
on its record while it executes, so a sweep resumed while the tasks of a killed client still run
waits for them instead of racing them. The local pool's workers die with the client
(`nblib.pool`), kernels included; Dask workers outlive it and finish their runs.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nblib.config import ConfigError
from nblib.env import default_threads
from nblib.paths import runs_dir
from nblib.pool import process_pool
from nblib.runner import (
    RunSpec,
    check_options,
    find_notebook,
    grid_points,
    run_notebook,
)

_PROCESS_LOCK = threading.Lock()  # a run sets process-wide env vars: one run per process at a time


@dataclass
class SweepConfig:
    """What to sweep and where to run it."""

    notebook: str | Path  # a number ('09'), a slug or a path
    grid: dict | list  # {name: [values]} (every combination) or a list of {name: value} points
    profile: str = "default"  # parameter overlay applied under every point
    fixed: dict = field(default_factory=dict)  # overrides shared by every point (a point wins)
    scheduler: str | None = None  # Dask scheduler address (tcp://host:8786); None: local processes
    workers: int = 1  # size of the local process pool (ignored with a scheduler or a client)
    threads: int | None = None  # threads per run; None: the machine's cores / its concurrent runs
    timeout: float | None = None  # per-cell timeout in seconds
    force: bool = False  # re-run points already recorded ok
    kernel: str = "python3"  # Jupyter kernel name
    root: Path | None = None  # runs folder (default papermill_runs/ or $NBLIB_RUNS)
    connect_timeout: float = 30.0  # seconds to reach the scheduler before giving up

    def __post_init__(self) -> None:
        check_options(workers=self.workers, threads=self.threads, timeout=self.timeout)
        if not (isinstance(self.connect_timeout, int | float) and self.connect_timeout > 0):
            raise ConfigError(f"connect_timeout={self.connect_timeout!r}: expected seconds > 0")


def cores() -> int:
    """Cores this process may use (a Slurm or cgroup allocation, not the whole node)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_grid(path: str | Path) -> dict | list:
    """A grid from a YAML file, checked for shape (names and values are checked by `plan`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file {str(path)!r} not found")
    try:
        grid = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"grid file {path}: not valid YAML ({err})") from err
    shape = "a mapping {name: [values, ...]} or a list of {name: value} points"
    if isinstance(grid, dict) and grid:
        empty = [name for name, values in grid.items() if values == []]
        if empty:
            raise ConfigError(f"grid file {path}: {empty} have no values; expected {shape}")
    elif isinstance(grid, list) and grid:
        bad = [point for point in grid if not isinstance(point, dict)]
        if bad:
            raise ConfigError(f"grid file {path}: point {bad[0]!r} "
                              f"is not a mapping; expected {shape}")
    else:
        raise ConfigError(f"grid file {path}: found {type(grid).__name__} "
                          f"{grid!r}; expected {shape}")
    return grid


def plan(cfg: SweepConfig) -> list[RunSpec]:
    """One RunSpec per distinct grid point, each validated: bad input fails before any run."""
    nb = find_notebook(cfg.notebook)
    specs: dict[str, RunSpec] = {}
    for point in grid_points(cfg.grid):
        spec = RunSpec(nb, cfg.profile, {**cfg.fixed, **point})
        try:
            spec.parameters()
        except ConfigError as err:
            raise ConfigError(f"grid point {point}: {err}") from err
        specs.setdefault(spec.run_id(), spec)  # equal points share one run (and one record)
    return list(specs.values())


def run_locked(spec: RunSpec, root: Path, threads: int | dict[str, int] | None, **kwargs) -> dict:
    """Run one spec holding the lock on its record (the task that executes on a worker).

    `threads` may map Dask worker addresses to their cap; a worker missing from it (one that
    joined later, e.g. a new Slurm job) takes the cores of its own allocation.
    """
    if isinstance(threads, dict):
        from distributed import get_worker

        threads = threads.get(get_worker().address) or cores()
    lock_path = Path(root) / spec.slug / f".{spec.run_id()}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with _PROCESS_LOCK, open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the OS if this process dies
        return run_notebook(spec, root=root, threads=threads, **kwargs)


def dask_thread_caps(client) -> dict[str, int]:
    """Worker address -> threads per run: its cores over the worker processes on its host (a
    worker process runs one notebook at a time)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    host_cores = client.run(cores)
    per_host: dict[str, int] = {}
    for info in workers.values():
        per_host[info["host"]] = per_host.get(info["host"], 0) + 1
    return {addr: max(1, host_cores.get(addr, 1) // per_host[info["host"]])
            for addr, info in workers.items()}


def _failed(spec: RunSpec, err: BaseException) -> dict:
    """The result of a run whose worker died or could not be reached."""
    return {"notebook": spec.slug, "run_id": spec.run_id(), "profile": spec.profile,
            "params": spec.parameters(), "status": "failed",
            "error": f"{type(err).__name__}: {err}"}


def _collect(futures: dict, on_result: Callable[[dict], Any] | None,
             completed=as_completed) -> list[dict]:
    """Results in completion order, each passed to `on_result` as it arrives."""
    results = []
    for future in completed(futures):
        try:
            result = future.result()
        except Exception as err:  # the worker died (KilledWorker, BrokenProcessPool, ...)
            result = _failed(futures[future], err)
        results.append(result)
        if on_result:
            on_result(result)
    return results


def sweep(cfg: SweepConfig, *, client=None,
          on_result: Callable[[dict], Any] | None = None) -> list[dict]:
    """Run every point of `cfg.grid`; a failed run is reported and the others go on.

    `client`: a connected `distributed.Client` (e.g. over a `LocalCluster` or a `SLURMCluster`);
    without one, `cfg.scheduler` names a scheduler to connect to, else a local process pool runs.
    """
    specs = plan(cfg)
    root = Path(cfg.root or runs_dir()).resolve()
    opts = dict(timeout=cfg.timeout, force=cfg.force, kernel=cfg.kernel)
    if client is None and cfg.scheduler is None:
        workers = max(1, min(cfg.workers, len(specs)))
        threads = cfg.threads or default_threads(workers)
        pool = process_pool(workers)
        try:
            futures = {pool.submit(run_locked, s, root, threads, **opts): s for s in specs}
            return _collect(futures, on_result)
        finally:
            pool.shutdown(cancel_futures=True)
    from distributed import Client
    from distributed import as_completed as dask_completed

    own = client is None
    if own:
        try:
            client = Client(cfg.scheduler, timeout=f"{cfg.connect_timeout}s")
        except OSError as err:
            raise ConfigError("cannot reach the Dask scheduler at "
                              f"{cfg.scheduler!r} ({err}); start one "
                              "(`dask scheduler`) or give its address as tcp://host:port") from err
    try:
        threads = cfg.threads or dask_thread_caps(client)
        futures = {client.submit(run_locked, s, root, threads, **opts, pure=False,
                                 key=f"nblib-{s.slug}-{s.run_id()}-{uuid.uuid4().hex[:6]}"): s
                   for s in specs}
        return _collect(futures, on_result, dask_completed)
    finally:
        if own:
            client.close()
