"""Notebook 02's tables, statistics and verdicts, all read from `run_all`'s results.

Seeds are the unit of replication: a seed's return is the mean reward per step over its episodes,
and every comparison of two settings is a paired difference over seeds (each seed's settings
share initial states and planner noise), with its Student-t interval. "Flat" and "no fall" are
read against the margin the hypothesis states (`margin`, in reward per step); "flat" is an
equivalence test, two one-sided tests at α = 0.05 read off the 90% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from nblib.experiments.environment_compute import EnvComputeConfig
from nblib.stats import (
    LABELS,
    Estimate,
    Verdict,
    above_zero_or_not,
    all_of,
    mean_ci_any,
    mean_ci_table,
    paired_any,
    slope_ci,
    tost,
    verdict,
)

HEADLINE = "solver_compute_saturates"
TOST_LEVEL = 0.90  # a (1 − 2α) interval: TOST at α = 0.05


# --- selections -----------------------------------------------------------------------------------
def returns(mpc: pd.DataFrame, integrator: str, substeps: int, population: int,
            col: str = "true_return") -> pd.Series:
    """`col` per seed of one CEM setting (indexed by seed, sorted)."""
    sel = mpc[(mpc.integrator == integrator) & (mpc.substeps == substeps)
              & (mpc.population == population)]
    return sel.set_index("seed")[col].sort_index()


def paired_settings(a: pd.Series, b: pd.Series, level: float = 0.95) -> Estimate:
    """Mean of a − b over the seeds both have, paired, with its t-interval."""
    seeds = a.index.intersection(b.index)
    return paired_any(a[seeds].to_numpy(float), b[seeds].to_numpy(float), level)


def oracle(mpc: pd.DataFrame, cfg: EnvComputeConfig, col: str = "true_return") -> pd.Series:
    """The oracle agent: the same planner with the true world as its simulator."""
    return returns(mpc, cfg.true_integrator, cfg.true_substeps, cfg.population, col)


def solver_axis(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """The solver axis at the agent's population: one row per setting and seed, with the sim
    return minus the true return (`gap`)."""
    sel = mpc[(mpc.population == cfg.population)].copy()
    sel["gap"] = sel.sim_return - sel.true_return
    sel["oracle"] = (sel.integrator == cfg.true_integrator) & (sel.substeps == cfg.true_substeps)
    return sel


def solver_table(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """Per solver setting: RHS evaluations per step, one-step error, and the true return, sim
    return and their gap as means with 95% t-intervals over seeds."""
    sel = solver_axis(mpc, cfg)
    keys = ["integrator", "substeps", "evals_per_step"]
    out = sel.groupby(keys).one_step_error.first().reset_index()
    for col in ("true_return", "sim_return", "gap"):
        ci = mean_ci_table(sel, keys, col, unit="seed").rename(
            columns={"mean": col, "low": f"{col}_low", "high": f"{col}_high"}).drop(columns="n")
        out = out.merge(ci, on=keys)
    return out.sort_values(["integrator", "substeps"]).reset_index(drop=True)


# --- verdict helpers ------------------------------------------------------------------------------
def equivalent(claim: str, est90: Estimate, margin: float, details: dict | None = None) -> Verdict:
    """SUPPORTED iff the 90% interval lies inside ±margin (TOST), NOT SUPPORTED iff it lies
    wholly beyond +margin or −margin, INCONCLUSIVE otherwise (also with one seed)."""
    if not np.isfinite(est90.low):
        label = LABELS[2]
    elif tost(est90, margin):
        label = LABELS[0]
    elif est90.low >= margin or est90.high <= -margin:
        label = LABELS[1]
    else:
        label = LABELS[2]
    return Verdict(label, claim, est90, margin, "within ±", dict(details or {}))


# --- verdict 1: solver compute --------------------------------------------------------------------
def saturation(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> Verdict:
    """True return rises from the cheapest to the largest substeps of the ladder (paired, 95% CI
    above 0, NOT SUPPORTED below +margin) and the ladder's last doubling changes it by less than
    ±margin (TOST, 90% CI): both must hold."""
    ks = sorted(cfg.substeps)
    r = {k: returns(mpc, cfg.ladder, k, cfg.population) for k in ks}
    rise = paired_settings(r[ks[-1]], r[ks[0]])
    flat = paired_settings(r[ks[-1]], r[ks[-2]], TOST_LEVEL)
    to_oracle = paired_settings(oracle(mpc, cfg), r[ks[-1]])
    parts = {
        "rises": above_zero_or_not(
            f"{cfg.ladder} x{ks[-1]} earns more true reward per step than {cfg.ladder} x{ks[0]} "
            f"(paired by seed, by more than {cfg.margin:g} for a NOT SUPPORTED to be ruled out)",
            rise, cfg.margin),
        "flat": equivalent(
            f"the last doubling ({cfg.ladder} x{ks[-2]} -> x{ks[-1]}) changes the true reward "
            f"per step by less than ±{cfg.margin:g} (TOST, 90% CI)", flat, cfg.margin),
    }
    claim = (f"True return rises with solver compute and saturates: along the {cfg.ladder} "
             f"ladder x{ks[0]} -> x{ks[-1]} (population {cfg.population}) it rises, and the last "
             f"doubling moves it by less than ±{cfg.margin:g} reward per step")
    return all_of(claim, parts, "rises", dict(oracle_minus_top=to_oracle,
                                              returns={k: mean_ci_any(v) for k, v in r.items()}))


# --- verdict 2: order against substeps ------------------------------------------------------------
def order_vs_substeps(mpc: pd.DataFrame, cfg: EnvComputeConfig, low_order: str) -> Verdict:
    """rk4 x (e/4) against `low_order` x e at the same e RHS evaluations per step: true return
    higher (95% CI of the paired difference above 0; NOT SUPPORTED when it lies below +margin)."""
    e = cfg.equal_evals
    rk4, low = (returns(mpc, "rk4", e // 4, cfg.population),
                returns(mpc, low_order, e, cfg.population))
    est = paired_settings(rk4, low)
    claim = (f"At {e} RHS evaluations per control step, rk4 x{e // 4} earns more true reward "
             f"per step than {low_order} x{e} (paired by seed; NOT SUPPORTED if the whole "
             f"interval lies below +{cfg.margin:g})")
    return above_zero_or_not(claim, est, cfg.margin, dict(rk4=mean_ci_any(rk4),
                                                          low_order=mean_ci_any(low)))


# --- verdict 3: best-of-N -------------------------------------------------------------------------
def bon_returns(bon: pd.DataFrame, judge: str, n: int) -> pd.Series:
    sel = bon[(bon.judge == judge) & (bon.candidates == n)]
    return sel.set_index("seed").true_return.sort_index()


def bon_table(bon: pd.DataFrame) -> pd.DataFrame:
    """True return per judge and N: mean and 95% t-interval over seeds."""
    return mean_ci_table(bon, ["judge", "candidates"], "true_return", unit="seed").sort_values(
        ["judge", "candidates"]).reset_index(drop=True)


def peaks(bon: pd.DataFrame, cfg: EnvComputeConfig, proxy: str) -> Verdict:
    """Best-of-N against `proxy` rises from the smallest N to `bon_peak_n` and falls from there
    to the largest N (each a paired difference above 0, NOT SUPPORTED below +margin), while the
    oracle judge does not fall over the same stretch (its paired difference largest N minus
    `bon_peak_n` lies above −margin)."""
    n0, n_mid, n_max = min(cfg.bon_sizes), cfg.bon_peak_n, max(cfg.bon_sizes)
    p = {n: bon_returns(bon, proxy, n) for n in (n0, n_mid, n_max)}
    o = {n: bon_returns(bon, "oracle", n) for n in (n_mid, n_max)}
    parts = {
        "proxy_rises": above_zero_or_not(f"{proxy} judge: true return at N={n_mid} above N={n0}",
                                         paired_settings(p[n_mid], p[n0]), cfg.margin),
        "proxy_falls": above_zero_or_not(f"{proxy} judge: true return at N={n_mid} above "
                                         f"N={n_max}", paired_settings(p[n_mid], p[n_max]),
                                         cfg.margin),
        "oracle_does_not_fall": verdict(f"oracle judge: true return at N={n_max} minus N={n_mid}"
                                        f" above −{cfg.margin:g}",
                                        paired_settings(o[n_max], o[n_mid]), -cfg.margin, ">"),
    }
    claim = (f"Best-of-N against the {proxy} judge peaks at finite N (rises N={n0} -> {n_mid}, "
             f"falls {n_mid} -> {n_max}, true reward per step, paired by seed) while the oracle "
             "judge does not fall")
    return all_of(claim, parts, "proxy_falls")


# --- verdict 4: allocation ------------------------------------------------------------------------
def allocation_grid(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """The allocation grid (ladder integrator, every population x substeps), one row per seed,
    with the planner's transitions and total compute (RHS evaluations and FLOPs) per step."""
    sel = mpc[(mpc.integrator == cfg.ladder) & mpc.population.isin(cfg.populations)
              & mpc.substeps.isin(cfg.substeps)].copy()
    sel["total_flops"] = sel.sim_flops_per_control_step + sel.plan_flops_per_control_step
    return sel


