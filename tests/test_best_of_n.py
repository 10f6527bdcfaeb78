"""nblib.planning.best_of_n: selection by the judge, nested candidates, N = 1."""

import numpy as np
import pytest

from nblib.planning.best_of_n import BestOfN

STATES = np.zeros((2, 2))


def _rngs():
    return [np.random.default_rng([0, e]) for e in range(2)]


def test_the_judges_favourite_is_taken():
    def prefer_positive(states, plans):
        return plans[..., 0]  # score: the first action

    agent = BestOfN(16, 16, 3, 1.0, prefer_positive, max_torque=10.0)
    agent.reset(2)
    action = agent.act(STATES, _rngs())
    noise = np.stack([r.standard_normal((16, 3)) for r in _rngs()])
    assert np.allclose(action, noise[:, :, 0].max(1))


def test_n_1_ignores_the_judge_and_candidates_are_nested():
    taken = []
    for judge in (lambda s, p: p[..., 0], lambda s, p: -p[..., 0]):
        agent = BestOfN(1, 8, 3, 1.0, judge, max_torque=10.0)
        agent.reset(2)
        taken.append(agent.act(STATES, _rngs()))
    assert np.array_equal(*taken)
    noise = np.stack([r.standard_normal((8, 3)) for r in _rngs()])
    assert np.allclose(taken[0], noise[:, 0, 0])  # the first of the n_max draws


def test_n_out_of_range():
    with pytest.raises(ValueError, match="n=9"):
        BestOfN(9, 8, 3, 1.0, lambda s, p: p[..., 0], 1.0)
