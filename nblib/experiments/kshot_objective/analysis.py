"""Notebook 04's analysis: the Pareto comparison of each k-shot model against the frontier its
cross-entropy baselines trace (pass@1 against pass@k, exact, per seed); pass@k differences between
each k-shot objective and next-token CE, paired by seed (the same data split, initialisation and
data order), and the gain, cost and crossing verdicts; the mirror-pair leak; then the exact
scoring-rule theory (no training, no seeds).

The frontier. A baseline point is a cross-entropy model (k = 1) — plain or label-smoothed, at its
last step or an earlier checkpoint (early stopping) — sampled at any temperature of the grid or
mixed with a uniform guess at any ε: (pass@1, pass@K) from its exact answer probabilities. Its
upper-right (Pareto) boundary is joined by straight lines: sampling baseline A with probability λ
and B otherwise has pass@1 = λ·A + (1 − λ)·B exactly and pass@K at least the same mixture of
theirs (1 − (1 − p)^K is concave in p), so every point of the line is attainable or beaten. Beyond
the baselines' best pass@1 no baseline reaches the model's pass@1, and the frontier there is the
baselines' best pass@K (conservative: the model must beat every baseline at pass@K). A k-shot
model is above the frontier when its pass@K exceeds the frontier at its own pass@1.

The theory: for a categorical target q, the distribution p* that minimises the expected loss
E_{y~q}[−log(1 − (1 − p_y)^k)] over the simplex. k = 1 is cross-entropy, a proper scoring rule:
p* = q. For k > 1 the stationarity condition is q_y · g_k(p_y) = λ with
g_k(p) = k(1 − p)^(k−1) / (1 − (1 − p)^k), ≈ 1/p for small p but falling much faster for large p,
so p* is flatter than q (improper, under-confident) while keeping q's order and support.
Temperature scaling q^(1/T) is the natural rival ("just sample hotter"); the best temperature
leaves a residual, so the k-shot optimum is not a rescaling of q.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import optimize

from nblib.stats import LABELS, Estimate, Verdict, mean_ci_table, paired, paired_any, verdict

# baseline families of the frontier (all together: "all baselines")
FAMILIES = ("CE, sampling temperature", "CE, mixed with a uniform guess",
            "early-stopped CE (any T or ε)", "label-smoothed CE (any T or ε)")
ALL = "all baselines"


def at_t1(curves: pd.DataFrame) -> pd.DataFrame:
    """Rows sampled at temperature 1 (every trained model)."""
    return curves[curves.temperature == 1.0]


def mean_curves(curves: pd.DataFrame, metric: str = "pass") -> pd.DataFrame:
    """Mean and 95% t-interval over seeds of `metric` per task, training k, temperature and pass
    k, clipped to [0, 1] (a probability); one seed gives the mean as its own interval."""
    return mean_ci_table(curves, ["task", "k", "temperature", "pass_k"], metric, unit="seed",
                         clip=(0.0, 1.0))


def _by_seed(curves: pd.DataFrame, task: str, k: int, pass_k: int, temperature: float = 1.0,
             metric: str = "pass") -> pd.Series:
    rows = curves[(curves.task == task) & (curves.k == k) & (curves.pass_k == pass_k)
                  & (curves.temperature == temperature)]
    return rows.set_index("seed")[metric].sort_index()


def delta(curves: pd.DataFrame, task: str, k: int, pass_k: int, base_k: int = 1,
          base_temperature: float = 1.0, metric: str = "pass") -> Estimate:
    """pass@pass_k of the k-shot model minus the base model's, paired by seed (t interval)."""
    a = _by_seed(curves, task, k, pass_k, metric=metric)
    b = _by_seed(curves, task, base_k, pass_k, base_temperature, metric=metric)
    if len(a) < 2 or not a.index.equals(b.index):
        raise ValueError(f"task={task!r}, k={k}, pass@{pass_k}: need the same ≥ 2 seeds for "
                         f"both models, got {list(a.index)} and {list(b.index)}")
    return paired(a.to_numpy(), b.to_numpy())


def delta_table(curves: pd.DataFrame, metric: str = "pass") -> pd.DataFrame:
    """Every task, k > 1 and pass k: the paired difference from NTP (k = 1) at T = 1."""
    c, rows = at_t1(curves), []
    for task in c.task.unique():
        for k in sorted(set(c.k) - {1}):
            for kk in sorted(c.pass_k.unique()):
                e = delta(c, task, k, kk, metric=metric)
                rows.append({"task": task, "k": k, "pass_k": kk, "delta": e.value, "low": e.low,
                             "high": e.high, "p": e.p_value})
    return pd.DataFrame(rows)


