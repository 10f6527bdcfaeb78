"""Notebook 09's fixtures: a tiny config and one tiny run of the whole grid (two seeds, so the
statistics have intervals), with job results and figures in temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import mlp_in_context as icl

from .. import fixtures

TINY = dict(interactive=False, seeds=2, pool_sizes=[1, 8, None], context_lens=[4, 6],
            context_len=6, train_flops=2e7, mlp_width=16, mlp_depth=1, mlp_lrs=[3e-3, 1e-2],
            transformer_d_model=8, transformer_lrs=[1e-3, 3e-3], min_steps=10,
            small_mlp_width=4, small_mlp_steps=40, n_eval=128, n_evals=3, batch_size=32)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "icl-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(icl.ICLConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, icl.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, icl.SLUG)