def simulator_advantage(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """Per seed, population P (all but the largest) and substeps k (all but the largest): the
    true return of doubling the simulator's substeps minus that of doubling the population,
    R(P, 2k) − R(2P, k): the two ways to double the compute of (P, k). Above 0: the marginal
    doubling does more in the simulator."""
    g = allocation_grid(mpc, cfg).set_index(["population", "substeps", "seed"]).true_return
    ps, ks = sorted(cfg.populations), sorted(cfg.substeps)
    rows = [dict(seed=s, population=p, substeps=k, log2_population=np.log2(p),
                 advantage=g[p, 2 * k, s] - g[2 * p, k, s])
            for s in cfg.seed_list for p in ps[:-1] for k in ks[:-1]]
    return pd.DataFrame(rows)


def allocation(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> Verdict:
    """The slope over log2 P of the simulator's advantage (mean over k per seed and P), per seed,
    t-interval over seeds: SUPPORTED above 0, NOT SUPPORTED below +alloc_margin."""
    adv = simulator_advantage(mpc, cfg)
    per = adv.groupby(["seed", "log2_population"]).advantage.mean().reset_index()
    est = slope_ci(per, "log2_population", "advantage", unit="seed")
    claim = ("The compute-optimal allocation moves toward the simulator as the planner's budget "
             "grows: the advantage of doubling the simulator's substeps over doubling the CEM "
             "population, R(P, 2k) − R(2P, k) averaged over k, rises with log2 P (slope per "
             f"doubling of P, per seed; NOT SUPPORTED below +{cfg.alloc_margin:g})")
    return above_zero_or_not(claim, est, cfg.alloc_margin, dict(
        advantage_by_population=mean_ci_table(per, ["log2_population"], "advantage")
        .to_dict("records")))


def frontier(mpc: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """Per total compute (RHS evaluations per control step) of the allocation grid: every
    allocation's mean true return, and which one is best (the frontier)."""
    grid = allocation_grid(mpc, cfg)
    t = mean_ci_table(grid, ["rhs_evals_per_control_step", "population", "substeps"],
                      "true_return", unit="seed")
    t["best"] = t.groupby("rhs_evals_per_control_step")["mean"].transform("max") == t["mean"]
    t["simulator_share"] = np.log2(t.substeps) / np.log2(t.rhs_evals_per_control_step)
    return t.sort_values(["rhs_evals_per_control_step", "substeps"]).reset_index(drop=True)


# --- world models and objective mismatch ----------------------------------------------------------
def world_model_table(wm: pd.DataFrame) -> pd.DataFrame:
    """Per M and checkpoint: training FLOPs, one-step error and true return (mean, 95% CI)."""
    keys = ["transitions", "step"]
    out = wm.groupby(keys)[["train_flops", "one_step_error", "sim_return"]].mean().reset_index()
    ci = mean_ci_table(wm, keys, "true_return", unit="seed").rename(
        columns={"mean": "true_return", "low": "true_return_low", "high": "true_return_high"})
    return out.merge(ci, on=keys)


def mismatch_points(mpc: pd.DataFrame, wm: pd.DataFrame, cfg: EnvComputeConfig) -> pd.DataFrame:
    """One point per simulator (solver setting, or world model at a checkpoint): its one-step
    error and the mean true return and sim-minus-true gap over seeds."""
    solver = solver_axis(mpc, cfg).groupby("setting").agg(
        one_step_error=("one_step_error", "mean"), true_return=("true_return", "mean"),
        gap=("gap", "mean")).reset_index().assign(kind="solver")
    w = wm.assign(gap=wm.sim_return - wm.true_return, setting=lambda t: "MLP M=" + t.transitions
                  .astype(str) + " step " + t.step.astype(str))
    w = w.groupby("setting").agg(one_step_error=("one_step_error", "mean"),
                                 true_return=("true_return", "mean"),
                                 gap=("gap", "mean")).reset_index().assign(kind="world model")
    return pd.concat([solver, w], ignore_index=True)


def mismatch(points: pd.DataFrame) -> dict:
    """Spearman rank correlation between one-step error and true return, over all simulators and
    per kind (descriptive: the simulators are settings, not independent draws)."""
    out = {}
    for name, part in [("all", points), *points.groupby("kind")]:
        if len(part) >= 3:
            rho, p = sps.spearmanr(part.one_step_error, part.true_return)
            out[name] = dict(rho=float(rho), p_value=float(p), n_simulators=len(part))
    return out


# --- everything -----------------------------------------------------------------------------------
def baseline_table(res, cfg: EnvComputeConfig) -> pd.DataFrame:
    """Mean true reward per step (95% CI over seeds) of the trivial policies and the oracle
    agent (CEM planning in the true world itself)."""
    return pd.DataFrame(_baselines(res, cfg))


def _ci(x) -> dict:
    e = mean_ci_any(np.asarray(x, float))
    return dict(mean=e.value, low=e.low, high=e.high, n=e.n)


def statistics(res, cfg: EnvComputeConfig) -> dict:
    """Every number the notebook records besides the verdicts, by record key."""
    points = mismatch_points(res.mpc, res.world_model, cfg)
    return {
        "solver_table": solver_table(res.mpc, cfg).to_dict("records"),
        "baselines": {r["policy"]: {k: r[k] for k in ("mean", "low", "high", "n")}
                      for r in _baselines(res, cfg)},
        "world_model_table": world_model_table(res.world_model).to_dict("records"),
        "best_of_n_table": bon_table(res.best_of_n).to_dict("records"),
        "frontier": frontier(res.mpc, cfg).to_dict("records"),
        "objective_mismatch": mismatch(points),
    }


def _baselines(res, cfg: EnvComputeConfig) -> list[dict]:
    rows = [dict(policy=f"{p}_torque", **_ci(g.true_return)) for p, g in
            res.baselines.groupby("policy")]
    rows.append(dict(policy="oracle_agent", **_ci(oracle(res.mpc, cfg))))
    return rows


def invariants(res, cfg: EnvComputeConfig) -> dict[str, bool]:
    """What must hold at any scale: returns finite and in [0, 1]; the true solver's one-step
    error is 0 and the oracle agent's sim return equals its true return (the same world, the same
    noise); the planner simulated exactly population x iterations x horizon transitions per step;
    the oracle agent beats both trivial policies on every seed; at N = 1 every judge picks the
    same (only) candidate, so the three judges' returns agree; every world model's last
    checkpoint has a lower one-step error than its untrained net."""
    mpc, wm, bon = res.mpc, res.world_model, res.best_of_n
    values = pd.concat([mpc.true_return, mpc.sim_return.dropna(), wm.true_return,
                        bon.true_return, res.baselines.true_return])
    orc = oracle(mpc, cfg)
    best_trivial = res.baselines.groupby("seed").true_return.max().reindex(orc.index)
    n1 = bon[bon.candidates == min(cfg.bon_sizes)].pivot(index="seed", columns="judge",
                                                 values="true_return")
    last = wm.sort_values("step").groupby(["transitions", "seed"]).last()
    orc_rows = mpc[(mpc.integrator == cfg.true_integrator) & (mpc.substeps == cfg.true_substeps)]
    return {
        "returns_finite_in_0_1": bool(np.isfinite(values).all() and values.between(0, 1).all()),
        "true_solver_one_step_error_is_zero": bool((orc_rows.one_step_error == 0).all()),
        "oracle_sim_return_equals_true_return": bool(np.allclose(
            oracle(mpc, cfg, "sim_return"), orc, atol=1e-12)),
        "planner_simulated_the_budgeted_transitions": bool(
            (mpc.transitions_counted == mpc.transitions_per_step).all()),
        "oracle_beats_both_trivial_policies_every_seed": bool((orc > best_trivial).all()),
        "judges_agree_at_n_1": bool(np.allclose(n1.to_numpy(), n1.iloc[:, :1].to_numpy())),
        "world_models_learn": bool((last.one_step_error < last.untrained_one_step_error).all()),
    }


def decide(res, cfg: EnvComputeConfig) -> dict[str, Verdict]:
    """Every verdict, the headline (verdict 1) first; then order vs substeps against the
    ladder's integrator and against each other lower-order one, best-of-N for the coarse judge
    (verdict 3), the noisy and the learned judge, and the allocation (verdict 4)."""
    out = {HEADLINE: saturation(res.mpc, cfg),
           "higher_order_beats_substeps": order_vs_substeps(res.mpc, cfg, cfg.ladder)}
    for integrator in cfg.integrators:
        if integrator not in ("rk4", cfg.ladder):
            out[f"rk4_beats_{integrator}"] = order_vs_substeps(res.mpc, cfg, integrator)
    out["best_of_n_coarse_judge_peaks"] = peaks(res.best_of_n, cfg, "coarse")
    out["best_of_n_noisy_judge_peaks"] = peaks(res.best_of_n, cfg, "noisy")
    out["best_of_n_learned_judge_peaks"] = peaks(res.best_of_n, cfg, "learned")
    out["allocation_moves_to_simulator"] = allocation(res.mpc, cfg)
    return out


def closing_line(verdicts: dict[str, Verdict]) -> str:
    """The sentence under the verdicts: each label with its estimate and interval."""
    return "; ".join(f"{name}: {v.label} ({v.estimate.value:+.3f} [{v.estimate.low:+.3f}, "
                     f"{v.estimate.high:+.3f}])" for name, v in verdicts.items())