def crossover_k(curves: pd.DataFrame, task: str, k: int) -> float:
    """The smallest pass k at which the k-shot model's mean pass@k exceeds NTP's (NaN: never)."""
    rows = [(kk, delta(at_t1(curves), task, k, kk).value) for kk in sorted(curves.pass_k.unique())]
    above = [kk for kk, d in rows if d > 0]
    return float(above[0]) if above else float("nan")


def crossing_verdict(curves: pd.DataFrame, task: str, k: int) -> Verdict:
    """Do the pass@k curves cross? SUPPORTED when the k-shot model is better at the largest pass
    k (paired CI above 0) and not better at pass@1 (CI not above 0); NOT SUPPORTED when it is
    worse or no better at the largest pass k (CI at or below 0), or better at both ends (no
    crossing, a uniform gain); INCONCLUSIVE otherwise."""
    c = at_t1(curves)
    big = int(c.pass_k.max())
    high, low = delta(c, task, k, big), delta(c, task, k, 1)
    if high.low > 0 and low.low <= 0:
        label = LABELS[0]
    elif high.high <= 0 or (high.low > 0 and low.low > 0):
        label = LABELS[1]
    else:
        label = LABELS[2]
    claim = (f"{task}: training with the k-shot loss (k={k}) raises pass@{big} over next-token "
             f"CE while not raising pass@1 (the pass@k curves cross)")
    return Verdict(label, claim, high, 0.0, ">",
                   details={"pass_at_1_delta": low, "crossover_k": crossover_k(c, task, k),
                            "rule": "SUPPORTED iff pass@max CI > 0 and pass@1 CI not > 0"})


def temperature_verdict(curves: pd.DataFrame, task: str, k: int) -> Verdict | None:
    """Is the k-shot model more than a hotter NTP model? Its pass@max minus that of NTP sampled
    at the extra temperature with the best mean pass@max (chosen on these runs: favours NTP)."""
    c = curves[(curves.task == task) & (curves.k == 1) & (curves.temperature != 1.0)]
    if c.empty:
        return None
    big = int(curves.pass_k.max())
    best = c[c.pass_k == big].groupby("temperature")["pass"].mean().idxmax()
    est = delta(curves, task, k, big, base_temperature=float(best))
    return verdict(f"{task}: the k={k} model's pass@{big} beats next-token CE sampled at its best "
                   f"extra temperature T={best:g}", est, 0.0, ">",
                   {"ntp_temperature": float(best)})


def trade_verdicts(curves: pd.DataFrame, task: str, k: int) -> dict[str, Verdict]:
    """The two halves of "trades pass@1 for pass@k", each its own claim (paired by seed, T = 1):
    the k-shot model's pass@max is higher than CE's (gain), and its pass@1 is lower (cost)."""
    c = at_t1(curves)
    big = int(c.pass_k.max())
    return {"gain": verdict(f"{task}: the k={k} model's pass@{big} is higher than next-token "
                            "CE's", delta(c, task, k, big), 0.0, ">"),
            "cost": verdict(f"{task}: the k={k} model's pass@1 is lower than next-token CE's",
                            delta(c, task, k, 1), 0.0, "<")}


# --- the Pareto comparison (one-answer task, exact pass@k) ---------------------------------------
def points(trajectory: pd.DataFrame, pass_k: int) -> pd.DataFrame:
    """One row per model, seed, checkpoint and transform: columns pass1 and passK (exact), the
    model's kind ("kshot" or a baseline family of FAMILIES) and whether it is its last step."""
    keys = ["task", "model", "k", "smoothing", "seed", "step", "sampling", "setting"]
    rows = trajectory[trajectory.pass_k.isin([1, pass_k])]
    wide = rows.pivot_table(index=keys, columns="pass_k", values="pass").reset_index()
    wide = wide.rename(columns={1: "pass1"})
    wide["passK"] = wide["pass1"] if pass_k == 1 else wide.pop(pass_k)
    last = wide.groupby(["task", "model", "seed"]).step.transform("max")
    wide["last"] = wide.step == last
    kind = np.where(wide.smoothing > 0, FAMILIES[3],
                    np.where(~wide["last"], FAMILIES[2],
                             np.where(wide["sampling"] == "temperature", FAMILIES[0], FAMILIES[1])))
    wide["kind"] = np.where((wide.k > 1), "kshot", kind)
    return wide


