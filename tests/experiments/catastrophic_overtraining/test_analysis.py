"""nblib.experiments.catastrophic_overtraining.analysis: slopes, U-curve fits, invariants and
verdicts on synthetic tables whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from nblib.experiments.catastrophic_overtraining import analysis as oa

TPP = [8, 16, 32, 64, 128, 256]


def table(f, noise=0.01, seeds=3, widths=(24, 32), seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{"d_model": w, "seed": s, "params": w * 500, "tpp": t,
                          "y": f(np.log2(t)) + 0.1 * w / 32 + rng.normal(0, noise)}
                         for w in widths for s in range(seeds) for t in TPP])


def test_slope_recovers_a_known_trend():
    est = oa.slope(table(lambda x: 0.02 * x), "y")
    assert est.low < 0.02 < est.high and est.low > 0 and est.n == 6
    assert est.unit == "pretraining runs"


def test_per_run_slopes_and_curvatures_are_the_polyfit_of_each_run():
    """The stats helpers give exactly what the notebook's own np.polyfit loop gave."""
    t = table(lambda x: 0.05 * (x - 5) ** 2)
    by_hand = [np.polyfit(np.log2(g.tpp.to_numpy(float)), g.y.to_numpy(float), 1)[0]
               for _, g in t.groupby(oa.UNIT)]
    assert oa.slope_per_run(t, "y").to_numpy().tolist() == by_hand
    curvature = [np.polyfit(np.log2(g.tpp.to_numpy(float)), g.y.to_numpy(float), 2)[0]
                 for _, g in t.groupby(oa.UNIT)]
    fit = oa.u_curve(t, "y")
    assert fit["curvature"].value == pytest.approx(np.mean(curvature), rel=0, abs=0)
    assert fit["curvature"].unit == fit["end_slope"].unit == "pretraining runs"


def test_u_curve_finds_an_interior_minimum():
    fit = oa.u_curve(table(lambda x: 0.05 * (x - 5) ** 2), "y")  # minimum at 2^5 = 32
    assert fit["curvature"].low > 0 and fit["share_minimum_inside"] > 0.99
    assert fit["vertex_tpp_ci"][0] < 32 < fit["vertex_tpp_ci"][1]
    assert oa.u_verdict("u", fit).label == "SUPPORTED"


def test_a_monotone_curve_is_not_a_u():
    falling = oa.u_curve(table(lambda x: -0.1 * x + 0.005 * x**2), "y")  # convex, minimum at 2^10
    assert oa.u_verdict("u", falling).label == "NOT SUPPORTED"
    # still falling at 256
    saturating = oa.u_curve(table(lambda x: 2 ** (-x / 2), noise=0.002), "y")
    assert saturating["curvature"].low > 0 and saturating["end_slope"].high < 0
    assert oa.u_verdict("u", saturating).label == "NOT SUPPORTED"
    concave = oa.u_curve(table(lambda x: -0.05 * (x - 5) ** 2), "y")
    assert oa.u_verdict("u", concave).label == "NOT SUPPORTED"
    flat = oa.u_curve(table(lambda x: 0 * x, noise=0.05), "y")
    assert oa.u_verdict("u", flat).label in ("INCONCLUSIVE", "NOT SUPPORTED")


def finetune_table(pretrain_after):
    rows = []
    for lr, shift in ((1e-3, 0.0), (3e-3, 0.1)):
        t = table(lambda x, s=shift: pretrain_after(x) + s)
        rows.append(t.assign(ft_lr=lr, pretrain_after=t.y, target_val=t.y - lr * 10,
                             target_test=t.y, forgetting=0.0))
    return pd.concat(rows, ignore_index=True)


def sensitivity_table(slope, base=lambda x: 5.0 + 0 * x):
    """Noise and RTN rises of `slope` per doubling of TPP over a base (probe "none") loss."""
    t = table(lambda x: slope * x)
    noise = t.assign(probe="noise", sigma=0.1, draw=0, delta=t.y, loss=t.y)
    none = t.assign(probe="none", sigma=np.nan, draw=0, delta=0.0,
                    loss=base(np.log2(t.tpp.to_numpy(float))))
    return pd.concat([noise, noise.assign(probe="rtn4", sigma=np.nan), none], ignore_index=True)


