"""Notebook 11's fixtures: a tiny config (two needles at 32 and 64 tokens; a width-16 answerer,
30 steps, 5 editor updates) and one tiny run of both parts (two seeds), with job results,
checkpoints and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import context_editing as ce

from .. import fixtures

TINY = dict(interactive=False, seeds=2, rot_items=2, rot_lengths=[32, 64], rot_chunks=1,
            max_distractors=4, d_model=16, n_layers=1, n_heads=2, steps=30, batch_size=16,
            warmup_steps=5, editor_steps=5, editor_batch=4, edits_per_ledger=4, eval_ledgers=40,
            budgets=[2, 3], rot_curve=[0, 4], workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results and weights of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "context-editing-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(ce.ContextEditingConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, ce.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, ce.SLUG)