def pareto_boundary(x, y) -> tuple[np.ndarray, np.ndarray]:
    """The points no other point beats on both x and y, sorted by x ascending (y descending)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    order = np.lexsort((-y, -x))  # x descending, ties: y descending
    keep, best = [], -np.inf
    for i in order:
        if y[i] > best:
            keep.append(i)
            best = y[i]
    keep = keep[::-1]
    return x[keep], y[keep]


def frontier_at(x, y, x0: float) -> float:
    """The baselines' frontier at pass@1 = x0: linear between Pareto points (attainable by
    mixing two baselines); the best y of all outside them (below the smallest x, and beyond the
    largest x, where no baseline reaches x0)."""
    xs, ys = pareto_boundary(x, y)
    if len(xs) == 0:
        raise ValueError("no baseline points to trace a frontier")
    return float(np.interp(x0, xs, ys, right=ys[0]))  # ys[0]: the boundary's largest y


def frontier_gaps(trajectory: pd.DataFrame, task: str, k: int, pass_k: int,
                  family: str = ALL) -> pd.DataFrame:
    """Per seed: the k-shot model's last-step (pass@1, pass@pass_k) at T = 1, the frontier of
    that seed's baselines (`family`, or every baseline) at its pass@1, and the gap above it."""
    pts = points(trajectory[trajectory.task == task], pass_k)
    rows = []
    for seed, g in pts.groupby("seed"):
        me = g[(g.k == k) & (g.kind == "kshot") & g["last"] & (g.sampling == "temperature")
               & np.isclose(g.setting, 1.0)]
        base = g[g.kind != "kshot"] if family == ALL else g[g.kind == family]
        if len(me) != 1 or base.empty:
            raise ValueError(f"task={task!r}, k={k}, seed={seed}, family={family!r}: need the "
                             f"k-shot model's last step at T = 1 and some baselines")
        x, y = float(me.pass1.iloc[0]), float(me.passK.iloc[0])
        edge = frontier_at(base.pass1, base.passK, x)
        rows.append({"seed": seed, "pass1": x, "passK": y, "frontier": edge, "gap": y - edge,
                     "beyond_best_pass1": x > base.pass1.max()})
    return pd.DataFrame(rows)


def pareto_verdict(trajectory: pd.DataFrame, task: str, k: int, pass_k: int) -> Verdict:
    """Is the k-shot model above the frontier of every CE baseline? The gap pass@pass_k − frontier
    at its own pass@1, per seed (paired t interval over seeds); per-family gaps in the details."""
    gaps = frontier_gaps(trajectory, task, k, pass_k)
    est = paired_any(gaps.passK.to_numpy(), gaps.frontier.to_numpy())
    kinds = _kinds(trajectory, task)  # once: each call pivots the whole trajectory
    by_family = {f: paired_any(*frontier_gaps(trajectory, task, k, pass_k, f)[["passK", "frontier"]]
                               .to_numpy().T) for f in FAMILIES if f in kinds}
    claim = (f"{task}: the k={k} model's pass@{pass_k} lies above the frontier that next-token "
             f"CE traces in (pass@1, pass@{pass_k}) under sampling temperature, a uniform-guess "
             "mixture, early stopping and label smoothing")
    return verdict(claim, est, 0.0, ">",
                   {"pass_at_1": float(gaps.pass1.mean()), f"pass_at_{pass_k}":
                    float(gaps.passK.mean()), "frontier": float(gaps.frontier.mean()),
                    "gap_by_family": by_family,
                    "seeds_beyond_best_baseline_pass1": int(gaps.beyond_best_pass1.sum()),
                    "rule": "frontier: straight lines between the baselines' Pareto points; "
                            "beyond their best pass@1, their best pass@K"})


def _kinds(trajectory: pd.DataFrame, task: str) -> set[str]:
    return set(points(trajectory[trajectory.task == task], 1).kind)


def gap_table(trajectory: pd.DataFrame, task: str, ks, pass_ks) -> pd.DataFrame:
    """Every k-shot model k > 1 and pass k: its gap above each baseline family's frontier and
    above all of them (mean and paired 95% interval over seeds)."""
    kinds, rows = _kinds(trajectory, task), []
    for k in sorted(set(ks) - {1}):
        for kk in pass_ks:
            for family in [*[f for f in FAMILIES if f in kinds], ALL]:
                g = frontier_gaps(trajectory, task, k, kk, family)
                e = paired_any(g.passK.to_numpy(), g.frontier.to_numpy())
                rows.append({"task": task, "k": k, "pass_k": kk, "baselines": family,
                             "gap": e.value, "low": e.low, "high": e.high})
    return pd.DataFrame(rows)


