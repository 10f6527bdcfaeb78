"""Shared fixtures for the nblib core tests.

The runner finds notebooks under `repo_root()/notebooks`; tests build a throwaway repository root
(pyproject.toml + an `nblib/` marker + notebooks/ holding only the fixture notebook and its profile)
and point NBLIB_ROOT / NBLIB_RUNS / NBLIB_CACHE at it. The fixture notebook's config class lives in
tests/fixtures/fixture_config.py, importable here (sys.path) and in kernels and CLI subprocesses
(PYTHONPATH, which they inherit with the rest of os.environ).

The environment is changed per test with monkeypatch (fixture `nbenv`), so nothing leaks into
other test modules (tests/test_notebooks.py runs the real notebooks from the real root).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
SLUG = "01_fixture"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

CLEARED_VARS = ("NBLIB_RUN_DIR", "NBLIB_THREADS", "NBLIB_ROOT", "NBLIB_RUNS", "NBLIB_CACHE", "NBLIB_CHECKPOINTS")


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory) -> Path:
    """A throwaway repository root holding only the fixture notebook and its smoke profile."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "nblib").mkdir()
    shutil.copytree(FIXTURES / "notebooks", root / "notebooks")
    return root


def _env_for(root: Path, runs: Path, cache: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(FIXTURES), os.environ.get("PYTHONPATH")) if p)
    return {"NBLIB_ROOT": str(root), "NBLIB_RUNS": str(runs), "NBLIB_CACHE": str(cache),
            "PYTHONPATH": pythonpath, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def _reset_record_state() -> None:
    # `nblib.record` the attribute is the function; the module is reached through importlib
    importlib.import_module("nblib.record")._current.clear()


@pytest.fixture
def nbenv(fixture_root, tmp_path, monkeypatch) -> SimpleNamespace:
    """NBLIB_* pointed at the fixture root, with a fresh runs folder for this test."""
    for var in CLEARED_VARS:
        monkeypatch.delenv(var, raising=False)
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    for key, value in _env_for(fixture_root, runs, cache).items():
        monkeypatch.setenv(key, value)
    _reset_record_state()
    yield SimpleNamespace(root=fixture_root, runs=runs, notebook=fixture_root / "notebooks" / f"{SLUG}.ipynb")
    _reset_record_state()


@pytest.fixture(scope="session")
def executed_run(fixture_root, tmp_path_factory) -> dict:
    """One real papermill run of the fixture notebook (smoke profile, 1 thread), shared by modules.

    Returns run_notebook's result (metrics plus `dir`) and `runs`, the runs root it landed in.
    """
    from nblib.runner import RunSpec, run_notebook

    runs = tmp_path_factory.mktemp("shared_runs")
    with pytest.MonkeyPatch.context() as mp:
        for var in CLEARED_VARS:
            mp.delenv(var, raising=False)
        for key, value in _env_for(fixture_root, runs, tmp_path_factory.mktemp("cache")).items():
            mp.setenv(key, value)
        spec = RunSpec(fixture_root / "notebooks" / f"{SLUG}.ipynb", "smoke", {"seed": 3})
        result = run_notebook(spec, threads=1)
    _reset_record_state()
    assert result["status"] == "ok", result.get("error")
    return {**result, "runs": runs, "spec": spec}


SYCOPHANCY_POLICIES = {  # (first right?, style) -> final outcome
    "truthful": lambda right, style: "correct",
    "agreeable": lambda right, style: "wrong" if right else ("correct" if style != "bare" else "wrong"),
    "perverse": lambda right, style: "wrong",  # gives up right answers, keeps wrong ones
}


def _conversation_table(policy: str, n_items: int = 12):
    """Pre-filled conversations of a chat model with a known policy, scored, with the always-agree
    baseline; for the notebook-12 analysis and view tests."""
    import pandas as pd

    from nblib.eval import sycophancy

    rows = []
    for i in range(n_items):
        for style in ("bare", "authority", "evidence", "reask"):
            for right in (True, False):
                rows.append({"item": f"capitals/{i}", "kind": "name", "domain": "capitals", "construction": "pre-filled",
                             "style": style, "first_outcome": "correct" if right else "wrong",
                             "final_outcome": SYCOPHANCY_POLICIES[policy](right, style) if style != "reask"
                             else ("correct" if right else "wrong")})
    rows = pd.DataFrame(rows)
    rows["agree_outcome"] = sycophancy.always_agree(rows)
    return rows


@pytest.fixture
def conversation_table():
    return _conversation_table


SCALING_TRUTH = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.37)


def _scaling_grid(flatten: float = 0.0, seeds: int = 3, noise: float = 0.003):
    """Chinchilla losses over 4 sizes x 6 budgets; `flatten` adds flatten * log2(tpp / 64) nats above
    64 tokens per parameter (the loss falls more slowly than the law there)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for n in (3e4, 6e4, 1.2e5, 2.4e5):
        for seed in range(seeds):
            for tpp in (8, 16, 32, 64, 128, 256):
                d = n * tpp
                t = SCALING_TRUTH
                loss = t["E"] + t["A"] / n ** t["alpha"] + t["B"] / d ** t["beta"]
                loss += flatten * max(0.0, np.log2(tpp / 64))
                rows.append({"N": n, "seed": seed, "tpp": float(tpp), "D": d,
                             "loss": loss * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


@pytest.fixture
def scaling_grid():
    """Synthetic (N, D, loss) points with a known law, for the notebook-03 analysis and view tests."""
    return _scaling_grid


def _kd_results(gain_at: float, slope: float, seeds: int = 3, noise: float = 0.0, teacher_share: float = 0.05):
    """Scratch loss 6 − 0.5·log2(C/1e9) at budgets 1..16e9 FLOPs (plus 32e9), and one KD condition
    whose loss at matched *total* compute is scratch's + gain_at + slope·log2(C/1e9)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        offset = rng.normal(0, 0.1)  # seeds differ; pairing removes it
        for c in [1e9, 2e9, 4e9, 8e9, 16e9, 32e9]:
            rows.append({"condition": "scratch", "seed": seed, "tpp": c / 1e9, "student_flops": c,
                         "total_flops": c, "loss": 6 - 0.5 * np.log2(c / 1e9) + offset})
        for c in [1e9, 2e9, 4e9, 8e9, 16e9]:
            total = c * (1 + teacher_share)
            scratch_there = 6 - 0.5 * np.log2(total / 1e9) + offset
            delta = gain_at + slope * np.log2(total / 1e9) + rng.normal(0, noise)
            rows.append({"condition": "kd", "seed": seed, "tpp": c / 1e9, "student_flops": c,
                         "total_flops": total, "loss": scratch_there + delta})
    return pd.DataFrame(rows)


@pytest.fixture
def kd_results():
    """Synthetic notebook-01 results (scratch and one distilled condition) with a known gap."""
    return _kd_results
