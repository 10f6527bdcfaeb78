"""Run records: `metrics.json` per run, written atomically, read back into pandas.

A notebook calls `start_run(slug, cfg)` once, then `record(key, value)` for every result. Under the
runner, $NBLIB_RUN_DIR names the run folder; in JupyterLab the record goes to
papermill_runs/<slug>/interactive/. The runner sets the final status (`ok` or `failed`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nblib.paths import runs_dir

RUN_DIR_ENV = "NBLIB_RUN_DIR"
METRICS = "metrics.json"
# sibling folders of a forced re-run (nblib.runner): its attempt, the record it replaces, a failure
ATTEMPT = re.compile(r"\.(new-\d+|old-\d+|failed)$")
_current: dict[str, Any] = {}  # {"slug": ..., "dir": Path} of this kernel's run
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK  # what open() gives a new file; mkstemp's own 0o600 hides records


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types from dataclasses, numpy/torch scalars and
    arrays; non-finite floats -> None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy and torch, scalars and arrays
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temp file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(to_jsonable(obj), f, indent=2, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}


def update_metrics(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into run_dir/metrics.json (atomically) and return the result."""
    metrics = read_json(Path(run_dir) / METRICS)
    metrics.update(to_jsonable(fields))
    write_json_atomic(Path(run_dir) / METRICS, metrics)
    return metrics


def start_run(slug: str, cfg: Any = None) -> Path:
    """Open this kernel's run record and return its folder."""
    from nblib.env import env_info

    run_dir = Path(os.environ.get(RUN_DIR_ENV) or runs_dir() / slug / "interactive")
    run_dir.mkdir(parents=True, exist_ok=True)
    _current.update(slug=slug, dir=run_dir)
    headless = RUN_DIR_ENV in os.environ
    fields = dict(notebook=slug, env=env_info(), values={}, verdict=None)
    if cfg is not None:
        fields["config"] = dataclasses.asdict(cfg)
    if not headless:  # the runner owns status and timings of headless runs
        fields.update(status="interactive", run_id="interactive", profile="interactive",
                      started=now())
    update_metrics(run_dir, **fields)
    return run_dir


def current_run_dir() -> Path:
    if "dir" not in _current:
        raise RuntimeError("no run is open: call nblib.start_run(slug, cfg) first")
    return _current["dir"]


def current_slug() -> str:
    current_run_dir()
    return _current["slug"]


def record(key: str, value: Any) -> Any:
    """Record a result under `values[key]` (or the run's verdict
    for key 'verdict'); returns value."""
    run_dir = current_run_dir()
    metrics = read_json(run_dir / METRICS)
    if key == "verdict":
        metrics["verdict"] = to_jsonable(value)
    else:
        metrics.setdefault("values", {})[key] = to_jsonable(value)
    write_json_atomic(run_dir / METRICS, metrics)
    return value


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` runs on this host (a zombie that no one reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): it exists
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def run_status(metrics: dict) -> str:
    """The record's status, 'stale' for a `running` run whose owner process (pid, host) is gone
    from this host (killed before it could record an outcome); a re-run redoes it."""
    status = metrics.get("status") or ""
    pid = metrics.get("pid")
    if (status == "running" and isinstance(pid, int) and metrics.get("host") == os.uname().nodename
            and not pid_alive(pid)):
        return "stale"
    return status


def run_dirs(root: str | Path, notebook: str | None = None) -> list[Path]:
    """Run folders under root/<slug>/ (those holding a metrics.json), forced re-runs' attempt
    folders left out."""
    return [path.parent for path in sorted(Path(root).glob(f"{notebook or '*'}/*/{METRICS}"))
            if not ATTEMPT.search(path.parent.name)]


def read_run(run_dir: str | Path) -> dict:
    """The run's metrics.json as a dict, with `dir` added (empty dict if there is none)."""
    metrics = read_json(Path(run_dir) / METRICS)
    return {**metrics, "dir": str(run_dir)} if metrics else {}


def load_runs(root: str | Path | None = None, notebook: str | None = None):
    """All runs under `root` (default papermill_runs/) as a DataFrame, one row per run.

    Columns: notebook, run_id, profile, status (`run_status`: 'stale' for a killed run), verdict
    (label), duration_s, started, dir, then `param.<name>` for the parameters and `value.<key>` for
    scalar recorded values.
    """
    import pandas as pd

    root = Path(root) if root is not None else runs_dir()
    rows = []
    for run_dir in run_dirs(root, notebook):
        run = read_run(run_dir)
        verdict = run.get("verdict") or {}
        row = {k: run.get(k) for k in ("notebook", "run_id", "profile", "status", "duration_s",
                                       "started", "finished", "dir")}
        row["status"] = run_status(run)
        row["verdict"] = verdict.get("label") if isinstance(verdict, dict) else verdict
        row.update({f"param.{k}": v for k, v in (run.get("params") or {}).items()})
        row.update({f"value.{k}": v for k, v in (run.get("values") or {}).items()
                    if isinstance(v, bool | int | float | str) or v is None})
        rows.append(row)
    return pd.DataFrame(rows)


class InvariantError(AssertionError):
    """An invariant that must hold at any scale failed (names every failing one)."""


def check_invariants(invariants: dict[str, bool]) -> dict[str, bool]:
    """Record `invariants` (name -> holds?), print them, and raise InvariantError naming each
    one that fails; the smoke test reads them back from metrics.json."""
    if not invariants:
        raise ValueError("check_invariants: no invariants given")
    invariants = {name: bool(holds) for name, holds in invariants.items()}
    record("invariants", invariants)
    for name, holds in invariants.items():
        print(f"{'ok    ' if holds else 'FAILED'} {name}")
    failed = [name for name, holds in invariants.items() if not holds]
    if failed:
        raise InvariantError(f"invariants failed: {failed}")
    return invariants


def record_verdicts(verdicts: dict[str, Any], headline: str) -> Any:
    """Record every verdict under `verdicts` and `verdicts[headline]` as the run's verdict, print
    each, and return the headline; the reference record and the README gallery read all of them."""
    if headline not in verdicts:
        raise KeyError(f"headline {headline!r} is not one of the verdicts {list(verdicts)}")
    record("verdicts", verdicts)
    record("headline", headline)
    record("verdict", verdicts[headline])
    for name, v in verdicts.items():
        print(f"[{name}{' · headline' if name == headline else ''}] {v}\n")
    return verdicts[headline]


# keys of recorded values that measure time or the machine, not the experiment
TIMING_WORDS = ("seconds", "runtime", "duration", "timing", "elapsed", "env")


def _is_timing(key: str) -> bool:
    return any(word in key.lower() for word in TIMING_WORDS)


def _diff(old, new, path: str = "") -> list[str]:
    """Paths (a.b[3].c) where two JSON values differ, ignoring timing keys."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if _is_timing(str(key)):
                continue
            if key not in old or key not in new:
                out.append(f"{path}.{key}: only in {'new' if key not in old else 'old'}")
            else:
                out += _diff(old[key], new[key], f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: length {len(old)} -> {len(new)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in _diff(a, b, f"{path}[{i}]")
        ]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def differences(old: dict, new: dict) -> list[str]:
    """Where two runs' metrics differ in their recorded values or verdict, timings, runtime
    estimates and the environment aside, as paths ('values.verdicts.x.value: 0.1 -> 0.2'): what a
    refactor or a rerun must leave unchanged."""
    return (_diff(old.get("values", {}), new.get("values", {}), "values")
            + _diff(old.get("verdict"), new.get("verdict"), "verdict"))
