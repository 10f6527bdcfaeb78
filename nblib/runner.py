"""Run notebooks headlessly with papermill: one run, or many at once (sweeps over a grid:
`nblib.sweep`).

Every parameter is checked before a kernel starts: names against the notebook's parameters cell,
types and ranges against its config dataclass (named in the notebook's `metadata.nblib.config`).
A run lands in papermill_runs/<slug>/<run_id>/ with notebook.ipynb, params.json, metrics.json and
report.html. `run_id` is derived from the parameters, so a repeated sweep skips runs already `ok`.
Pool workers die with the process that started them (`nblib.pool`), kernels included.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import itertools
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nblib.config import ConfigError, build
from nblib.env import default_threads
from nblib.paths import figures_dir, notebooks_dir, profiles_dir, runs_dir
from nblib.pool import process_pool
from nblib.record import (
    METRICS,
    RUN_DIR_ENV,
    now,
    pid_alive,
    read_json,
    update_metrics,
    write_json_atomic,
)

# recorded values a reference_run.json keeps
REFERENCE_VALUES = ("headline", "verdicts", "invariants", "runtime_estimate", "figures")
THREAD_VARS = ("NBLIB_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def list_notebooks() -> list[Path]:
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def find_notebook(name: str | Path) -> Path:
    """A notebook by path, slug ('09_mlp_in_context') or number ('09' or '9')."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    key = str(name).removesuffix(".ipynb")
    matches = [nb for nb in list_notebooks()
               if nb.stem == key or nb.stem.split("_")[0] == key.zfill(2)]
    if len(matches) != 1:
        names = [nb.stem for nb in list_notebooks()]
        raise ConfigError(f"notebook {str(name)!r} not found; available: {names}")
    return matches[0]


def parameters_cell(nb_path: Path) -> dict[str, Any]:
    """Name -> default value of the literal assignments in the cell tagged `parameters`."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ConfigError(f"{nb_path.name}: needs exactly one cell "
                          f"tagged 'parameters', found {len(cells)}")
    params = {}
    for node in ast.parse(cells[0].source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ConfigError(f"{nb_path.name}: the parameters cell "
                              "may hold only `name = literal` lines")
        try:
            params[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError as err:
            raise ConfigError(f"{nb_path.name}: parameter "
                              f"{node.targets[0].id} is not a literal") from err
    return params


def config_class(nb_path: Path) -> type | None:
    """The config dataclass named in the notebook's metadata.nblib.config ('module:Class')."""
    import nbformat

    target = nbformat.read(nb_path, as_version=4).metadata.get("nblib", {}).get("config")
    if not target:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def profiles(slug: str) -> list[str]:
    return ["default", *sorted(p.stem for p in profiles_dir(slug).glob("*.yaml"))]


def load_profile(slug: str, profile: str) -> dict[str, Any]:
    """The overlay of a profile ('default' is the parameters cell itself, an empty overlay)."""
    if profile == "default":
        return {}
    path = profiles_dir(slug) / f"{profile}.yaml"
    if not path.is_file():
        raise ConfigError(f"profile {profile!r} not found for {slug}; available: {profiles(slug)}")
    return yaml.safe_load(path.read_text()) or {}


