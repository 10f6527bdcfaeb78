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
    assert json.loads((tmp_path / "x=2.json").read_text()) == {"job": {"x": 2}, "result": {"value": 4}}

    def refuse(job):
        raise AssertionError(f"recomputed {job}")

    seen = []
    again = run_grid(refuse, jobs, tmp_path, on_result=lambda job, result: seen.append(job["x"]))
    assert [r["value"] for r in again] == [0, 1, 4, 9] and sorted(seen) == [0, 1, 2, 3]


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
    assert [r["value"] for r in run_grid(flaky, [{"x": i} for i in range(4)], tmp_path)] == [0, 1, 4, 9]
    assert calls == [0, 1, 2, 2, 3]


def test_parallel_processes_give_the_same_results(tmp_path):
    jobs = [{"x": i} for i in range(5)]
    assert run_grid(square, jobs, tmp_path / "a", workers=2) == run_grid(square, jobs, tmp_path / "b")


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
    out = run_jobs(scaled, {"scale": 3}, [{"x": 1}, {"x": 2}], tmp_path, device="cpu", workers=2, bar=bar,
                   label=lambda job: f"x={job['x']}")
    assert out == [{"value": 3, "device": "cpu"}, {"value": 6, "device": "cpu"}]
    assert bar.n == 2 and sorted(bar.postfix) == ["x=1", "x=2"]
