"""Notebook 10's fixtures: a tiny config and one tiny run of the whole grid (two seeds, so the
statistics have intervals), with job results and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import mla_vs_mha as mla

from .. import fixtures

TINY = dict(interactive=False, seeds=2, vocab_size=512, context=16, batch_size=16, d_model=16,
            n_layers=1, n_heads=4, rope_dim=2, mla_ranks=[6, 16], headline_rank=6,
            controls=["mqa", "mha_mla_heads"], steps=120, warmup_steps=5, lrs=[3e-2],
            n_evals=2, eval_windows=16, probe_windows=4, probe_ranks=[2, 16])


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "mla-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(mla.MLAConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, mla.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, mla.SLUG)
