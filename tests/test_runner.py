"""nblib.runner: notebook discovery, parameter validation before any kernel, runs, sweeps, failures.

Kernel-backed tests (marked `notebooks`) execute the fixture notebook with real papermill; the
module-scoped and session-scoped runs are shared to keep kernel starts few.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from fixture_config import FixtureConfig

from nblib.config import ConfigError
from nblib.record import load_runs, read_json, update_metrics
from nblib.runner import (
    RunSpec,
    _thread_env,
    config_class,
    find_notebook,
    grid_points,
    list_notebooks,
    load_profile,
    parameters_cell,
    parse_value,
    profiles,
    publish_figures,
    run_many,
    run_notebook,
)

pytestmark = pytest.mark.usefixtures("nbenv")
VALID = ["fail", "interactive", "lr", "mode", "n", "seed", "sleep", "steps", "widths"]


def _write_nb(path: Path, *sources: str, tags=("parameters",), metadata=None) -> Path:
    cells = [nbformat.v4.new_code_cell(src, metadata={"tags": list(tags)} if i == 0 else {})
             for i, src in enumerate(sources)]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata or {})
    nbformat.write(nb, path)
    return path


# --- discovery ---------------------------------------------------------------------------------

def test_find_notebook_by_slug_number_and_path(nbenv):
    assert list_notebooks() == [nbenv.notebook]
    for name in ("01_fixture", "01", "1", "01_fixture.ipynb", str(nbenv.notebook)):
        assert find_notebook(name) == nbenv.notebook, name
    with pytest.raises(ConfigError, match=r"notebook '99' not found; available: \['01_fixture'\]"):
        find_notebook("99")


def test_parameters_cell_config_class_and_profiles(nbenv):
    assert parameters_cell(nbenv.notebook) == {
        "seed": 0, "n": 8, "steps": 3, "lr": 1e-3, "mode": "fast", "widths": [4, 8], "fail": False,
        "sleep": 0.0, "interactive": True}
    assert config_class(nbenv.notebook) is FixtureConfig
    assert profiles("01_fixture") == ["default", "smoke"]
    assert load_profile("01_fixture", "default") == {}
    assert load_profile("01_fixture", "smoke") == {"n": 6, "steps": 2}
    with pytest.raises(ConfigError,
                       match=r"profile 'full' not found for "
                       r"01_fixture; available: \['default', 'smoke'\]"):
        load_profile("01_fixture", "full")


def test_parameters_cell_must_be_one_cell_of_literals(tmp_path):
    nb = _write_nb(tmp_path / "a.ipynb", "x = 1\ny = compute()")
    with pytest.raises(ConfigError, match="parameter y is not a literal"):
        parameters_cell(nb)
    nb = _write_nb(tmp_path / "b.ipynb", "x = 1\nprint(x)")
    with pytest.raises(ConfigError, match="only `name = literal` lines"):
        parameters_cell(nb)
    nb = _write_nb(tmp_path / "c.ipynb", "x = 1", tags=())
    with pytest.raises(ConfigError, match="exactly one cell tagged 'parameters', found 0"):
        parameters_cell(nb)
    assert config_class(nb) is None


@pytest.mark.parametrize("text, value", [
    ("5", 5), ("1e-3", 1e-3), ("[4, 8]", [4, 8]), ("None", None), ("True", True), ("null", None),
    ("false", False), ("'abc'", "abc"), ("abc", "abc"), ("{a: 1}", {"a": 1}),
    ("2024-01-01", "2024-01-01"),
])
def test_parse_value(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


# --- validation before any kernel starts --------------------------------------------------------

def test_unknown_parameter_lists_valid_names(nbenv):
    spec = RunSpec(nbenv.notebook, "smoke", {"stepz": 5})
    with pytest.raises(ConfigError) as err:
        spec.parameters()
    assert str(err.value) == f"unknown parameter(s) ['stepz'] for 01_fixture; valid names: {VALID}"
    with pytest.raises(ConfigError, match="stepz"):
        run_notebook(spec)
    assert not nbenv.runs.exists()  # nothing was started or written


def test_unknown_name_in_a_profile_is_rejected(nbenv, tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(nbenv.root, root)
    monkeypatch.setenv("NBLIB_ROOT", str(root))
    (root / "notebooks" / "profiles" / "01_fixture" / "typo.yaml").write_text("setps: 2\n")
    assert profiles("01_fixture") == ["default", "smoke", "typo"]
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['setps'\] for 01_fixture"):
        RunSpec(find_notebook("01"), "typo").parameters()


@pytest.mark.parametrize("overrides, expected", [
    ({"steps": "ten"}, ["steps='ten'", "expected int", "got str"]),
    ({"lr": 5.0}, ["lr=5.0", "out of range", "[1e-06, 1.0]"]),
    ({"n": 1}, ["n=1", "out of range", "[2, 1000]"]),
    ({"mode": "turbo"}, ["mode='turbo'", "must be one of ['fast', 'slow']"]),
    ({"widths": [4, 2000]}, ["widths=[4, 2000]", "element 2000", "[1, 1024]"]),
    ({"fail": "yes"}, ["fail='yes'", "expected bool"]),
    ({"steps": 7}, ["steps=7", "must not exceed n=6"]),  # smoke n=6: the config's cross-field rule
])
def test_bad_values_fail_through_the_config_class(nbenv, overrides, expected):
    with pytest.raises(ConfigError) as err:
        RunSpec(nbenv.notebook, "smoke", overrides).parameters()
    for part in expected:
        assert part in str(err.value), (part, str(err.value))


def test_parameters_merge_profile_then_overrides(nbenv):
    params = RunSpec(nbenv.notebook, "smoke", {"steps": 1, "lr": 0.01}).parameters()
    assert params == {"n": 6, "steps": 1, "lr": 0.01, "interactive": False}
    assert RunSpec(nbenv.notebook).parameters() == {"interactive": False}


def test_run_id_is_derived_from_the_parameters(nbenv):
    a = RunSpec(nbenv.notebook, "smoke", {"seed": 1, "lr": 0.01})
    b = RunSpec(nbenv.notebook, "smoke", {"lr": 0.01, "seed": 1})
    c = RunSpec(nbenv.notebook, "smoke", {"seed": 2, "lr": 0.01})
    assert a.run_id() == b.run_id() and a.run_id() != c.run_id()
    assert a.run_id().startswith("smoke-") and len(a.run_id()) == len("smoke-") + 10
    assert RunSpec(nbenv.notebook).run_id().startswith("default-")
    assert a.slug == "01_fixture"


def test_run_many_validates_every_spec_first(nbenv):
    good = RunSpec(nbenv.notebook, "smoke", {"seed": 1})
    bad = RunSpec(nbenv.notebook, "smoke", {"lr": -1.0})
    with pytest.raises(ConfigError, match=r"lr=-1.0: out of range"):
        run_many([good, bad])
    assert not nbenv.runs.exists()


def test_grid_points():
    assert grid_points({"seed": [0, 1], "lr": [0.1, 0.2]}) == [
        {"seed": 0, "lr": 0.1}, {"seed": 0, "lr": 0.2}, {"seed": 1, "lr": 0.1},
        {"seed": 1, "lr": 0.2}]
    assert grid_points([{"seed": 0}, {"seed": 5, "n": 9}]) == [{"seed": 0}, {"seed": 5, "n": 9}]
    with pytest.raises(ConfigError, match=r"grid entry seed=3: expected a list of values"):
        grid_points({"seed": 3})


def test_thread_env():
    assert _thread_env(None) == {}
    assert _thread_env(2) == {"NBLIB_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                              "OPENBLAS_NUM_THREADS": "2"}


# --- real runs ---------------------------------------------------------------------------------

@pytest.mark.notebooks
def test_executed_run_record(executed_run):
    run_dir = Path(executed_run["dir"])
    assert run_dir.parent.parent == executed_run["runs"] and run_dir.parent.name == "01_fixture"
    assert run_dir.name == executed_run["run_id"] and run_dir.name.startswith("smoke-")
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["status"] == "ok" and "error" not in metrics
    assert metrics["params"] == {"n": 6, "steps": 2, "seed": 3, "interactive": False}
    assert json.loads((run_dir / "params.json").read_text()) == metrics["params"]
    assert metrics["config"]["n"] == 6 and metrics["config"]["interactive"] is False
    values = metrics["values"]
    assert values["interactive"] is False  # the runner switched the widgets off
    assert values["threads"] == 1  # the run's thread cap reached the kernel
    assert (
        values["diff"]["n"] == 6
        and values["diff"]["low"] < values["diff"]["value"] < values["diff"]["high"]
    )
    assert isinstance(values["mean_a"], float) and 0.5 < values["mean_a"] < 1.5
    assert (
        metrics["verdict"]["label"] == "SUPPORTED" and metrics["verdict"]["claim"] == "a exceeds b"
    )
    assert metrics["started"] <= metrics["finished"] and metrics["duration_s"] > 0
    assert metrics["env"]["threads"] == 1 and metrics["profile"] == "smoke"
    assert (run_dir / "figures" / "samples.png").stat().st_size > 1000
    assert (run_dir / "report.html").stat().st_size > 1000
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert (
        len(injected) == 1
        and "seed = 3" in injected[0].source
        and "interactive = False" in injected[0].source
    )
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "fixture says 42" in outputs and "SUPPORTED: a exceeds b" in outputs


@pytest.mark.notebooks
def test_run_already_ok_is_skipped(executed_run):
    metrics_file = Path(executed_run["dir"]) / "metrics.json"
    before = metrics_file.stat().st_mtime_ns
    again = run_notebook(executed_run["spec"], root=executed_run["runs"])
    assert again["skipped"] is True and again["status"] == "ok"
    assert again["started"] == executed_run["started"] and again["dir"] == executed_run["dir"]
    assert metrics_file.stat().st_mtime_ns == before


@pytest.mark.notebooks
def test_publish_figures_of_a_reference_run(executed_run, nbenv):
    target = publish_figures(Path(executed_run["dir"]), "01_fixture")
    assert target == nbenv.root.resolve() / "figures" / "01_fixture"
    assert (target / "samples.png").read_bytes() == (
        Path(executed_run["dir"]) / "figures" / "samples.png"
    ).read_bytes()
    ref = json.loads((target / "reference_run.json").read_text())
    assert ref["run_id"] == executed_run["run_id"] and ref["verdict"]["label"] == "SUPPORTED"
    assert set(ref) <= {"notebook", "run_id", "profile", "params", "verdict", "duration_s",
                        "finished", "env", "figures"}
    assert ref["figures"] == [{"name": "samples", "caption": ref["figures"][0]["caption"]}]


@pytest.mark.notebooks
def test_failing_run_is_recorded_and_the_others_go_on(nbenv):
    seen = []
    # any Executor will do (tests/test_sweep.py covers process pools and Dask); one thread keeps
    # this in-process and spares a worker start
    nb = find_notebook("01")
    with ThreadPoolExecutor(1) as pool:
        results = run_many([RunSpec(nb, "smoke", {"fail": True}),
                            RunSpec(nb, "smoke", {"seed": 1})],
                           executor=pool, threads=1, on_result=seen.append)
    assert len(results) == 2 and len(seen) == 2
    by_status = {r["status"]: r for r in results}
    assert set(by_status) == {"ok", "failed"}
    failed, ok = by_status["failed"], by_status["ok"]
    assert failed["error"] == "RuntimeError: fixture asked to fail"
    assert isinstance(failed["failed_cell"], int) and failed["failed_cell"] >= 1
    assert failed["params"]["fail"] is True and failed["finished"] and failed["duration_s"] > 0
    failed_dir = Path(failed["dir"])
    record = read_json(failed_dir / "metrics.json")
    assert record["status"] == "failed" and record["error"] == failed["error"]
    # start_run ran, nothing after the error
    assert record["verdict"] is None and record["values"] == {}
    nb = nbformat.read(failed_dir / "notebook.ipynb", as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert len(errors) == 1 and errors[0].evalue == "fixture asked to fail"
    assert "fixture asked to fail" in (failed_dir / "report.html").read_text()
    # the other run still completed
    assert ok["params"]["seed"] == 1 and ok["verdict"]["label"] == "SUPPORTED"
    assert read_json(Path(ok["dir"]) / "metrics.json")["status"] == "ok"
    assert (Path(ok["dir"]) / "report.html").is_file()


def test_kernel_that_cannot_start_is_a_failed_run(nbenv):
    result = run_notebook(RunSpec(nbenv.notebook, "smoke", {"seed": 9}), kernel="no-such-kernel")
    assert result["status"] == "failed" and "no-such-kernel" in result["error"]
    assert read_json(Path(result["dir"]) / "metrics.json")["status"] == "failed"


def test_library_functions_check_workers_threads_and_timeout(nbenv):
    spec = RunSpec(nbenv.notebook, "smoke", {"seed": 1})
    with pytest.raises(ConfigError, match=r"^workers=0: expected an integer >= 1"):
        run_many([spec], workers=0)
    with pytest.raises(ConfigError, match=r"^threads=-1: expected an integer >= 1"):
        run_many([spec], threads=-1)
    with pytest.raises(ConfigError, match=r"^timeout=0: expected seconds > 0"):
        run_many([spec], timeout=0)
    with pytest.raises(ConfigError, match=r"^threads=0: expected an integer >= 1"):
        run_notebook(spec, threads=0)
    with pytest.raises(ConfigError, match=r"^timeout=-1: expected seconds > 0"):
        run_notebook(spec, timeout=-1)
    assert not nbenv.runs.exists()


# --- forced re-runs replace a good record only on success ---------------------------------------

def _ok_record(executed_run, run_dir: Path) -> dict[str, bytes]:
    """A copy of the shared ok run at `run_dir`; returns its files' bytes."""
    shutil.copytree(executed_run["dir"], run_dir)
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


