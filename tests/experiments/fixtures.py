"""Fixture bodies the notebook packages' conftests share: recorded job results in a temporary
folder, and an open run record for `plots.show` to save into."""

import importlib

import pytest


def isolated_checkpoints(tmp_path_factory, name: str):
    """NBLIB_CHECKPOINTS pointed at a fresh temporary folder for the session (yields it)."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp(name)
        mp.setenv("NBLIB_CHECKPOINTS", str(path))
        yield path


def open_run(tmp_path, monkeypatch, slug: str):
    """A run record of `slug` in a temporary folder (yields its directory), closed after."""
    record = importlib.import_module("nblib.record")
    monkeypatch.setenv("NBLIB_RUN_DIR", str(tmp_path / "run"))
    record._current.clear()
    run_dir = record.start_run(slug)
    yield run_dir
    record._current.clear()
