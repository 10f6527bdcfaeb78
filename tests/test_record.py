"""nblib.record: JSON-safe values, atomic metrics.json writes, run records read back into pandas."""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import nblib
from nblib.stats import mean_ci, verdict

rec = importlib.import_module("nblib.record")  # `nblib.record` the attribute is the function

pytestmark = pytest.mark.usefixtures("nbenv")


@dataclasses.dataclass
class Point:
    x: float
    tags: tuple


def test_to_jsonable_numpy_and_torch():
    out = rec.to_jsonable({
        "np_f32": np.float32(1.5), "np_i64": np.int64(3), "np_bool": np.bool_(True),
        "np_arr": np.array([[1, 2], [3, 4]]), "np_nan": np.float64("nan"),
        "np_arr_inf": np.array([1.0, np.inf, -np.inf, np.nan]),
        "t_scalar": torch.tensor(2.5), "t_int": torch.tensor(7), "t_vec": torch.tensor([1, 2]),
        "t_nan": torch.tensor(float("nan")), "t_bf16": torch.tensor([0.5, 1.0],
                                                                    dtype=torch.bfloat16),
        "nan": float("nan"), "inf": -math.inf, "tuple": (1, "a"), 4: "int key",
        "path": Path("/a/b"),
        "dc": Point(np.float64(0.25), (np.int32(1),)), "none": None,
    })
    assert out == {
        "np_f32": 1.5, "np_i64": 3, "np_bool": True, "np_arr": [[1, 2], [3, 4]], "np_nan": None,
        "np_arr_inf": [1.0, None, None, None], "t_scalar": 2.5, "t_int": 7, "t_vec": [1, 2],
        "t_nan": None, "t_bf16": [0.5, 1.0], "nan": None, "inf": None, "tuple": [1, "a"],
        "4": "int key", "path": "/a/b", "dc": {"x": 0.25, "tags": [1]}, "none": None,
    }
    assert type(out["np_i64"]) is int and type(out["np_bool"]) is bool and type(out["t_int"]) is int
    json.dumps(out, allow_nan=False)  # strictly valid JSON


def test_to_jsonable_estimate_and_verdict():
    est = mean_ci([1.9, 2.0, 2.1])
    v = rec.to_jsonable(verdict("mean above 0", est, 0.0, ">"))
    assert v["label"] == "SUPPORTED" and v["estimate"]["value"] == 2.0 and v["estimate"]["n"] == 3


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_write_json_atomic_valid_no_temp_files_and_normal_mode(tmp_path):
    path = tmp_path / "deep" / "metrics.json"
    rec.write_json_atomic(path, {"a": np.float64("nan"), "b": [1, 2]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1, 2]}
    assert _leftovers(path.parent) == []
    plain = tmp_path / "plain.txt"
    plain.write_text("")
    # mkstemp creates 0o600 files; a record must be as readable as any other file of the run
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


class Boom:
    def tolist(self):
        raise RuntimeError("cannot serialise")


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "metrics.json"
    rec.write_json_atomic(path, {"status": "ok"})
    with pytest.raises(RuntimeError, match="cannot serialise"):
        rec.write_json_atomic(path, {"status": "running", "x": Boom()})
    assert json.loads(path.read_text()) == {"status": "ok"}
    assert _leftovers(tmp_path) == []


def test_concurrent_reader_never_sees_half_a_file(tmp_path):
    path = tmp_path / "metrics.json"
    big = {f"k{i}": list(range(50)) for i in range(200)}  # ~50 kB, many write() calls per dump
    rec.write_json_atomic(path, {**big, "i": -1})
    seen, errors, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.append(json.loads(path.read_text())["i"])
            except Exception as err:  # noqa: BLE001 - any failure is the finding
                errors.append(err)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40):
            rec.write_json_atomic(path, {**big, "i": i})
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert seen and seen == sorted(seen)  # monotone: every read is some complete version
    assert json.loads(path.read_text())["i"] == 39
    assert _leftovers(tmp_path) == []


