"""nblib.train.schedules: the learning-rate multiplier's shape."""

import math

import pytest

from nblib.config import ConfigError
from nblib.train.schedules import Schedule


def test_cosine_warms_up_then_decays_to_the_floor():
    s = Schedule("cosine", warmup_steps=10, total_steps=110, final_ratio=0.1)
    assert s(0) == pytest.approx(0.1) and s(9) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through the decay
    assert s(110) == pytest.approx(0.1) and s(500) == pytest.approx(0.1)
    values = [s(t) for t in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_wsd_is_flat_until_the_decay_then_linear_to_zero():
    s = Schedule("wsd", warmup_steps=5)
    assert [s(t) for t in (0, 4, 5, 10_000)] == [pytest.approx(0.2), 1.0, 1.0, 1.0]  # never decays
    d = s.with_decay(start=100, steps=10)
    assert d(99) == 1.0 and d(100) == pytest.approx(0.9) and d(104) == pytest.approx(0.5)
    assert d(109) == pytest.approx(0.0) and d(200) == 0.0
    assert d.warmup_steps == 5


def test_constant_and_errors():
    assert Schedule("constant", warmup_steps=2)(1000) == 1.0
    with pytest.raises(ConfigError, match="kind"):
        Schedule("linear")
    with pytest.raises(ConfigError, match="final_ratio"):
        Schedule(final_ratio=2.0)
    assert not math.isnan(Schedule("cosine", total_steps=1)(0))
