"""Notebook 07's fixtures: a tiny config (8 biographies, 3 speech excerpts, a 1-block model of
width 16), its DAGs from the packaged model, and one tiny run of its grid (two seeds), with job
results and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import dag_permutations as dp

from .. import fixtures

TINY = dict(interactive=False, seeds=2, people=8, speeches=3, max_tokens=128, test_people=6,
            val_windows=6, d_model=16, n_layers=1, n_heads=2, context=32, steps=30,
            batch_size=4, warmup_steps=3, n_checkpoints=3, workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded DAGs and job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "dag-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(dp.DagConfig, TINY)


@pytest.fixture(scope="session")
def dags(cfg):
    return dp.extract_dags(cfg)


@pytest.fixture(scope="session")
def tiny(cfg, dags):
    """(cfg, run_all of TINY in this process)."""
    return cfg, dp.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, dp.SLUG)
