import math

import numpy as np
import pytest
import torch

from nblib.data.tasks.icl_regression import RegressionTask, dmmse_predict, ridge_predict, split


def test_shapes_and_hidden_query_label():
    task = RegressionTask(dim=3, context_len=5, pool_size=None)
    z, y = task.sample(7, torch.Generator().manual_seed(0))
    assert z.shape == (7, 5, 4) and y.shape == (7,)
    assert torch.all(z[:, -1, -1] == 0)
    X, ys, xq = split(z)
    assert X.shape == (7, 4, 3) and ys.shape == (7, 4) and xq.shape == (7, 3)


def test_labels_follow_the_linear_model():
    task = RegressionTask(dim=2, context_len=50, noise_var=0.0, pool_size=1, pool_seed=3)
    z, y = task.sample(4, torch.Generator().manual_seed(0))
    w = task.pool()[0]
    assert torch.allclose(z[:, :-1, :2] @ w, z[:, :-1, 2], atol=1e-5)
    assert torch.allclose(z[:, -1, :2] @ w, y, atol=1e-5)


def test_pool_is_fixed_by_its_seed_and_scaled_by_dim():
    a, b = RegressionTask(4, 3, pool_size=5000, pool_seed=1), RegressionTask(4, 3, pool_size=5000,
                                                                             pool_seed=2)
    assert torch.equal(a.pool(), a.pool()) and not torch.equal(a.pool(), b.pool())
    assert a.pool().var().item() == pytest.approx(1 / 4, rel=0.05)  # w ~ N(0, I/d)


def test_ridge_matches_numpy_closed_form():
    task = RegressionTask(dim=3, context_len=6, noise_var=0.1)
    z, _ = task.sample(5, torch.Generator().manual_seed(1))
    for i in range(5):
        X, y, xq = (t.double().numpy() for t in (z[i, :-1, :3], z[i, :-1, 3], z[i, -1, :3]))
        w = np.linalg.solve(X.T @ X + 3 * 0.1 * np.eye(3), X.T @ y)
        assert ridge_predict(z, 0.1)[i].item() == pytest.approx(float(w @ xq), rel=1e-4, abs=1e-5)


def test_dmmse_with_one_vector_is_that_vector():
    task = RegressionTask(dim=2, context_len=4, pool_size=1, pool_seed=0)
    z, _ = task.sample(6, torch.Generator().manual_seed(0))
    assert torch.allclose(dmmse_predict(z, task.pool(), 0.05),
                          z[:, -1, :2] @ task.pool()[0], atol=1e-6)


def test_each_baseline_wins_on_its_own_distribution():
    g = torch.Generator().manual_seed(0)
    pooled = RegressionTask(dim=2, context_len=4, pool_size=4, pool_seed=0)
    z, y = pooled.sample(20000, g)
    mse = lambda pred: ((pred - y) ** 2).mean().item()  # noqa: E731
    assert mse(dmmse_predict(z, pooled.pool(), 0.05)) < mse(ridge_predict(z, 0.05))
    z, y = RegressionTask(dim=2, context_len=4).sample(20000, g)
    assert mse(ridge_predict(z, 0.05)) < mse(dmmse_predict(z, pooled.pool(), 0.05))
    assert mse(ridge_predict(z, 0.05)) < (y**2).mean().item()
    assert math.isfinite(mse(ridge_predict(z, 0.05)))
