import numpy as np
import pandas as pd

from nblib.config import replace
from nblib.experiments.environment_compute import analysis as an
from nblib.stats import LABELS


def _mpc(cfg, value):
    """A synthetic mpc table: true_return = value(integrator, substeps, population, seed)."""
    rows = []
    for seed in range(6):
        for integ in cfg.integrators:
            for k in cfg.substeps:
                for p in cfg.populations:
                    rows.append(dict(integrator=integ, substeps=k, population=p, seed=seed,
                                     true_return=value(integ, k, p, seed),
                                     rhs_evals_per_control_step=p * k,
                                     sim_flops_per_control_step=8.0 * p * k,
                                     plan_flops_per_control_step=10.0 * p))
        rows.append(dict(integrator="rk4", substeps=20, population=cfg.population, seed=seed,
                         true_return=0.6 + 0.001 * seed))
    return pd.DataFrame(rows)


def test_saturation_supported_for_a_rise_then_plateau(cfg):
    def rise_then_flat(i, k, p, seed):
        return 0.6 - 0.3 / k**6 + 0.002 * np.sin(seed + k)  # 0.3 at k=1, ~0.6 from k=2 on

    v = an.saturation(_mpc(cfg, rise_then_flat), cfg)
    assert v.label == LABELS[0], v
    assert v.details["parts"]["rises"].estimate.value > 0.2


def test_saturation_not_supported_when_still_climbing(cfg):
    def linear(i, k, p, seed):
        return 0.1 * k + 0.002 * np.cos(seed)  # the last doubling adds 0.2

    v = an.saturation(_mpc(cfg, linear), cfg)
    assert v.label == LABELS[1] and v.details["parts"]["flat"].label == LABELS[1]


def test_order_vs_substeps_reads_the_equal_evaluation_pair(cfg):
    def rk4_better(i, k, p, seed):
        return 0.5 + (0.1 if (i, k) == ("rk4", 1) else 0.0) + 0.001 * seed

    assert an.order_vs_substeps(_mpc(cfg, rk4_better), cfg, "euler").label == LABELS[0]
    same = an.order_vs_substeps(_mpc(cfg, lambda i, k, p, s: 0.5 + 0.001 * s), cfg, "euler")
    assert same.label == LABELS[1]  # a difference of exactly 0, well below +margin


def test_simulator_advantage_is_the_equal_compute_difference(cfg):
    def value(i, k, p, seed):
        return 0.01 * np.log2(k) * 3 + 0.01 * np.log2(p)  # doubling k adds 0.03, P adds 0.01

    adv = an.simulator_advantage(_mpc(cfg, value), replace(cfg, seeds=6))
    assert np.allclose(adv.advantage, 0.02)


def test_allocation_verdict_follows_the_slope(cfg):
    six = replace(cfg, seeds=6)

    def grows(i, k, p, seed):  # the simulator's doubling pays more the larger P is
        return 0.01 * np.log2(k) * np.log2(p) + 0.001 * np.sin(seed * k * p)

    assert an.allocation(_mpc(six, grows), six).label == LABELS[0]
    flat = an.allocation(_mpc(six, lambda i, k, p, s: 0.5 + 0.001 * np.sin(s * k * p)), six)
    assert flat.label == LABELS[1]


def _bon(cfg, proxy_curve):
    rows = []
    for seed in range(6):
        for j, n in [(j, n) for j in ("oracle", "noisy", "coarse") for n in cfg.bon_sizes]:
            value = np.log2(n) * 0.05 if j == "oracle" else proxy_curve(n)
            rows.append(dict(judge=j, candidates=n, seed=seed, true_return=value
                             + 0.001 * np.sin(seed + n)))
    return pd.DataFrame(rows)


def test_best_of_n_peak_is_found_only_where_it_is(cfg):
    peaked = _bon(cfg, lambda n: {1: 0.1, 4: 0.4, 16: 0.2}[n])
    assert an.peaks(peaked, cfg, "coarse").label == LABELS[0]
    monotone = _bon(cfg, lambda n: 0.1 * np.log2(n))
    assert an.peaks(monotone, cfg, "coarse").label == LABELS[1]


def test_invariants_and_verdicts_on_the_tiny_run(tiny):
    cfg, res = tiny
    inv = an.invariants(res, cfg)
    assert all(inv.values()), inv
    verdicts = an.decide(res, cfg)
    assert list(verdicts)[0] == an.HEADLINE
    assert {"higher_order_beats_substeps", "rk4_beats_semi_implicit_euler",
            "best_of_n_coarse_judge_peaks", "allocation_moves_to_simulator"} <= set(verdicts)
    assert all(v.label in LABELS for v in verdicts.values())
    numbers = an.statistics(res, cfg)
    assert {"solver_table", "baselines", "frontier", "objective_mismatch"} <= set(numbers)
    assert numbers["baselines"]["oracle_agent"]["mean"] > numbers["baselines"]["zero_torque"][
        "mean"]


def test_frontier_marks_one_best_allocation_per_budget(tiny):
    cfg, res = tiny
    f = an.frontier(res.mpc, cfg)
    assert (f.groupby("rhs_evals_per_control_step").best.sum() >= 1).all()
    assert f.simulator_share.between(0, 1).all()
