"""Notebook 14's fixtures: a tiny config that trains in seconds, with checkpoints and job
records in a throwaway folder."""

from __future__ import annotations

import pytest

TINY = dict(interactive=False, seeds=1, widths=[16], tpp=[2, 4, 8], warmup_steps=2, sigmas=[0.1],
            verdict_sigma=0.1, noise_draws=2, ft_lrs=[1e-3, 3e-3], ft_steps=4, eval_windows=8,
            context=32, batch_size=8)


@pytest.fixture(scope="module", autouse=True)
def own_checkpoints(tmp_path_factory):
    """Checkpoints and recorded jobs of these tests go to a fresh folder (a stale record of an
    earlier test session must never be read back as a result)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBLIB_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
        yield
