"""Notebook 05's fixtures: a tiny config (a 1-block model of width 16, 40 steps, 8 and 4
people) and one tiny run of its grid (two seeds), with job results and figures in temporary
folders."""

import pytest

from nblib.config import build
from nblib.experiments import latent_overfitting as lo

from .. import fixtures

TINY = dict(interactive=False, seeds=2, people=8, diversity=[4, 8], test_people=12, d_model=16,
            n_layers=1, n_heads=2, context=32, steps=40, batch_size=4, warmup_steps=4,
            n_checkpoints=4, workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "latent-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(lo.LatentConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, lo.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, lo.SLUG)
