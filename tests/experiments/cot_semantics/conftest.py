"""Notebook 13's fixtures: a tiny config (4 digits, width 16, one block, 30 steps) and one tiny
run of its grid (two seeds, both families), with job results, checkpoints and figures in
temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import cot_semantics as cs

from .. import fixtures

TINY = dict(interactive=False, seeds=2, n_digits=4, d_model=16, n_layers=1, n_heads=2, steps=30,
            batch_size=16, warmup_steps=5, eval_problems=40, early_fractions=[0.0, 0.5, 1.0],
            checkpoints=2, workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results and weights of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "cot-semantics-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(cs.CotSemanticsConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, cs.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, cs.SLUG)
