"""Best-of-N planning: every control step, N candidate plans drawn around the warm start, scored by
a judge, and the first action of the judge's favourite taken (random shooting, selection by a
judge instead of refits).

Candidates are nested across N: each step draws `n_max` plans per episode and best-of-N looks at
the first N, so two N's of one seed share their candidates until their trajectories part.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]  # states (E, S), plans (E, N, H) -> (E, N)


class BestOfN:
    """Best-of-`n` over plans of length `horizon`, std `std` (torque) around the warm start."""

    def __init__(self, n: int, n_max: int, horizon: int, std: float, judge: Judge,
                 max_torque: float):
        if not 1 <= n <= n_max:
            raise ValueError(f"n={n}: must be in [1, n_max={n_max}]")
        self.n, self.n_max, self.horizon, self.std = n, n_max, horizon, std
        self.judge, self.max_torque = judge, max_torque
        self.mean: np.ndarray | None = None  # (E, H) warm start: the last chosen plan, shifted

    def reset(self, n_episodes: int) -> None:
        self.mean = np.zeros((n_episodes, self.horizon))

    def act(self, states: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        noise = np.stack([rng.standard_normal((self.n_max, self.horizon)) for rng in rngs])
        plans = np.clip(self.mean[:, None] + self.std * noise[:, :self.n], -self.max_torque,
                        self.max_torque)  # (E, N, H)
        best = np.argmax(self.judge(states, plans), axis=1)  # (E,)
        chosen = plans[np.arange(len(plans)), best]  # (E, H)
        self.mean = np.concatenate([chosen[:, 1:], np.zeros((len(chosen), 1))], axis=1)
        return chosen[:, 0]