def parse_value(text: str) -> Any:
    """A command-line value: a Python literal (1e-3, [4, 8], None,
    True) or YAML (null, true), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = yaml.safe_load(text)
        return (
            value if isinstance(value, bool | int | float | list | dict) or value is None else text
        )


@dataclass(frozen=True)
class RunSpec:
    """One notebook run: which notebook, which profile, which overrides."""

    notebook: Path  # the .ipynb to execute
    profile: str = "default"  # parameter overlay from notebooks/profiles/<slug>/<profile>.yaml
    overrides: dict = field(default_factory=dict)  # parameter name -> value, applied last

    @property
    def slug(self) -> str:
        return self.notebook.stem

    def parameters(self) -> dict[str, Any]:
        """Profile overlay then overrides, validated; raises
        ConfigError before any kernel starts."""
        declared = parameters_cell(self.notebook)
        given = {**load_profile(self.slug, self.profile), **self.overrides}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown} for {self.slug}; valid names: "
                              f"{sorted(declared)}")
        cls = config_class(self.notebook)
        if cls is not None:
            build(cls, {**declared, **given, "interactive": False})
        return {**given, "interactive": False}

    def run_id(self) -> str:
        blob = json.dumps({"notebook": self.slug, "params": self.parameters()}, sort_keys=True)
        return f"{self.profile}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _thread_env(threads: int | None) -> dict[str, str]:
    return {var: str(threads) for var in THREAD_VARS} if threads else {}


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_options(*, workers: int = 1, threads: int | None = None,
                  timeout: float | None = None) -> None:
    """Raise ConfigError for a pool size, a thread cap or a cell timeout that cannot work."""
    if not _is_int(workers) or workers < 1:
        raise ConfigError(f"workers={workers!r}: expected an integer >= 1 (runs at once)")
    if threads is not None and (not _is_int(threads) or threads < 1):
        raise ConfigError(f"threads={threads!r}: expected an integer >= 1 (torch threads per "
                          "run), or None for cores / workers")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not timeout > 0):
        raise ConfigError(f"timeout={timeout!r}: expected seconds > 0 per cell, or None for "
                          "no limit")


def run_notebook(spec: RunSpec, *, root: Path | None = None, kernel: str = "python3",
                 timeout: float | None = None, threads: int | None = None, force: bool = False,
                 reference: bool = False, progress: bool = False) -> dict:
    """Execute one run and return its metrics with `dir`; a run already recorded `ok` is skipped.
    With `progress`, a bar on stderr counts cells with the elapsed time, and the notebook's own
    runtime estimate is printed as soon as its setup cell records it.

    A run not `ok` (failed, interrupted) is redone from scratch in its folder. A forced re-run of
    an `ok` run executes in the sibling folder `<run_id>.new-<pid>` and replaces the record only
    when it succeeds. When it fails, the `ok` record stays untouched and the attempt is kept beside
    it as `<run_id>.failed` (the result: its metrics, `dir` that folder, `kept` the record's)
    until a run succeeds. Reports and `load_runs` ignore those sibling folders; ones left by a
    dead process are cleaned by the next run of that run_id.
    """
    from nblib.report import render_run

    check_options(threads=threads, timeout=timeout)
    params = spec.parameters()
    run_dir = Path(root or runs_dir()) / spec.slug / spec.run_id()
    _clean_attempts(run_dir)
    old = read_json(run_dir / METRICS)
    if old.get("status") == "ok" and not force:
        return {**old, "skipped": True, "dir": str(run_dir)}
    work = run_dir
    if old.get("status") == "ok":  # forced: the good record stays until a new one replaces it
        work = run_dir.with_name(f"{run_dir.name}.new-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)  # an interrupted or failed run is redone from scratch
    outcome = _execute(spec, work, run_dir.name, params, kernel=kernel, timeout=timeout,
                       threads=threads, progress=progress)
    ok = outcome["status"] == "ok"
    dest = run_dir if work == run_dir or ok else run_dir.with_name(f"{run_dir.name}.failed")
    _retarget(work, dest)
    metrics = update_metrics(work, **outcome)
    if (work / "notebook.ipynb").is_file():  # after the outcome: the report's box shows it
        render_run(work)
    if work != dest:
        _replace(work, dest)
    if ok:  # an earlier forced re-run's failure is obsolete now
        shutil.rmtree(run_dir.with_name(f"{run_dir.name}.failed"), ignore_errors=True)
    if reference and ok:
        publish_figures(run_dir, spec.slug)
    kept = {} if dest == run_dir else {"kept": str(run_dir)}
    return {**metrics, "dir": str(dest), **kept}


# the kernel's own log: without this, ipykernel warns on every start that its loopback TCP
# connection is not encrypted (the runner's kernels listen on 127.0.0.1 only)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def _announce_estimate(work: Path, slug: str, done: threading.Event) -> None:
    """Print the notebook's runtime estimate once its setup cell has recorded it."""
    while not done.wait(2.0):
        value = read_json(work / METRICS).get("values", {}).get("runtime_estimate")
        if isinstance(value, dict) and isinstance(value.get("seconds"), int | float):
            from nblib.session import format_seconds

            print(f"{slug}: the notebook estimates {format_seconds(value['seconds'])} for its "
                  "experiment", file=sys.stderr, flush=True)
            return


def _execute(spec: RunSpec, work: Path, run_id: str, params: dict, *, kernel: str,
             timeout: float | None, threads: int | None, progress: bool = False) -> dict:
    """Run the notebook recording into `work` (a new folder); returns the outcome fields."""
    import papermill as pm

    work.mkdir(parents=True)
    write_json_atomic(work / "params.json", params)
    update_metrics(work, notebook=spec.slug, run_id=run_id, profile=spec.profile, params=params,
                   status="running", started=now(), host=os.uname().nodename, pid=os.getpid())
    env = {RUN_DIR_ENV: str(work), **_thread_env(threads)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t0, outcome = time.perf_counter(), {"status": "ok"}
    done = threading.Event()
    if progress:
        threading.Thread(target=_announce_estimate, args=(work, spec.slug, done),
                         daemon=True).start()
    bar = {"desc": spec.slug, "file": sys.stderr, "ascii": True} if progress else False
    try:
        pm.execute_notebook(spec.notebook, work / "notebook.ipynb", parameters=params,
                            kernel_name=kernel, cwd=str(spec.notebook.parent), progress_bar=bar,
                            execution_timeout=timeout, extra_arguments=KERNEL_ARGS)
    except pm.PapermillExecutionError as err:
        outcome = {"status": "failed", "error": f"{err.ename}: {err.evalue}",
                   "failed_cell": err.exec_count}
    except Exception as err:  # kernel died, timed out, could not start
        outcome = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    finally:
        done.set()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {**outcome, "finished": now(), "duration_s": round(time.perf_counter() - t0, 1)}


_ATTEMPT = re.compile(r"\.(new|old)-(\d+)")  # `<run_id>` + this: a forced re-run's folders


def _clean_attempts(run_dir: Path) -> None:
    """Remove the attempt folders of forced re-runs of `run_dir` whose process is gone; a record
    moved aside by a swap that died midway is put back."""
    if not run_dir.parent.is_dir():
        return
    for path in run_dir.parent.iterdir():
        match = _ATTEMPT.fullmatch(path.name.removeprefix(run_dir.name))
        if not path.name.startswith(run_dir.name) or match is None:
            continue
        pid = int(match[2])
        if pid != os.getpid() and pid_alive(pid):
            continue  # that run is still going
        if match[1] == "old" and not run_dir.exists():
            path.rename(run_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _replace(work: Path, dest: Path) -> None:
    """Move the finished attempt `work` to `dest`, replacing what is there with two renames."""
    aside = dest.with_name(f"{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(aside)
    work.rename(dest)
    shutil.rmtree(aside, ignore_errors=True)


def _retargeted(obj: Any, old: str, new: str) -> Any:
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, dict):
        return {k: _retargeted(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_retargeted(v, old, new) for v in obj]
    return obj


def _retarget(work: Path, dest: Path) -> None:
    """Point the absolute paths that a run executed in `work` recorded (papermill's output_path,
    what cells printed, recorded values) at `dest`, where the run is about to move."""
    if work == dest:
        return
    old, new = str(work), str(dest)
    notebook = work / "notebook.ipynb"
    if notebook.is_file():
        nb = json.loads(notebook.read_text())
        import nbformat

        nbformat.write(nbformat.from_dict(_retargeted(nb, old, new)), notebook)
    write_json_atomic(work / METRICS, _retargeted(read_json(work / METRICS), old, new))


def publish_figures(run_dir: Path, slug: str) -> Path:
    """Copy a reference run's figures into the committed figures/<slug>/ (replacing old ones), with
    its record: every verdict (the README gallery is generated from them), the invariants and the
    runtime estimate next to the measured duration."""
    target = figures_dir(slug)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(Path(run_dir) / "figures", target)
    metrics = read_json(Path(run_dir) / METRICS)
    values = metrics.get("values") or {}
    write_json_atomic(
        target / "reference_run.json",
        {
            **{
                k: v
                for k, v in metrics.items()
                if k
                in (
                    "notebook",
                    "run_id",
                    "profile",
                    "params",
                    "verdict",
                    "duration_s",
                    "finished",
                    "env",
                )
            },
            **{k: values[k] for k in REFERENCE_VALUES if k in values},
        },
    )
    return target


def grid_points(grid: dict[str, list] | list[dict]) -> list[dict]:
    """A grid as {name: [values]} (every combination) or an explicit list of parameter dicts."""
    if isinstance(grid, list):
        return [dict(point) for point in grid]
    for name, values in grid.items():
        if not isinstance(values, list):
            raise ConfigError(f"grid entry {name}={values!r}: expected a list of values")
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def run_many(specs: Iterable[RunSpec], *, workers: int = 1, executor: Executor | None = None,
             threads: int | None = None, on_result=None, **kwargs) -> list[dict]:
    """Run specs on `executor` (default: a process pool of `workers`); failures don't stop the rest.

    Every spec and option is validated before the first run starts. Each run caps its threads to
    `default_threads(workers)` unless `threads` says otherwise.
    """
    check_options(workers=workers, threads=threads, timeout=kwargs.get("timeout"))
    specs = list(specs)
    for spec in specs:
        spec.parameters()
    threads = threads or default_threads(workers)
    own = executor is None
    if own:
        executor = process_pool(workers)
    results = []
    try:
        futures = {executor.submit(run_notebook, s, threads=threads, **kwargs): s for s in specs}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # the worker itself died
                spec = futures[future]
                result = {"notebook": spec.slug, "status": "failed",
                          "error": f"{type(err).__name__}: {err}"}
            results.append(result)
            if on_result:
                on_result(result)
    finally:
        if own:
            executor.shutdown(cancel_futures=True)
    return results