def test_decide_reads_the_tables():
    verdicts = oa.decide(sensitivity_table(0.02), finetune_table(lambda x: 0.05 * (x - 5) ** 2),
                         sigma=0.1, fixed_lr=3e-3, vocab_size=512)
    assert verdicts["sensitivity"].label == "SUPPORTED"
    assert verdicts["quantization"].label == "SUPPORTED"
    assert verdicts["u_curve"].label == "SUPPORTED"
    assert verdicts["tuning_removes"].label == "NOT SUPPORTED"  # the tuned LR has the same U
    assert verdicts["sensitivity_normalised"].label == "SUPPORTED"  # the base does not move
    assert verdicts["target_u_curve"].label == "SUPPORTED"  # target_test follows the same U
    flat = oa.decide(sensitivity_table(-0.02), finetune_table(lambda x: -0.1 * x), 0.1, 3e-3,
                     512)
    assert flat["sensitivity"].label == "NOT SUPPORTED" and flat["u_curve"].label == "NOT SUPPORTED"
    assert flat["tuning_removes"].label == "INCONCLUSIVE"  # nothing to remove


def test_normalised_sensitivity_removes_the_mechanical_part():
    """A rise that only tracks what pretraining gained (Δ = 0.1 (ln V − L_base), the base loss
    falling with TPP) has a rising absolute slope and a flat normalised one."""
    lnv = np.log(512)
    base = lambda x: 5.0 - 0.2 * x  # noqa: E731
    sens = sensitivity_table(0.0, base)
    noise = sens.probe == "noise"
    sens.loc[noise, "delta"] = 0.1 * (lnv - base(np.log2(sens.loc[noise, "tpp"].to_numpy(float))))
    assert oa.slope(oa.noise_deltas(sens), "delta").low > 0
    flat = oa.slope(oa.normalised_deltas(sens, 0.1, 512), "delta")
    assert abs(flat.value) < 1e-12


def test_per_size_estimates_each_size_on_its_own_seeds():
    sens, ft = sensitivity_table(0.02), finetune_table(lambda x: 0.05 * (x - 5) ** 2)
    t = oa.per_size(sens, ft, 0.1, 3e-3, 512)
    assert set(t.d_model) == {24, 32} and (t.seeds == 3).all()
    assert set(t.quantity) == {"sensitivity", "sensitivity_normalised", "forgetting",
                               "target_test"}
    row = t[(t.d_model == 24) & (t.quantity == "sensitivity")].iloc[0]
    assert row.low < 0.02 < row.high


def test_tuned_rows_pick_the_lowest_validation_loss_per_checkpoint():
    ft = finetune_table(lambda x: 0 * x)
    best = oa.tuned_rows(ft)
    assert len(best) == 6 * 6 and (best.ft_lr == "tuned").all()
    assert best.target_val.to_numpy() == pytest.approx(
        ft.groupby(["d_model", "seed", "tpp"]).target_val.min().to_numpy())
    assert set(oa.summary_table(ft).index.get_level_values("ft_lr")) == {"0.001", "0.003", "tuned"}
    fits = {"a": oa.u_curve(ft[ft.ft_lr == 1e-3], "pretrain_after")}
    assert list(oa.u_table(fits).index) == ["a"]


def test_statistics_hold_every_recorded_family():
    sens = sensitivity_table(0.02)
    ft = finetune_table(lambda x: 0.05 * (x - 5) ** 2)
    out = oa.statistics(sens, ft, sigmas=[0.1], quant_bits=4, ft_lrs=[1e-3, 3e-3])
    assert list(out) == ["sensitivity_slopes", "forgetting_slopes", "u_curves_pretrain_after",
                         "u_curves_target"]
    assert list(out["sensitivity_slopes"]) == ["noise_sigma_0.1", "rtn4"]
    assert list(out["u_curves_pretrain_after"]) == ["lr=0.001", "lr=0.003", "tuned"]
    assert out["sensitivity_slopes"]["rtn4"].low > 0


def test_invariants_name_what_fails():
    sens = sensitivity_table(0.02).assign(probe="none", loss=lambda t: 5.0 - t.tpp / 1000)
    ft = finetune_table(lambda x: 0 * x).assign(target_before=10.0)
    ok = oa.invariants(sens, ft, vocab_size=512)
    assert all(ok.values()) and len(ok) == 4
    bad = oa.invariants(sens.assign(loss=7.0), ft.assign(target_before=0.0), vocab_size=512)
    assert not bad["beats_uniform_predictor"] and not bad["finetuning_lowers_target_loss"]
    assert not bad["annealed_loss_falls_with_budget"] and bad["losses_finite"]
