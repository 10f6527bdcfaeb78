"""A default-size training grid killed in the middle restarts where it stopped: notebook 04's
grid (50 jobs, two worker processes) is SIGKILLed, with its workers, once its first job has
finished; the rerun redoes no finished job and finds no corrupt record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nblib.config import build
from nblib.experiments.kshot_objective import experiment as ex
from nblib.runner import config_class, find_notebook, parameters_cell
from nblib.train.grid import job_id, run_jobs

HANG_GUARD_S = 1800  # the first default job takes ~35 s on an idle 2-core machine
GRID = """
from nblib.config import build
from nblib.experiments.kshot_objective import experiment as ex
from nblib.runner import config_class, find_notebook, parameters_cell
nb = find_notebook("04")
cfg = build(config_class(nb), {**parameters_cell(nb), "interactive": False})
ex.run_all(cfg, "cpu", workers=2)
"""


def default_config():
    nb = find_notebook("04")
    return build(config_class(nb), {**parameters_cell(nb), "interactive": False})


def wait_for_results(folder: Path, proc: subprocess.Popen) -> list[Path]:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        done = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if done:
            return done
        assert proc.poll() is None, f"the grid exited early:\n{proc.stderr.read()}"
        time.sleep(0.5)
    raise AssertionError(f"no job finished within {HANG_GUARD_S} s")


@pytest.mark.slow
def test_a_killed_default_grid_resumes_without_redoing_finished_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("NBLIB_CHECKPOINTS", str(tmp_path))
    cfg = default_config()
    folder = ex.runs_folder(cfg)
    proc = subprocess.Popen([sys.executable, "-c", GRID], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: workers die too
    try:
        wait_for_results(folder, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(1)  # a worker mid-write is dead too; nothing more lands
    finished = {p.stem: p.read_bytes() for p in folder.glob("*.json")}
    all_ids = {job_id(job) for job in ex.jobs(cfg)}
    assert finished and set(finished) < all_ids, "killed after the first job, before the last"
    for name, blob in finished.items():  # no corrupt record: each parses, with its result
        saved = json.loads(blob)
        assert job_id(saved["job"]) == name and saved["result"]["evals"], name

    rerun = []

    def record_rerun(cfg, job, device):
        rerun.append(job_id(job))
        return {"rerun": True}

    results = run_jobs(record_rerun, cfg, ex.jobs(cfg), folder, "cpu", workers=1)
    assert set(rerun) == all_ids - set(finished)  # only the unfinished jobs run again
    assert sorted(results.resumed) == sorted(finished)
    assert {name: (folder / f"{name}.json").read_bytes() for name in finished} == finished
