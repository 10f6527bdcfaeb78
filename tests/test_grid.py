"""nblib.train.grid: results recorded per job, resumed without rerunning, parallel in processes."""

import json

import pytest

from nblib.train.grid import job_id, run_grid, run_jobs


def square(job):  # module level: picklable for the process pool
    return {"value": job["x"] ** 2}


def scaled(cfg, job, device="cpu"):  # a notebook's job function: fn(cfg, job, device=...)
    return {"value": cfg["scale"] * job["x"], "device": device}


def test_job_ids_are_stable_and_readable():
    assert job_id({"width": 32, "seed": 1}) == "seed=1-width=32"
    assert job_id({"seed": 1, "width": 32}) == "seed=1-width=32"
    assert len(job_id({"name": "a/b c"})) == 16  # hashed when not filename-safe


def test_results_are_recorded_and_not_recomputed(tmp_path):
    jobs = [{"x": i} for i in range(4)]
    assert [r["value"] for r in run_grid(square, jobs, tmp_path)] == [0, 1, 4, 9]
    saved = json.loads((tmp_path / "x=2.json").read_text())
    assert saved["job"] == {"x": 2} and saved["result"] == {"value": 4} and saved["seconds"] >= 0

    def refuse(job):
        raise AssertionError(f"recomputed {job}")

    seen = []
    again = run_grid(refuse, jobs, tmp_path, on_result=lambda job, result: seen.append(job["x"]))
    assert [r["value"] for r in again] == [0, 1, 4, 9] and sorted(seen) == [0, 1, 2, 3]
    assert again.resumed == ["x=0", "x=1", "x=2", "x=3"] and set(again.seconds) == set(
        again.resumed
    )


def test_an_interrupted_grid_resumes_with_the_missing_jobs_only(tmp_path):
    calls = []

    def flaky(job):
        calls.append(job["x"])
        if job["x"] == 2 and len(calls) < 4:
            raise RuntimeError("killed")
        return square(job)

    with pytest.raises(RuntimeError):
        run_grid(flaky, [{"x": i} for i in range(4)], tmp_path)
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == ["x=0", "x=1"]  # nothing half-written
    assert [r["value"] for r in run_grid(flaky, [{"x": i} for i in range(4)], tmp_path)] == [
        0,
        1,
        4,
        9,
    ]
    assert calls == [0, 1, 2, 2, 3]


def test_parallel_processes_give_the_same_results(tmp_path):
    jobs = [{"x": i} for i in range(5)]
    parallel = run_grid(square, jobs, tmp_path / "a", workers=2)
    assert parallel.results == run_grid(square, jobs, tmp_path / "b").results


def fails_on_zero(job):  # module level: picklable
    import time

    if job["x"] == 0:
        time.sleep(1.0)  # the other jobs finish first
        raise RuntimeError("killed")
    return square(job)


def test_a_parallel_grid_records_each_job_as_it_finishes(tmp_path):
    """Job 0 fails after the others are done: their results are on disk (a grid killed after its
    first finished job loses nothing), and the rerun redoes job 0 only."""
    jobs = [{"x": i} for i in range(3)]
    with pytest.raises(RuntimeError):
        run_grid(fails_on_zero, jobs, tmp_path, workers=2)
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == ["x=1", "x=2"]
    again = run_grid(square, jobs, tmp_path)
    assert again.resumed == ["x=1", "x=2"] and [r["value"] for r in again] == [0, 1, 4]


def test_results_as_one_flat_table_and_nested_rows(tmp_path):
    def fn(job):
        return {"loss": job["x"] / 2, "curve": [{"step": s, "y": s * job["x"]} for s in (1, 2)]}

    out = run_grid(fn, [{"x": 1, "seed": 0}, {"x": 2, "seed": 0}], tmp_path)
    assert list(out.table.columns) == [
        "x",
        "seed",
        "loss",
        "curve",
    ] and out.table.loss.tolist() == [0.5, 1.0]
    rows = out.rows("curve")
    assert rows.to_dict("records") == [{"x": 1, "seed": 0, "step": 1, "y": 1},
                                       {"x": 1, "seed": 0, "step": 2, "y": 2},
                                       {"x": 2, "seed": 0, "step": 1, "y": 2},
                                       {"x": 2, "seed": 0, "step": 2, "y": 4}]


def test_duplicate_jobs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        run_grid(square, [{"x": 1}, {"x": 1}], tmp_path)


class Bar:
    """The two tqdm methods run_jobs calls."""

    def __init__(self):
        self.n, self.postfix = 0, []

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text):
        self.postfix.append(text)


def test_run_jobs_passes_config_and_device_and_ticks_the_bar(tmp_path):
    bar = Bar()
    out = run_jobs(scaled, {"scale": 3}, [{"x": 1}, {"x": 2}], tmp_path, device="cpu",
                   workers=2, bar=bar,
                   label=lambda job: f"x={job['x']}")
    assert out.results == [{"value": 3, "device": "cpu"}, {"value": 6, "device": "cpu"}]
    assert bar.n == 2 and sorted(bar.postfix) == ["x=1", "x=2"]


GRID_OF_SLEEPERS = """
import time
from nblib.train.grid import run_grid

def sleep(job):
    time.sleep(600)
    return {}

if __name__ == "__main__":
    run_grid(sleep, [{"i": 0}, {"i": 1}], FOLDER, workers=2)
"""


def test_a_killed_grid_takes_its_worker_processes_with_it(tmp_path):
    """A kernel killed mid-grid (SIGKILL: no clean-up runs) must not leave its workers training."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "grid.py"
    script.write_text(GRID_OF_SLEEPERS.replace("FOLDER", repr(str(tmp_path / "jobs"))))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while len(psutil.Process(proc.pid).children(recursive=True)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
            time.sleep(0.2)
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as the OOM killer or a user would
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == [], f"orphaned workers: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for worker in workers:  # survivors of a failed check
            if worker.is_running():
                worker.kill()