def mirror_leak(per_problem: pd.DataFrame, task: str = "modular") -> pd.DataFrame:
    """Exact pass@1 on held-out pairs a + b whose mirror b + a was trained, minus on those whose
    mirror was not, per training k (paired by seed): is a model's held-out accuracy commutativity
    applied to memorised pairs?"""
    rows = per_problem[(per_problem.task == task) & per_problem.mirrored.notna()]
    out = []
    for k, g in rows.groupby("k"):
        by = g.assign(mirrored=g.mirrored.astype(bool)).groupby(["seed", "mirrored"]).p_correct
        wide = by.mean().unstack("mirrored").reindex(columns=[True, False]).dropna()  # seeds
        e = paired_any(wide[True].to_numpy(), wide[False].to_numpy())
        out.append({"task": task, "k": k, "mirrored": float(wide[True].mean()),
                    "not_mirrored": float(wide[False].mean()), "difference": e.value,
                    "low": e.low, "high": e.high, "share_mirrored":
                    float(g[g.seed == g.seed.min()].mirrored.astype(bool).mean())})
    return pd.DataFrame(out)


def calibration(per_problem: pd.DataFrame) -> pd.DataFrame:
    """One-answer tasks: mean top-1 probability minus the argmax's accuracy, per task, k and seed
    (> 0: over-confident, < 0: under-confident)."""
    rows = per_problem.dropna(subset=["top1_correct"])
    if rows.empty:
        return pd.DataFrame(columns=["task", "k", "seed", "top1", "accuracy", "gap"])
    g = rows.assign(hit=rows.top1_correct.astype(float)).groupby(["task", "k", "seed"])
    out = g.agg(top1=("top1", "mean"), accuracy=("hit", "mean")).reset_index()
    return out.assign(gap=out.top1 - out.accuracy)


def summary(curves: pd.DataFrame, per_problem: pd.DataFrame) -> pd.DataFrame:
    """Per task and k (T = 1): mean over seeds of pass@1, pass@max, answer entropy, top-1
    probability and (sibling) coverage of the valid and of the unseen valid answers."""
    c, keys = at_t1(curves), ["task", "k", "seed"]
    big = c.pass_k.max()
    ends = c[c.pass_k.isin([1, big])].pivot_table(index=keys, columns="pass_k", values="pass")
    ends.columns = [f"pass@{int(x)}" for x in ends.columns]
    extra = [col for col in ("coverage", "novel_coverage") if col in c]
    table = ends.join(per_problem.groupby(keys)[["entropy", "top1"]].mean())
    if extra:
        table = table.join(c[c.pass_k == big].set_index(keys)[extra])
    return table.groupby(["task", "k"]).mean()


def decide(curves: pd.DataFrame, trajectory: pd.DataFrame, tasks: list[str],
           ks: list[int]) -> dict[str, Verdict]:
    """The headline: the largest-k model above the CE baselines' frontier at pass@k for its own
    k, on the first (one-answer) task; the same for every k > 1; then per task, the gain at
    pass@max and the cost at pass@1 as separate claims, the crossing (both at once) for every
    k > 1, and the k-shot model against a hotter NTP model."""
    top = max(ks)
    out = {"above_frontier": pareto_verdict(trajectory, tasks[0], top, top)}
    for k in sorted(set(ks) - {1, top}):
        out[f"above_frontier_k{k}"] = pareto_verdict(trajectory, tasks[0], k, k)
    for task in tasks:
        for name, v in trade_verdicts(curves, task, top).items():
            out[f"{name}_{task}"] = v
        for k in sorted(set(ks) - {1}):
            out[f"crossing_{task}_k{k}"] = crossing_verdict(curves, task, k)
        hotter = temperature_verdict(curves, task, top)
        if hotter is not None:
            out[f"beats_hotter_ntp_{task}"] = hotter
    return out


def monotone_in_k(curves: pd.DataFrame) -> bool:
    """pass@k never falls as k grows, for every condition and seed."""
    keys = ["task", "k", "seed", "temperature"]
    return bool(all(np.all(np.diff(g.sort_values("pass_k")["pass"].to_numpy()) >= -1e-12)
                    for _, g in curves.groupby(keys)))


