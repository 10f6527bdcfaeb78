"""nblib.sweep: grids checked before any compute, and sweeps on a real Dask LocalCluster of two
worker processes: completion, a failing run, per-run thread caps, resume after the client is
killed, and a real notebook (09, smoke profile with tiny overrides) whose runs `load_runs` sees.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import CLEARED_VARS, REPO, _env_for
from test_cli import _kill_tree, _statuses

from nblib.__main__ import main
from nblib.config import ConfigError
from nblib.record import load_runs, read_json, run_status
from nblib.runner import RunSpec
from nblib.sweep import SweepConfig, cores, load_grid, plan, sweep

pytestmark = pytest.mark.usefixtures("nbenv")


def _grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def cluster(fixture_root, tmp_path_factory):
    """A LocalCluster of two worker processes (one thread each) that sees the fixture repository."""
    from distributed import LocalCluster

    with pytest.MonkeyPatch.context() as mp:
        for var in CLEARED_VARS:
            mp.delenv(var, raising=False)
        env = _env_for(fixture_root, tmp_path_factory.mktemp("unused_runs"),
                       tmp_path_factory.mktemp("cache"))
        for key, value in env.items():
            mp.setenv(key, value)
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
    yield cluster
    cluster.close()


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


# --- bad input: a clear error before any compute --------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("seed: [0, 1\n", "not valid YAML"),
    ("3\n", "found int 3; expected a mapping"),
    ("[]\n", "found list []; expected a mapping"),
    ("seed: []\n", "['seed'] have no values"),
    ("- seed: 1\n- 7\n", "point 7 is not a mapping"),
])
def test_bad_grid_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_grid(_grid(tmp_path, text))
    with pytest.raises(ConfigError, match="grid file '/no/such.yaml' not found"):
        load_grid("/no/such.yaml")


def test_unknown_or_bad_parameter_in_a_grid_starts_nothing(nbenv, tmp_path, capsys):
    with pytest.raises(ConfigError,
                       match=r"grid point \{'stepz': 2\}: unknown parameter\(s\) \['stepz'\] "
                                          r"for 01_fixture; valid names: \['fail'"):
        plan(SweepConfig("01", [{"seed": 1}, {"stepz": 2}], profile="smoke"))
    grid = _grid(tmp_path, "seed: [0, 1]\nlr: [0.01, 7.0]\n")
    assert main(["sweep", "01", "--grid", str(grid), "--profile", "smoke"]) == 2
    assert (
        "grid point {'seed': 0, 'lr': 7.0}: parameter lr=7.0: out of range"
        in capsys.readouterr().err
    )
    assert main(["sweep", "42", "--grid", str(grid)]) == 2
    assert "notebook '42' not found" in capsys.readouterr().err
    assert (
        main(["sweep", "01", "--grid", str(grid), "--scheduler", "tcp://x:1", "--workers", "2"])
        == 2
    )
    assert "give one or the other" in capsys.readouterr().err
    assert not nbenv.runs.exists()  # nothing was started or written


def test_unreachable_scheduler_is_a_clear_error(nbenv, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    cfg = SweepConfig("01", [{"seed": 1}], profile="smoke", scheduler=address, connect_timeout=2)
    with pytest.raises(ConfigError, match=f"cannot reach the Dask scheduler at '{address}'"):
        sweep(cfg)
    assert not nbenv.runs.exists()


def test_plan_merges_fixed_values_and_dedupes_equal_points(nbenv):
    specs = plan(SweepConfig("01", {"seed": [0, 1, 0]}, profile="smoke", fixed={"steps": 1}))
    assert [s.overrides for s in specs] == [{"steps": 1, "seed": 0}, {"steps": 1, "seed": 1}]


def test_the_readme_slurm_cluster_gives_single_threaded_workers():
    """The SLURMCluster call the README shows: 8 one-thread worker processes per batch job."""
    from dask_jobqueue import SLURMCluster

    readme = (REPO / "README.md").read_text()
    call = 'SLURMCluster(cores=8, processes=8, memory="32GB", walltime="02:00:00", queue="cpu")'
    assert call in readme
    with SLURMCluster(cores=8, processes=8, memory="32GB", walltime="02:00:00",
                      queue="cpu") as cluster:
        script = cluster.job_script()
    assert (
        "#SBATCH --cpus-per-task=8" in script
        and "--nthreads 1" in script
        and "--nworkers 8" in script
    )


# --- a real Dask cluster
# ---------------------------------------------------------------------------

@pytest.mark.notebooks
def test_sweep_on_a_local_cluster_reports_a_failure_and_finishes_the_rest(nbenv, client):
    seen = []
    cfg = SweepConfig("01", [{"seed": 0}, {"fail": True}, {"seed": 1}], profile="smoke")
    results = sweep(cfg, client=client, on_result=seen.append)
    assert len(results) == len(seen) == 3
    by_status = sorted(results, key=lambda r: r["status"])
    failed, ok = by_status[0], by_status[1:]
    assert failed["status"] == "failed" and failed["error"] == "RuntimeError: fixture asked to fail"
    assert all(r["status"] == "ok" and r["verdict"]["label"] == "SUPPORTED" for r in ok)
    # the same run records as any run: load_runs sees all three
    runs = load_runs(nbenv.runs).set_index("param.seed", drop=False)
    assert sorted(runs.status) == ["failed", "ok", "ok"] and set(runs.profile) == {"smoke"}
    # per-run thread cap
    assert runs["value.threads"].dropna().tolist() == [max(1, cores() // 2)] * 2
    for r in ok:
        metrics = read_json(Path(r["dir"]) / "metrics.json")
        assert metrics["env"]["threads"] == max(1, cores() // 2)
        assert (Path(r["dir"]) / "report.html").is_file()
    # a second sweep redoes only the failed point
    again = sweep(cfg, client=client)
    assert sorted(bool(r.get("skipped")) for r in again) == [False, True, True]


@pytest.mark.notebooks
@pytest.mark.timeout(300)
def test_resume_after_the_client_is_killed(nbenv, cluster, tmp_path):
    """Kill the sweep's client mid-run; the cluster finishes what it started, and a new sweep
    redoes nothing that finished, waits for the orphaned runs, and completes the rest."""
    grid = _grid(tmp_path, "seed: [0, 1, 2, 3]\n")
    args = [
        "sweep",
        "01_fixture",
        "--grid",
        str(grid),
        "--profile",
        "smoke",
        "-p",
        "sleep",
        "1.0",
        "--scheduler",
        cluster.scheduler_address,
    ]
    expected = {
        RunSpec(nbenv.notebook, "smoke", {"sleep": 1.0, "seed": s}).run_id() for s in range(4)
    }
    runs = nbenv.runs
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nblib", *args], cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            statuses = [v.get("status") for v in _statuses(runs).values()]
            if "ok" in statuses and "running" in statuses:
                break
            assert proc.poll() is None, (
                f"the sweep ended before it was killed: {statuses}\n{log.read_text()}"
            )
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            _kill_tree(proc.pid)  # the client only: the cluster lives in this test process
        proc.wait(timeout=30)

    before = _statuses(runs)  # every record left behind parses: none is half-written
    done = {k: v for k, v in before.items() if v["status"] == "ok"}
    assert done and len(done) < 4 and set(before) <= expected
    assert all(v["status"] in ("ok", "running") for v in before.values())
    mtimes = {k: (runs / "01_fixture" / k / "metrics.json").stat().st_mtime_ns for k in done}

    proc2 = subprocess.run([sys.executable, "-m", "nblib", *args], cwd=tmp_path,
                           capture_output=True,
                           text=True, timeout=240)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    assert "4/4 ok" in proc2.stdout
    skipped = {
        line.split()[2]
        for line in proc2.stdout.splitlines()
        if "(already recorded, skipped)" in line
    }
    assert set(done) <= skipped  # finished runs were not redone
    after = _statuses(runs)
    assert set(after) == expected and all(m["status"] == "ok" for m in after.values())
    for run_id, old in done.items():
        assert after[run_id]["started"] == old["started"]
        assert (runs / "01_fixture" / run_id / "metrics.json").stat().st_mtime_ns == mtimes[run_id]
    assert list(runs.rglob("*.tmp")) == []


# --- a real notebook
# -------------------------------------------------------------------------------

TINY_09 = {"train_flops": 1e9, "min_steps": 20, "mlp_lrs": [3e-3], "transformer_lrs": [3e-3],
           "small_mlp_steps": 200, "n_eval": 256, "pool_sizes": [1, None], "context_lens": [4, 8],
           "mlp_width": 32}


@pytest.mark.notebooks
@pytest.mark.timeout(300)
def test_real_notebook_sweep_on_two_worker_processes(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    from nblib.site import build_site

    for var in CLEARED_VARS:
        monkeypatch.delenv(var, raising=False)
    runs = tmp_path / "runs"
    monkeypatch.setenv("NBLIB_RUNS", str(runs))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as lc, \
            Client(lc) as client:
        cfg = SweepConfig("09", {"small_mlp_lr": [3e-3, 1e-2]}, profile="smoke", fixed=TINY_09)
        results = sweep(cfg, client=client)
    assert [r["status"] for r in results] == ["ok", "ok"], [r.get("error") for r in results]
    table = load_runs(runs, "09_mlp_in_context")
    assert sorted(table["param.small_mlp_lr"]) == [3e-3, 1e-2] and table.verdict.notna().all()
    assert all(
        json.loads((Path(d) / "params.json").read_text())["small_mlp_steps"] == 200
        for d in table.dir
    )
    # the notebook's page on the report site plots the sweep's estimate against the swept parameter
    build_site(runs, figures=REPO / "figures")
    page = (runs / "09_mlp_in_context" / "index.html").read_text()
    assert 'src="sweep_smoke_small_mlp_lr.png"' in page
    assert (runs / "09_mlp_in_context" / "sweep_smoke_small_mlp_lr.png").stat().st_size > 1000
    assert os.path.getsize(runs / "index.html") > 0


@pytest.mark.parametrize("options, message", [
    (dict(workers=0), "workers=0: expected an integer >= 1"),
    (dict(threads=0), "threads=0: expected an integer >= 1"),
    (dict(timeout=-1.0), "timeout=-1.0: expected seconds > 0"),
    (dict(connect_timeout=0), "connect_timeout=0: expected seconds > 0"),
])
def test_sweep_config_rejects_options_that_cannot_work(nbenv, options, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        SweepConfig("01", {"seed": [0]}, profile="smoke", **options)
    assert not nbenv.runs.exists()


# --- a killed client takes its local pool with it -------------------------------------------------

def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (a zombie no one reaps is dead)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.notebooks
@pytest.mark.timeout(240)
def test_killed_client_takes_its_pool_workers_and_kernels_with_it(nbenv, tmp_path):
    grid = _grid(tmp_path, "seed: [0, 1]\n")
    args = ["sweep", "01_fixture", "--grid", str(grid), "--profile", "smoke", "--workers", "1",
            "--threads", "1", "-p", "sleep", "30"]
    with open(tmp_path / "client.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nblib", *args], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    tree = []
    try:
        deadline = time.monotonic() + 150
        while not any(m.get("env") for m in _statuses(nbenv.runs).values()):  # a kernel records
            assert proc.poll() is None, (tmp_path / "client.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        (running,) = _statuses(nbenv.runs).values()
        worker = psutil.Process(running["pid"])  # the owner the record names
        assert worker.ppid() == proc.pid and worker.children(recursive=True)  # its kernel
        tree = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)  # the client only
        proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _alive(tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive(tree) == []
        (record,) = _statuses(nbenv.runs).values()  # the queued point never started
        assert run_status(record) == "stale"
    finally:
        for survivor in _alive(tree):
            survivor.kill()
        if proc.poll() is None:
            _kill_tree(proc.pid)
