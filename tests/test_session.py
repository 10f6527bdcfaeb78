"""nblib.setup: the opening of every notebook (config, run record, threads, device, seed, workers,
a timed runtime estimate)."""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass

import matplotlib
import pytest
import torch

import nblib
from nblib.config import ConfigError, GridConfig, NotebookConfig, param
from nblib.session import Session, format_seconds

session = importlib.import_module("nblib.session")
SLUG = "01_fixture"


@dataclass(frozen=True)
class Grid(GridConfig):
    width: int = param(8, "hidden units", affects="train", low=1)


@dataclass(frozen=True)
class Single(NotebookConfig):
    width: int = param(8, "hidden units", affects="train", low=1)


def namespace(cls=Grid, **changes):
    defaults = {"interactive": False, "seeds": 2, "first_seed": 0, "device": "cpu", "workers": 4,
                "width": 8}
    names = {f for f in cls.__dataclass_fields__}
    return {"np": object(), **{k: v for k, v in {**defaults, **changes}.items() if k in names}}


@pytest.fixture(autouse=True)
def _restore_threads_and_theme():
    threads = torch.get_num_threads()
    with matplotlib.rc_context():
        yield
    torch.set_num_threads(threads)


def test_setup_configures_records_and_seeds(nbenv, monkeypatch, capsys):
    monkeypatch.setenv("NBLIB_THREADS", "3")
    calls = []

    def estimate(cfg, device, workers):
        calls.append((cfg, device, workers))
        return 123.0

    s = nblib.setup(Grid, namespace(width=16), SLUG, estimate=estimate)
    assert isinstance(s, Session) and s.cfg == Grid(False, 2, 0, "cpu", 4, 16)
    assert s.run_dir == nbenv.runs / SLUG / "interactive"
    assert (s.device, s.threads, s.workers) == (torch.device("cpu"), 3, min(4, os.cpu_count()))
    assert torch.get_num_threads() == 3
    assert json.loads((s.run_dir / "metrics.json").read_text())["env"]["threads"] == 3  # in use
    assert calls == [(s.cfg, s.device, s.workers)] and s.estimate_s == 123.0
    metrics = json.loads((s.run_dir / "metrics.json").read_text())
    assert metrics["config"]["width"] == 16 and metrics["notebook"] == SLUG
    est = metrics["values"]["runtime_estimate"]
    assert est["seconds"] == 123.0 and est["timing_s"] >= 0
    out = capsys.readouterr().out
    assert "hidden units" in out and "estimated 2.0 min" in out
    assert f"{s.workers} worker process(es)" in out
    drawn = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(drawn, torch.rand(3))  # seeded with 0


def test_workers_capped_by_the_cores_not_by_the_kernels_threads(nbenv, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setenv("NBLIB_THREADS", "8")
    assert nblib.setup(Grid, namespace(workers=2), SLUG, quiet=True).workers == 2
    assert nblib.setup(Grid, namespace(workers=4), SLUG, quiet=True).workers == 2
    monkeypatch.setenv("NBLIB_THREADS", "1")  # a busy machine: one kernel thread, still 2 workers
    s = nblib.setup(Grid, namespace(workers=2), SLUG, quiet=True)
    assert (s.threads, s.workers) == (1, 2)
    s = nblib.setup(Single, namespace(Single), SLUG, quiet=True)  # no workers field
    assert s.workers == 1 and s.estimate_s is None
    metrics = json.loads((s.run_dir / "metrics.json").read_text())
    assert "runtime_estimate" not in metrics["values"]


def test_one_worker_off_the_cpu(nbenv, monkeypatch):
    monkeypatch.setattr("nblib.config._cuda_available", lambda: True)  # the config checks for one
    monkeypatch.setenv("NBLIB_THREADS", "4")
    picked = []
    monkeypatch.setattr(session, "pick_device",
                        lambda pref: picked.append(pref) or torch.device("meta"))
    s = nblib.setup(Grid, namespace(workers=4, device="cuda"), SLUG, quiet=True,
                    estimate=lambda cfg, device, workers: float(workers))
    assert picked == ["cuda"] and s.device.type == "meta"
    assert s.workers == 1 and s.estimate_s == 1.0


def test_setup_rejects_a_bad_or_missing_parameter(nbenv):
    with pytest.raises(ConfigError, match="workers"):
        nblib.setup(Grid, namespace(workers=0), SLUG, quiet=True)
    ns = namespace()
    del ns["width"]
    with pytest.raises(ConfigError, match="width"):
        nblib.setup(Grid, ns, SLUG, quiet=True)


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (42, "42 s"), (89.4, "89 s"),
                                           (90, "1.5 min"), (3600, "60.0 min"),
                                           (5400, "1.5 h"), (36_000, "10.0 h")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
