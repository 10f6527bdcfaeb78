"""Notebook 08's fixtures: a tiny config (b up to 4, widths 8 and 16, one block, a few GRPO
steps) and one tiny run of its grid (two seeds), with job results, checkpoints and figures in
temporary folders."""

import pytest

from nblib.config import build
from nblib.experiments import more_is_different as md

from .. import fixtures

TINY = dict(interactive=False, seeds=2, train_b=[1, 4], test_b=[5, 6], widths=[8, 16],
            n_layers=1, n_heads=2, pretrain_steps=30, batch_size=16, warmup_steps=5,
            rl_steps=4, prompts_per_step=4, group_size=4, rl_warmup_steps=1, rl_checkpoints=2,
            eval_per_b=2, eval_samples=4, pass_ks=[1, 4], workers=1)


@pytest.fixture(scope="session", autouse=True)
def checkpoints(tmp_path_factory):
    """Recorded job results and RL checkpoints of these tests, away from the repository's."""
    yield from fixtures.isolated_checkpoints(tmp_path_factory, "more-is-different-checkpoints")


@pytest.fixture(scope="session")
def cfg():
    return build(md.MoreIsDifferentConfig, TINY)


@pytest.fixture(scope="session")
def tiny(cfg):
    """(cfg, run_all of TINY in this process)."""
    return cfg, md.run_all(cfg)


@pytest.fixture
def open_run(tmp_path, monkeypatch):
    """A run record in a temporary folder, so `plots.show` has somewhere to save."""
    yield from fixtures.open_run(tmp_path, monkeypatch, md.SLUG)