def invariants(curves: pd.DataFrame, theory_table: pd.DataFrame, eval_problems: int,
               samples: int, trajectory: pd.DataFrame | None = None) -> dict[str, bool]:
    """What must hold at any scale: finite training losses; pass@k in [0, 1] and monotone in k;
    on the one-answer task the sampled pass@1 within 5 binomial standard errors of the exact one,
    and the exact evaluations (trajectory) in [0, 1], monotone in k, the same at T = 1 and ε = 0,
    at chance for ε = 1 and, at the last step, equal to the sampled evaluation's exact pass@k; in
    the scoring-rule analysis k = 1 returns q, every k > 1 beats q on its own objective, and the
    minimiser keeps q's order and is stationary."""
    exact = at_t1(curves).dropna(subset=["pass_exact"])
    first = exact[exact.pass_k == 1]
    tolerance = 5 * np.sqrt(0.25 / (eval_problems * samples))
    k1, kk = theory_table[theory_table.k == 1], theory_table[theory_table.k > 1]
    in_range = curves["pass"].between(0, 1).all() and curves["pass_valid"].between(0, 1).all()
    checks = {} if trajectory is None else trajectory_invariants(trajectory, curves)
    return {
        **checks,
        "training_losses_finite": bool(np.isfinite(curves.final_loss.astype(float)).all()),
        "pass_at_k_in_range": bool(in_range),
        "pass_at_k_monotone_in_k": monotone_in_k(curves),
        "sampled_pass1_matches_exact": bool((first["pass"] - first["pass_exact"]).abs().max()
                                            <= tolerance) if len(first) else True,
        "k1_minimiser_is_q": bool(k1.top1_p.sub(k1.top1_q).abs().max() < 1e-6),
        "kshot_minimiser_beats_q": bool(kk.eval("loss_at_p < loss_at_q").all()),
        "minimiser_keeps_order_and_is_stationary": bool(
            theory_table.order_kept.all() and (theory_table.stationarity_spread < 1e-4).all()),
    }


def trajectory_invariants(trajectory: pd.DataFrame, curves: pd.DataFrame) -> dict[str, bool]:
    """The exact evaluations agree with themselves and with the sampled run's exact pass@k."""
    t = trajectory
    keys = ["task", "model", "seed", "step", "pass_k"]
    plain = t[(t.sampling == "temperature") & np.isclose(t.setting, 1.0)].set_index(keys)["pass"]
    unmixed = t[(t.sampling == "mixture") & np.isclose(t.setting, 0.0)].set_index(keys)["pass"]
    uniform = t[(t.sampling == "mixture") & np.isclose(t.setting, 1.0)]
    chance = at_t1(curves).groupby(["task", "pass_k"]).pass_chance.first()
    at_chance = uniform.join(chance, on=["task", "pass_k"])
    last = plain.reset_index()
    last = last[last.step == last.groupby(["task", "model", "seed"]).step.transform("max")]
    sampled = at_t1(curves).dropna(subset=["pass_exact"]).assign(model=lambda d: "k=" +
                                                                  d.k.astype(str))
    both = last.merge(sampled, on=["task", "model", "seed", "pass_k"], suffixes=("", "_run"))
    ordered = t.sort_values("pass_k").groupby(["task", "model", "seed", "step", "sampling",
                                              "setting"])["pass"]
    return {"exact_pass_at_k_in_range": bool(t["pass"].between(0, 1).all()),
            "exact_pass_at_k_monotone_in_k": bool(ordered.apply(
                lambda x: bool(np.all(np.diff(x.to_numpy()) >= -1e-12))).all()),
            "t1_equals_no_mixture": bool(np.allclose(plain.sort_index(),
                                                     unmixed.reindex(plain.index).sort_index())),
            "full_mixture_is_chance": bool(np.allclose(at_chance["pass"],
                                                       at_chance.pass_chance)),
            "last_checkpoint_is_the_sampled_model": bool(
                len(both) > 0 and np.allclose(both["pass"], both.pass_exact, atol=1e-6))}


# --- the exact scoring-rule theory ----------------------------------------------------------------
def zipf(n: int, exponent: float) -> np.ndarray:
    """q_i ∝ i^−exponent over n classes (exponent 0: uniform)."""
    if n < 2:
        raise ValueError(f"n={n}: a target distribution needs at least 2 classes")
    q = np.arange(1, n + 1, dtype=float) ** -exponent
    return q / q.sum()


