"""Notebook 15's fixtures: a tiny config, its data, and one tiny run of the whole grid (two
seeds, so the figures have intervals), with checkpoints and job results in a temporary folder."""

import pytest
import torch

from nblib.config import build
from nblib.experiments import memorization_sinks as ms

TINY = dict(interactive=False, seeds=2, steps=40, eval_every=20, n_repeated=6, n_canaries=4,
            repeats=5, d_model=32, d_mlp=64, n_sink=16, n_active=4, n_active_sweep=[1, 4],
            unlearn_steps=[1, 3], prune_counts=[4, 8], retain_passages=16, val_windows=16,
            batch_size=8)


@pytest.fixture(scope="package", autouse=True)
def checkpoints(tmp_path_factory):
    """Checkpoints and recorded job results of these tests, away from the repository's; one
    torch thread (toy models run fastest so, and a busy machine is not oversubscribed)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("memsinks-checkpoints")
        mp.setenv("NBLIB_CHECKPOINTS", str(path))
        yield path
    torch.set_num_threads(threads)


@pytest.fixture(scope="package")
def cfg():
    return build(ms.SinksConfig, TINY)


@pytest.fixture(scope="package")
def data(cfg):
    return ms.load_data(cfg)


@pytest.fixture(scope="package")
def tiny_run(cfg, checkpoints):
    """run_all of TINY, in this process."""
    return ms.run_all(cfg, workers=1)
