"""Notebook 06's fixtures: a tiny config (2-digit addition, a 1-block model of width 16) and one
tiny run of its grid (two seeds), with job results and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import emergence_passk as em

from .. import fixtures

TINY = dict(interactive=False, seeds=2, digits=2, test_problems=64, widths=[16], n_layers=1,
            n_heads=2, steps=120, batch_size=32, lr=1e-2, warmup_steps=5, n_checkpoints=5,
            first_checkpoint=5, pass_ks=[1, 2, 4, 8, 16, 32], forecast_ks=[4, 8, 16, 32],
            samples=8, sampled_ks=[1, 8], threshold=0.3, fit_below=0.02, min_fit_points=2,
            workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "emergence-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(em.EmergenceConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, em.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, em.SLUG)