def test_update_metrics_merges(tmp_path):
    rec.update_metrics(tmp_path, status="running", params={"n": 1})
    merged = rec.update_metrics(tmp_path, status="ok", duration_s=np.float32(1.5))
    assert merged == {"status": "ok", "params": {"n": 1}, "duration_s": 1.5}
    assert rec.read_json(tmp_path / "metrics.json") == merged


def test_record_needs_an_open_run():
    with pytest.raises(RuntimeError, match="start_run"):
        nblib.record("x", 1)


def test_interactive_run_record(nbenv):
    from fixture_config import FixtureConfig

    run_dir = nblib.start_run("01_fixture", FixtureConfig())
    assert run_dir == nbenv.runs / "01_fixture" / "interactive"
    assert rec.current_run_dir() == run_dir and rec.current_slug() == "01_fixture"
    assert nblib.record("loss", np.float32(0.5)) == np.float32(0.5)
    nblib.record("curve", torch.tensor([1.0, float("nan")]))
    est = mean_ci([1.0, 1.1, 0.9])
    nblib.record("verdict", verdict("mean above 0", est, 0.0, ">"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "interactive" and metrics["run_id"] == "interactive"
    assert metrics["notebook"] == "01_fixture" and metrics["config"]["widths"] == [4, 8]
    assert metrics["values"] == {"loss": 0.5, "curve": [1.0, None]}
    assert metrics["verdict"]["label"] == "SUPPORTED"
    assert metrics["env"]["torch"] == torch.__version__ and metrics["started"]
    assert _leftovers(run_dir) == []


def test_headless_start_run_keeps_the_runners_fields(tmp_path, monkeypatch):
    run_dir = tmp_path / "runs" / "01_fixture" / "smoke-abc"
    rec.update_metrics(run_dir, status="running", run_id="smoke-abc",
                       started="2024-01-01T00:00:00+00:00",
                       values={"stale": 1})
    monkeypatch.setenv(rec.RUN_DIR_ENV, str(run_dir))
    assert nblib.start_run("01_fixture") == run_dir
    nblib.record("acc", 0.75)
    metrics = rec.read_run(run_dir)
    assert metrics["status"] == "running" and metrics["run_id"] == "smoke-abc"
    assert metrics["started"] == "2024-01-01T00:00:00+00:00"
    assert metrics["values"] == {"acc": 0.75}  # a (re)started kernel begins with fresh values
    assert metrics["dir"] == str(run_dir) and "config" not in metrics


def test_read_run_of_a_folder_without_record(tmp_path):
    assert rec.read_run(tmp_path) == {}


def test_load_runs_columns(tmp_path):
    root = tmp_path / "runs"
    rec.update_metrics(root / "01_a" / "smoke-1", notebook="01_a", run_id="smoke-1",
                       profile="smoke",
                       status="ok", duration_s=3.5, started="2024-01-01T00:00:00+00:00",
                       finished="2024-01-01T00:00:03+00:00", params={"n": 6, "interactive": False},
                       values={"acc": 0.9, "curve": [1, 2], "name": "x", "missing": None},
                       verdict={"label": "SUPPORTED", "claim": "c"})
    rec.update_metrics(root / "02_b" / "default-2", notebook="02_b", run_id="default-2",
                       profile="default", status="failed", params={"lr": 0.1},
                       verdict="INCONCLUSIVE")
    (root / "02_b" / "empty").mkdir()  # a folder without metrics.json is not a run
    runs = rec.load_runs(root)
    assert len(runs) == 2
    base = ["notebook", "run_id", "profile", "status", "duration_s", "started", "finished",
            "dir", "verdict"]
    assert set(runs.columns) == {*base, "param.n", "param.interactive", "param.lr", "value.acc",
                                 "value.name", "value.missing"}  # value.curve: not a scalar
    a = runs.set_index("notebook").loc["01_a"]
    assert (a["run_id"], a["status"], a["verdict"], a["duration_s"]) == (
        "smoke-1",
        "ok",
        "SUPPORTED",
        3.5,
    )
    assert (
        a["param.n"] == 6 and a["value.acc"] == 0.9 and a["dir"] == str(root / "01_a" / "smoke-1")
    )
    b = runs.set_index("notebook").loc["02_b"]
    assert b["verdict"] == "INCONCLUSIVE" and b["param.lr"] == 0.1 and b["status"] == "failed"
    only = rec.load_runs(root, notebook="02_b")
    assert list(only["notebook"]) == ["02_b"]
    assert rec.load_runs(tmp_path / "nothing").empty


def test_load_runs_defaults_to_runs_dir(nbenv):
    rec.update_metrics(nbenv.runs / "01_fixture" / "x", notebook="01_fixture", status="ok")
    assert list(rec.load_runs()["status"]) == ["ok"]


def _values(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_check_invariants_records_prints_and_passes(nbenv, capsys):
    run_dir = nblib.start_run("01_fixture")
    out = nblib.check_invariants({"loss falls": np.True_, "finite": 1})
    assert out == {"loss falls": True, "finite": True}
    assert _values(run_dir)["values"]["invariants"] == {"loss falls": True, "finite": True}
    printed = capsys.readouterr().out
    assert "ok     loss falls" in printed and "FAILED" not in printed


def test_check_invariants_names_every_failure_and_records_first(nbenv, capsys):
    run_dir = nblib.start_run("01_fixture")
    with pytest.raises(rec.InvariantError, match=r"\['b', 'c'\]") as err:
        nblib.check_invariants({"a": True, "b": False, "c": 0})
    assert isinstance(err.value, AssertionError) and "'a'" not in str(err.value)
    assert _values(run_dir)["values"]["invariants"] == {"a": True, "b": False, "c": False}
    assert "FAILED b" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no invariants"):
        nblib.check_invariants({})


def test_record_verdicts_records_all_and_the_headline(nbenv, capsys):
    run_dir = nblib.start_run("01_fixture")
    main = verdict("loss falls", mean_ci([-0.3, -0.2, -0.25]), 0.0, "<")
    side = verdict("gap grows", mean_ci([0.1, -0.1, 0.05]), 0.0, ">")
    assert nblib.record_verdicts({"main": main, "side": side}, headline="main") is main
    metrics = _values(run_dir)
    assert set(metrics["values"]["verdicts"]) == {"main", "side"}
    assert metrics["values"]["verdicts"]["side"]["label"] == "INCONCLUSIVE"
    assert metrics["values"]["verdicts"]["side"]["estimate"]["n"] == 3
    assert metrics["values"]["headline"] == "main"
    assert metrics["verdict"] == metrics["values"]["verdicts"]["main"]
    assert metrics["verdict"]["label"] == "SUPPORTED"
    printed = capsys.readouterr().out
    assert "[main · headline] SUPPORTED" in printed and "[side] INCONCLUSIVE" in printed


def test_record_verdicts_unknown_headline_records_nothing(nbenv):
    run_dir = nblib.start_run("01_fixture")
    v = verdict("x", mean_ci([1.0, 2.0]), 0.0, ">")
    with pytest.raises(KeyError, match="mian"):
        nblib.record_verdicts({"main": v}, headline="mian")
    metrics = _values(run_dir)
    assert metrics["verdict"] is None and "verdicts" not in metrics["values"]


def test_differences_name_each_changed_value_and_ignore_timings():
    old = {"values": {"verdicts": {"h": {"value": 0.1, "seconds": 3.0}}, "losses": [1.0, 2.0],
                      "runtime_estimate": {"seconds": 9}, "env": {"torch": "2.13"}},
           "verdict": {"label": "SUPPORTED"}}
    same_but_timed_again = {**old, "values": {**old["values"], "runtime_estimate": {"seconds": 1},
                                              "env": {"torch": "2.14"},
                                              "verdicts": {"h": {"value": 0.1, "seconds": 7}}}}
    assert rec.differences(old, same_but_timed_again) == []
    new = {"values": {"verdicts": {"h": {"value": 0.2}}, "losses": [1.0, 2.0, 3.0], "extra": 1},
           "verdict": {"label": "INCONCLUSIVE"}}
    assert rec.differences(old, new) == [
        "values.extra: only in new", "values.losses: length 2 -> 3",
        "values.verdicts.h.value: 0.1 -> 0.2", "verdict.label: 'SUPPORTED' -> 'INCONCLUSIVE'"]