@pytest.mark.notebooks
def test_forced_rerun_that_fails_keeps_the_ok_record(executed_run, nbenv):
    spec = RunSpec(nbenv.notebook, "smoke", {"fail": True})
    run_dir = nbenv.runs / "01_fixture" / spec.run_id()
    before = _ok_record(executed_run, run_dir)
    result = run_notebook(spec, force=True, threads=1)
    assert result["status"] == "failed" and result["error"] == "RuntimeError: fixture asked to fail"
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    failed = run_dir.with_name(f"{run_dir.name}.failed")  # the attempt, kept beside the record
    assert result["dir"] == str(failed) and result["kept"] == str(run_dir)
    assert sorted(p.name for p in run_dir.parent.iterdir()) == [run_dir.name, failed.name]
    record = read_json(failed / "metrics.json")
    assert record["status"] == "failed" and record["run_id"] == run_dir.name
    assert record["env"]["threads"] == 1  # the kernel recorded into the attempt's folder
    assert str(failed) in (failed / "notebook.ipynb").read_text()  # papermill's output_path
    assert ".new-" not in (failed / "notebook.ipynb").read_text()
    assert load_runs(nbenv.runs).dir.tolist() == [str(run_dir)]  # the attempt is not a run


@pytest.mark.notebooks
def test_forced_rerun_that_succeeds_replaces_the_record(executed_run, nbenv):
    spec = executed_run["spec"]
    run_dir = nbenv.runs / "01_fixture" / spec.run_id()
    _ok_record(executed_run, run_dir)
    (run_dir / "old.txt").write_text("from the replaced record")
    update_metrics(run_dir.with_name(f"{run_dir.name}.failed"), status="failed")  # an old attempt
    result = run_notebook(spec, force=True, threads=1)
    assert result["status"] == "ok" and result["dir"] == str(run_dir) and "kept" not in result
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]  # swapped, none left
    assert not (run_dir / "old.txt").exists()
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["run_id"] == run_dir.name and metrics["status"] == "ok"
    assert metrics["verdict"]["label"] == "SUPPORTED" and metrics["values"]["threads"] == 1
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    assert nb.metadata.papermill.output_path == str(run_dir / "notebook.ipynb")
    for name in ("notebook.ipynb", "metrics.json", "report.html"):
        assert ".new-" not in (run_dir / name).read_text(), name


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_attempts_are_cleaned_and_a_half_swapped_record_put_back(nbenv):
    spec = RunSpec(nbenv.notebook, "smoke", {"seed": 5})
    run_dir = nbenv.runs / "01_fixture" / spec.run_id()
    dead = _dead_pid()
    aside = run_dir.with_name(f"{run_dir.name}.old-{dead}")  # a swap that died between renames
    update_metrics(aside, notebook="01_fixture", run_id=run_dir.name, status="ok")
    (run_dir.with_name(f"{run_dir.name}.new-{dead}") / "figures").mkdir(parents=True)
    alive = run_dir.with_name(f"{run_dir.name}.new-{os.getppid()}")  # another run, still going
    alive.mkdir()
    result = run_notebook(spec)  # the record is back, so the run is skipped: no kernel starts
    assert result["skipped"] is True and result["status"] == "ok"
    assert sorted(p.name for p in run_dir.parent.iterdir()) == sorted([run_dir.name, alive.name])
