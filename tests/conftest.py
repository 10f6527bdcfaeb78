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

CLEARED_VARS = ("NBLIB_RUN_DIR", "NBLIB_THREADS", "NBLIB_ROOT", "NBLIB_RUNS", "NBLIB_CACHE",
                "NBLIB_CHECKPOINTS")


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
    notebook = fixture_root / "notebooks" / f"{SLUG}.ipynb"
    yield SimpleNamespace(root=fixture_root, runs=runs, notebook=notebook)
    _reset_record_state()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """NBLIB_CACHE in a temporary folder, one per test module (the tokenizer is trained once)."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBLIB_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """NBLIB_CHECKPOINTS in a temporary folder, one per test module: recorded jobs and seeds land
    there, away from the repository's (and are not read back from an earlier session)."""
    path = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBLIB_CHECKPOINTS", str(path))
        yield path


@pytest.fixture(scope="session")
def prepared() -> dict[str, float]:
    """The one-time work (the packaged model converted, the notebooks' tokenizers trained and
    corpora tokenized, into the cache the notebooks use) done once, outside any cell timeout."""
    from nblib.prepare import prepare

    return prepare(quiet=True)


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
