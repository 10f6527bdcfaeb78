"""Notebook 02's fixtures: a tiny config and one tiny run of the whole job grid (two seeds, so the
statistics have intervals), with job results and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import environment_compute as ec

from .. import fixtures

TINY = dict(interactive=False, seeds=2, episodes=2, episode_steps=8, horizon=4, population=8,
            populations=[4, 8, 16], substeps=[1, 2, 4], wm_transitions=[50, 200], wm_steps=40,
            wm_checkpoints=2, bon_sizes=[1, 4, 16], bon_peak_n=4, n_test=128, workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "env-compute-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(ec.EnvComputeConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, ec.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, ec.SLUG)