def _check(q) -> torch.Tensor:
    q = torch.as_tensor(np.asarray(q, float), dtype=torch.float64)
    if q.ndim != 1 or len(q) < 2 or (q < 0).any() or abs(float(q.sum()) - 1) > 1e-9:
        raise ValueError(f"q must be a probability vector over at least 2 classes, "
                         f"got {q.tolist()}")
    return q


def expected_kshot_loss(p, q, k: int) -> torch.Tensor:
    """E_{y~q}[−log(1 − (1 − p_y)^k)] (nats); p and q over the same classes (torch,
    differentiable in p)."""
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    hit = -torch.expm1(k * torch.log1p(-p.clamp(max=1 - 1e-15)))  # 1 − (1 − p)^k
    return -(q * torch.log(hit.clamp_min(1e-300))).where(q > 0, torch.zeros_like(q)).sum()


def kshot_minimiser(q, k: int, steps: int = 200) -> np.ndarray:
    """argmin over the simplex of the expected k-shot loss under q (float64 L-BFGS on the logits
    of the classes with q > 0; classes with q = 0 get p = 0, where the loss is lowest)."""
    q = _check(q)
    if k < 1:
        raise ValueError(f"k={k} must be a positive integer")
    support = q > 0
    logits = torch.log(q[support]).clone().requires_grad_(True)  # start at q itself
    opt = torch.optim.LBFGS([logits], lr=1, max_iter=steps, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = expected_kshot_loss(torch.softmax(logits, 0), q[support], k)
        loss.backward()
        return loss

    opt.step(closure)
    p = torch.zeros_like(q)
    p[support] = torch.softmax(logits.detach(), 0)
    return p.numpy()


def stationarity_spread(p, q, k: int) -> float:
    """Relative spread of q_y · g_k(p_y) over the support (0 at the constrained optimum)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    keep = q > 0
    g = k * (1 - p[keep]) ** (k - 1) / -np.expm1(k * np.log1p(-p[keep]))
    lam = q[keep] * g
    return float((lam.max() - lam.min()) / lam.mean())


def temperature_scaled(q, temperature: float) -> np.ndarray:
    """q^(1/T), renormalised."""
    q = np.asarray(q, float)
    logq = np.where(q > 0, np.log(np.where(q > 0, q, 1.0)), -np.inf) / temperature
    w = np.exp(logq - logq.max())
    return w / w.sum()


def best_temperature(q, k: int) -> tuple[float, float]:
    """(T, expected k-shot loss of q^(1/T)): the temperature scaling of q that does best on the
    k-shot objective itself. Its loss above the minimiser's is what no rescaling can recover."""
    q = _check(q).numpy()

    def loss(log_t: float) -> float:
        return float(expected_kshot_loss(temperature_scaled(q, float(np.exp(log_t))), q, k))

    res = optimize.minimize_scalar(loss, bounds=(np.log(0.05), np.log(1000.0)),
                                   method="bounded", options={"xatol": 1e-10})
    return float(np.exp(res.x)), float(res.fun)


def entropy(p) -> float:
    p = np.asarray(p, float)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def minimiser_table(classes: int, exponents, ks) -> tuple[pd.DataFrame, dict]:
    """One row per Zipf target q (q_i ∝ i^−exponent over `classes`) and k: entropy and top-1
    probability of q and of the minimiser p*, the expected loss at q and at p* (q loses for k > 1:
    the rule is improper), the best temperature scaling of q on the same objective and its excess
    loss over p* (relative), whether p* keeps q's order, and the stationarity check. Also returns
    {(exponent, k): (q, p*)}."""
    rows, found = [], {}
    for exponent in exponents:
        q = zipf(classes, exponent)
        for k in ks:
            p = kshot_minimiser(q, k)
            found[(exponent, k)] = (q, p)
            loss_q = float(expected_kshot_loss(q, q, k))
            loss_p = float(expected_kshot_loss(p, q, k))
            t, loss_t = best_temperature(q, k)
            ranked = p[np.argsort(-q, kind="stable")]  # p* in q's order
            rows.append({"zipf": exponent, "k": k, "entropy_q": entropy(q),
                         "entropy_p": entropy(p), "top1_q": q.max(), "top1_p": p.max(),
                         "loss_at_q": loss_q, "loss_at_p": loss_p, "best_temperature": t,
                         "temperature_excess": (loss_t - loss_p) / loss_p,
                         "order_kept": bool(np.all(np.diff(ranked) <= 1e-9)),
                         "stationarity_spread": stationarity_spread(p, q, k)})
    return pd.DataFrame(rows), found
