"""nblib.experiments.kshot_objective.analysis: the verdicts on synthetic pass@k curves with known
answers (a sharp model against a spread one: the curves cross; two identical models: no
difference; a uniformly better one: no crossing), the Pareto frontier of the CE baselines on
synthetic trajectories (a model the baselines reproduce is not above it; a better one is), the
mirror-pair leak, and the exact theory: the minimiser of the
expected k-shot loss is q for k = 1 (a proper scoring rule), flatter than q for k > 1 (improper,
under-confident, order kept), satisfies its stationarity condition, and is not a temperature
scaling of q."""

import numpy as np
import pytest
import torch

from nblib.experiments.kshot_objective import analysis
from nblib.train.objectives import kshot_loss

from .conftest import PASS_KS, VOCAB, kind_p


def test_crossing_curves_are_supported(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "spread"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "SUPPORTED" and v.estimate.low > 0
    assert v.details["pass_at_1_delta"].value < 0
    assert 1 < v.details["crossover_k"] <= 64
    assert analysis.monotone_in_k(curves)


def test_identical_models_are_not_supported(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "sharp"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "NOT SUPPORTED" and v.estimate.value == 0  # no gain at large k


def test_uniformly_better_model_does_not_cross(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "better"})
    v = analysis.crossing_verdict(curves, "modular", 16)
    assert v.label == "NOT SUPPORTED" and v.details["pass_at_1_delta"].low > 0


def test_decide_covers_every_task_and_k_and_the_hotter_baseline(synthetic, trajectory):
    curves, _ = synthetic({1: "sharp", 4: "spread", 16: "spread"}, tasks=("modular", "sibling"))
    traj = trajectory({"k=1": (1, 0.0, kind_p("sharp")), "k=4": (4, 0.0, kind_p("spread")),
                       "k=16": (16, 0.0, kind_p("spread"))})
    verdicts = analysis.decide(curves, traj, ["modular", "sibling"], [1, 4, 16])
    assert set(verdicts) == {"above_frontier", "above_frontier_k4", "gain_modular",
                             "cost_modular", "gain_sibling", "cost_sibling",
                             "crossing_modular_k4", "crossing_modular_k16",
                             "crossing_sibling_k4", "crossing_sibling_k16",
                             "beats_hotter_ntp_modular", "beats_hotter_ntp_sibling"}
    head = verdicts["above_frontier"]
    assert head.claim.startswith("modular: the k=16 model's pass@16")
    assert verdicts["gain_modular"].label == verdicts["cost_modular"].label == "SUPPORTED"
    assert verdicts["beats_hotter_ntp_modular"].details["ntp_temperature"] == 2.0


def test_pareto_boundary_and_frontier_interpolate_between_undominated_points():
    x, y = [0.1, 0.5, 0.3, 0.9, 0.5], [0.9, 0.5, 0.4, 0.2, 0.45]
    xs, ys = analysis.pareto_boundary(x, y)
    assert xs.tolist() == [0.1, 0.5, 0.9] and ys.tolist() == [0.9, 0.5, 0.2]
    assert analysis.frontier_at(x, y, 0.3) == pytest.approx(0.7)  # halfway along a mixture
    assert analysis.frontier_at(x, y, 0.0) == 0.9  # beyond every baseline's pass@1: their best
    assert analysis.frontier_at(x, y, 0.9) == 0.2 and analysis.frontier_at(x, y, 0.95) == 0.9
    with pytest.raises(ValueError, match="no baseline"):
        analysis.frontier_at([], [], 0.5)


def _mixed(kind: str, weight: float):
    """weight·p + half a chance: at weight 0.5 exactly the ε = 0.5 mixture of `kind` with a
    uniform guess; below 0.5 the rest of the mass goes to wrong answers."""
    return lambda seed, w=weight: w * kind_p(kind)(seed) + 0.5 / VOCAB


def test_a_model_the_baselines_reproduce_is_on_the_frontier_and_a_worse_one_below(trajectory):
    ce = {"k=1": (1, 0.0, kind_p("sharp"))}
    on = trajectory({**ce, "k=16": (16, 0.0, _mixed("sharp", 0.5))})  # CE mixed at ε = 0.5
    gaps = analysis.frontier_gaps(on, "modular", 16, 16)
    assert np.allclose(gaps.gap, 0, atol=1e-9)
    below = trajectory({**ce, "k=16": (16, 0.0, _mixed("sharp", 0.4))})  # mass lost to errors
    v = analysis.pareto_verdict(below, "modular", 16, 16)
    assert v.label == "NOT SUPPORTED" and v.estimate.high < 0
    assert set(v.details["gap_by_family"]) == {analysis.FAMILIES[0], analysis.FAMILIES[1],
                                               analysis.FAMILIES[2]}


def test_a_model_better_at_both_ends_is_above_every_frontier(trajectory):
    traj = trajectory({"k=1": (1, 0.0, kind_p("sharp")), "LS 0.1": (1, 0.1, kind_p("spread")),
                       "k=16": (16, 0.0, kind_p("better"))})
    v = analysis.pareto_verdict(traj, "modular", 16, 2)  # at pass@16 every model is near 1
    assert v.label == "SUPPORTED" and v.details["seeds_beyond_best_baseline_pass1"] == 4
    table = analysis.gap_table(traj, "modular", [1, 16], [1, 2])
    assert set(table.baselines) == {*analysis.FAMILIES, analysis.ALL}
    assert (table.gap > 0).all()
    # the frontier of all baselines is at least each family's: its gap is the smallest
    per = table[table.pass_k == 2].set_index("baselines").gap
    assert per[analysis.ALL] == pytest.approx(per.min())


def test_mirror_leak_is_the_pass_at_1_gap_between_mirrored_and_other_pairs():
    import pandas as pd

    rows = [{"task": "modular", "k": 1, "seed": s, "problem": i, "mirrored": i % 2 == 0,
             "p_correct": 0.9 if i % 2 == 0 else 0.1 + 0.01 * s} for s in range(3)
            for i in range(10)]
    rows += [{"task": "sibling", "k": 1, "seed": 0, "problem": 0, "mirrored": None,
              "p_correct": None}]
    table = analysis.mirror_leak(pd.DataFrame(rows))
    row = table.iloc[0]
    assert len(table) == 1 and row.share_mirrored == 0.5
    assert row.difference == pytest.approx(0.79) and row.low < 0.79 < row.high


def test_deltas_means_summary_and_calibration(synthetic):
    curves, problems = synthetic({1: "sharp", 16: "spread"})
    table = analysis.delta_table(curves)
    assert set(table.k) == {16} and len(table) == len(PASS_KS)
    assert (table.low <= table.delta).all() and (table.delta <= table.high).all()
    means = analysis.mean_curves(curves)
    assert len(means) == (2 + 1) * len(PASS_KS)  # two k's at T = 1 and the hotter k = 1
    summary = analysis.summary(curves, problems)
    assert {"pass@1", "pass@64", "entropy", "top1"} <= set(summary.columns)
    cal = analysis.calibration(problems)
    assert len(cal) == 2 * 4 and cal.gap.between(-1, 1).all()
    with pytest.raises(ValueError, match="same ≥ 2 seeds"):
        analysis.delta(curves[curves.seed == 0], "modular", 16, 64)


def test_mean_curves_are_t_intervals_over_seeds_clipped_to_a_probability(synthetic):
    from scipy import stats

    curves, _ = synthetic({1: "sharp", 16: "better"}, seeds=3)
    means = analysis.mean_curves(curves)
    assert (means.low >= 0).all() and (means.high <= 1).all() and (means.n == 3).all()
    row = means[(means.k == 1) & (means.temperature == 1.0) & (means.pass_k == 1)].iloc[0]
    x = curves[(curves.k == 1) & (curves.temperature == 1.0) & (curves.pass_k == 1)]["pass"]
    half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(x.mean()) and row["low"] == pytest.approx(x.mean() - half)
    near_one = curves.assign(**{"pass": np.where(curves.seed == 0, 0.7, 1.0)})
    assert analysis.mean_curves(near_one)["high"].max() == 1.0  # the unclipped band passes 1


def test_invariants_hold_on_good_curves_and_name_a_broken_one(synthetic):
    curves, _ = synthetic({1: "sharp", 16: "spread"})
    table, _ = analysis.minimiser_table(6, [1.0, 2.0], [1, 4])
    ok = analysis.invariants(curves, table, eval_problems=200, samples=64)
    assert all(ok.values()) and len(ok) == 7
    broken = curves.assign(**{"pass": curves["pass"].where(curves.pass_k != 64, 1.5)})
    bad = analysis.invariants(broken, table, eval_problems=200, samples=64)
    assert not bad["pass_at_k_in_range"] and bad["training_losses_finite"]


# --- the exact scoring-rule theory ----------------------------------------------------------------
def test_expected_loss_is_the_objective_averaged_over_targets():
    q = analysis.zipf(5, 1.0)
    p = analysis.zipf(5, 0.5)
    logits = torch.log(torch.tensor(p)).expand(5, 5)[None]  # (1, 5 targets, 5 classes): p each
    targets = torch.arange(5)[None]  # (1, 5)
    per_class = [float(kshot_loss(logits[:, [y]], targets[:, [y]], 4)) for y in range(5)]
    expected = float(analysis.expected_kshot_loss(p, q, 4))
    assert expected == pytest.approx(float(np.dot(q, per_class)), rel=1e-6)


def test_k1_is_proper():
    q = analysis.zipf(6, 1.5)
    assert np.allclose(analysis.kshot_minimiser(q, 1), q, atol=1e-7)


@pytest.mark.parametrize("k", [2, 4, 16, 64])
def test_k_above_1_is_improper_flatter_and_keeps_order(k):
    q = analysis.zipf(8, 1.0)
    p = analysis.kshot_minimiser(q, k)
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    at_p, at_q = (float(analysis.expected_kshot_loss(x, q, k)) for x in (p, q))
    assert at_p < at_q - 1e-6
    # under-confident on the top class
    assert analysis.entropy(p) > analysis.entropy(q) and p.max() < q.max()
    assert np.all(np.diff(p) < 0)  # q is sorted descending, and so is p*
    assert analysis.stationarity_spread(p, q, k) < 1e-5


def test_flattening_grows_with_k_and_zero_classes_stay_zero():
    q = np.array([0.6, 0.3, 0.1, 0.0])
    tops = [analysis.kshot_minimiser(q, k).max() for k in (1, 2, 4, 16)]
    assert np.all(np.diff(tops) < 0)
    assert analysis.kshot_minimiser(q, 16)[3] == 0.0


def test_no_single_temperature_reproduces_the_minimiser():
    table, found = analysis.minimiser_table(8, [0.5, 2.0, 3.0], [1, 4, 16])
    kshot = table[table.k > 1]
    assert (kshot.best_temperature > 1).all()  # hotter than q helps the k-shot objective ...
    # ... but never reaches the optimum (beyond solver error)
    assert (kshot.temperature_excess > 1e-6).all()
    for _, g in kshot.groupby("k"):  # and the best temperature depends on the target
        assert g.best_temperature.max() / g.best_temperature.min() > 1.1
    k1 = table[table.k == 1]
    assert np.allclose(k1.best_temperature, 1.0, atol=1e-3)
    assert (k1.top1_p - k1.top1_q).abs().max() < 1e-6
    assert set(found) == {(e, k) for e in (0.5, 2.0, 3.0) for k in (1, 4, 16)}


def test_temperature_scaling_is_a_power():
    q = np.array([0.5, 0.25, 0.25])
    assert np.allclose(analysis.temperature_scaled(q, 1.0), q)
    want = np.array([0.25, 1 / 16, 1 / 16]) / (0.25 + 2 / 16)
    assert np.allclose(analysis.temperature_scaled(q, 0.5), want)


@pytest.mark.parametrize("q, message", [([0.5, 0.6], "probability vector"),
                                        ([1.0], "probability vector"),
                                        ([-0.1, 1.1], "probability vector")])
def test_bad_targets_are_refused(q, message):
    with pytest.raises(ValueError, match=message):
        analysis.kshot_minimiser(q, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        analysis.zipf(1, 1.0)
