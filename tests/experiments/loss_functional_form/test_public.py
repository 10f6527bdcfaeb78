"""nblib.experiments.loss_functional_form.public on the packaged tables (few bootstrap refits)."""

import pytest

from nblib.config import ConfigError, build
from nblib.experiments.loss_functional_form import LossFormConfig, public
from nblib.stats import LABELS


@pytest.fixture(scope="module")
def cfg():
    return build(LossFormConfig, {"interactive": False, "public_fit_starts": 10,
                                  "forms": ["chinchilla", "kaplan"]})


@pytest.fixture(scope="module")
def results(cfg):
    data = public.sources(cfg)
    return data, public.analyse(cfg, data, n_boot=12)


def test_sources_and_splits(cfg, results):
    data, res = results
    assert list(data) == ["c4_original", "rpj", "rw_original", public.EPOCH]
    for name, part in res.items():
        p = part["points"]
        assert part["train"].sum() >= 10 and part["test"].sum() >= 3, name
        assert p[part["train"]].tpp.max() <= cfg.public_fit_max_tpp
        assert not (part["train"] & part["test"]).any()
    assert len(data[public.EPOCH]) == 240  # Epoch's five highest-loss points dropped


def test_verdicts_named_in_advance(cfg, results):
    _, res = results
    v = public.decide(cfg, res)
    assert list(v)[0] == public.HEADLINE
    assert {"underpredicts_rpj", "underpredicts_chinchilla_fig4",
            "public_kaplan_extrapolates_better"} <= set(v)
    assert all(x.label in LABELS for x in v.values())
    head = v[public.HEADLINE]
    assert head.estimate.unit == "models" and head.estimate.n == 104
    per = [res[d]["table"]["chinchilla"]["bias"].value for d in ("c4_original", "rpj",
                                                                  "rw_original")]
    assert head.estimate.value == pytest.approx(sum(per) / 3)
    assert set(public.summary(res).source) == set(res)


def test_in_sample_trend_and_sensitivity(cfg, results):
    data, _ = results
    trend = public.in_sample_trend(cfg, data, n_boot=8)
    assert trend.label in LABELS and trend.estimate.n == 104
    sens = public.sensitivity(cfg, [(40, 320)], n_boot=8)
    assert list(sens.n_counts) == ["total", "non_embedding"] and sens.low.le(sens.bias).all()


def test_bad_public_settings_are_refused():
    with pytest.raises(ConfigError, match="public_eval"):
        build(LossFormConfig, {"public_eval": "c5"})
    with pytest.raises(ConfigError, match="public_fit_max_tpp"):
        build(LossFormConfig, {"public_fit_max_tpp": 400})
