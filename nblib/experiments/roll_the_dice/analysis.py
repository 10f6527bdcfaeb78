"""Notebook 16's analysis: per-task verdicts, computed from the metric rows of `run_all`.

Seeds are the units: a seed fixes the data, hashes, initialisation and NTP batches of both
objectives, so every comparison is paired within a seed and task (n = seeds). Tasks are never
pooled: each gets its own verdicts, and a verdict whose task (or decoding) no condition learned
(`learnability`) is INCONCLUSIVE and says why.

The objective comparison (teacherless − NTP) has six endpoints. The pre-registered headline is
`peak`; the others are secondary:

- peak: seed-conditioned creativity at the evaluation where it peaks, the step chosen on the
  first half of the samples (creativity_a) and the value read on the second half
  (creativity_b), so a maximum over noisy evaluations is not biased upward;
- matched_compute: the same, teacherless restricted to the evaluations within the training
  tokens of the NTP run (its batches are larger);
- matched_memorization: creativity where memorization first reaches a level (interpolated);
- matched_coherence: creativity where seed-conditioned coherence first reaches a level;
- last_step: creativity at the last evaluation;
- peak_sampled: the split-half peak under temperature sampling without a hash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nblib.stats import LABELS, Estimate, Verdict, mean_ci_any, paired_any, verdict

KEYS = ["task", "objective", "seed"]  # one training run
ENDPOINTS = ("peak", "matched_compute", "matched_memorization", "matched_coherence", "last_step",
             "peak_sampled")
DECODING = {name: "seed" for name in ENDPOINTS} | {"peak_sampled": "temperature"}
HEADLINE_ENDPOINT = "peak"
METHODS = ("temperature", "seed", "both")  # the main decodings, evaluated at every step


def at_step(metrics: pd.DataFrame, step: int | None = None) -> pd.DataFrame:
    """The rows of one evaluation step (default: the last)."""
    step = metrics.step.max() if step is None else step
    return metrics[metrics.step == step]


def main_curves(metrics: pd.DataFrame, hash_len: int, temperature: float) -> pd.DataFrame:
    """Rows of the three main decodings over training, labelled 'objective · method'."""
    m, at_t = metrics, metrics.temperature == temperature
    keep = (((m.method == "temperature") & (m.hash_len == 0) & at_t)
            | ((m.method == "seed") & (m.hash_len == hash_len))
            | ((m.method == "both") & (m.hash_len == hash_len) & at_t))
    out = metrics[keep].copy()
    out["condition"] = out.objective + " · " + out.method
    return out


def seed_curves(metrics: pd.DataFrame, hash_len: int) -> pd.DataFrame:
    """Seed-conditioned rows (hash_len, greedy) over training, with the run's memorization at the
    same step as a column; ordered by run and step."""
    seed = metrics[(metrics.method == "seed") & (metrics.hash_len == hash_len)]
    mem = metrics.loc[metrics.method == "memorization", [*KEYS, "step", "memorization"]]
    out = seed.drop(columns="memorization", errors="ignore").merge(mem, on=[*KEYS, "step"])
    return out.sort_values([*KEYS, "step"]).reset_index(drop=True)


# --- endpoints of one run --------------------------------------------------------------------
def split_peak(curve: pd.DataFrame) -> tuple[int, float]:
    """(step, creativity_b there) of the evaluation where creativity_a is highest (the earliest
    of ties): the peak chosen on one half of the samples, read on the other."""
    i = int(curve.creativity_a.to_numpy(float).argmax())
    return int(curve.step.iloc[i]), float(curve.creativity_b.iloc[i])


def at_first_crossing(x, y, level: float) -> float:
    """`y` linearly interpolated where `x` first reaches `level` (both ordered by step); NaN
    when x never reaches it, or already has at the first evaluation (the crossing is unseen)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    hit = np.flatnonzero(x >= level)
    if not len(hit) or hit[0] == 0:
        return float("nan")
    i = hit[0]
    w = (level - x[i - 1]) / (x[i] - x[i - 1])
    return float(y[i - 1] + w * (y[i] - y[i - 1]))


def endpoint_table(metrics: pd.DataFrame, hash_len: int, memorization_level: float,
                   coherence_level: float, temperature: float = 1.0) -> pd.DataFrame:
    """One row per run (task, objective, seed): every endpoint of `ENDPOINTS` (`temperature`:
    that of peak_sampled), the peak's step and, for context, the plain maximum of
    seed-conditioned creativity over evaluations (biased upward)."""
    curves = seed_curves(metrics, hash_len)
    sampled = metrics[(metrics.method == "temperature") & (metrics.hash_len == 0)
                      & (metrics.temperature == temperature)].sort_values([*KEYS, "step"])
    sampled_peak = {key: split_peak(c)[1] for key, c in sampled.groupby(KEYS)}
    budget = (curves[curves.objective == "ntp"].groupby(["task", "seed"]).train_tokens.max())
    rows = []
    for (task, objective, seed), c in curves.groupby(KEYS):
        step, peak = split_peak(c)
        within = c[c.train_tokens <= budget.get((task, seed), np.inf)]
        rows.append({"task": task, "objective": objective, "seed": seed, "peak": peak,
                     "matched_compute": split_peak(within)[1] if len(within) else np.nan,
                     "matched_memorization": at_first_crossing(c.memorization, c.creativity,
                                                               memorization_level),
                     "matched_coherence": at_first_crossing(c.coherence, c.creativity,
                                                            coherence_level),
                     "last_step": float(c.creativity.iloc[-1]),
                     "peak_sampled": sampled_peak.get((task, objective, seed), np.nan),
                     "peak_step": step,
                     "max_creativity": float(c.creativity.max())})
    return pd.DataFrame(rows)


def objective_gaps(table: pd.DataFrame) -> dict[str, dict[str, Estimate]]:
    """Per task and endpoint: teacherless − NTP paired over the seeds where both runs have a
    value (an endpoint a run never reached is NaN), with its t-interval."""
    out: dict[str, dict[str, Estimate]] = {}
    for task, t in table.groupby("task"):
        out[task] = {}
        for name in ENDPOINTS:
            wide = t.pivot(index="seed", columns="objective", values=name).dropna()
            out[task][name] = paired_any(wide.get("teacherless", pd.Series(dtype=float)),
                                         wide.get("ntp", pd.Series(dtype=float)))
    return out


# --- was the task learned? -------------------------------------------------------------------
def _diagnose(curves: pd.DataFrame, threshold: float) -> dict:
    """For main-curve rows of one task (some conditions): the best condition by its mean
    split-half peak creativity over seeds, whether that peak's interval lies above `threshold`
    and, when it does not, the failure read off the condition and step of highest mean
    coherence: mostly incoherent, coherent but copying training objects, or original but few
    distinct objects."""
    peaks = {cond: mean_ci_any([split_peak(r)[1] for _, r in c.groupby("seed")])
             for cond, c in curves.groupby("condition")}
    best = max(peaks, key=lambda c: peaks[c].value)
    learned = bool(peaks[best].low > threshold)  # NaN (one seed) is not learned
    means = curves.groupby(["condition", "step"])[["coherence", "originality",
                                                   "diversity"]].mean()
    top = means.coherence.idxmax()
    coh, orig, div = (float(means.loc[top, k]) for k in means.columns)
    where = f"{top[0]} at step {top[1]}"
    if learned:
        reason = f"learned: {best} peaks at creativity {peaks[best]}"
    elif coh < 0.5:
        reason = f"mostly incoherent (best mean coherence {coh:.3f}, {where})"
    elif not orig >= 0.5:
        reason = f"coherent but copies training objects (originality {orig:.3f}, {where})"
    else:
        reason = (f"coherent and original but few distinct objects (diversity {div:.3f} at "
                  f"coherence {coh:.3f}, {where})")
    return {"learned": learned, "best_condition": best, "best_peak": peaks[best],
            "threshold": threshold, "reason": reason}


def learnability(metrics: pd.DataFrame, hash_len: int, temperature: float,
                 threshold: float) -> dict[str, dict]:
    """Per task, `_diagnose` over all three main decodings (the task is learned when some
    objective and decoding peaks at a creativity whose interval lies above `threshold`), and
    per decoding under `by_decoding` (e.g. a model can learn the task under sampling and
    ignore the hash, so that seed-conditioning has nothing to compare)."""
    curves = main_curves(metrics, hash_len, temperature)
    out = {}
    for task, t in curves.groupby("task"):
        method = t.condition.str.split(" · ").str[1]
        out[task] = {**_diagnose(t, threshold),
                     "by_decoding": {m: _diagnose(t[method == m], threshold)
                                     for m in METHODS if (method == m).any()}}
    return out


def gated(v: Verdict, learned: dict, decoding: str | None = None) -> Verdict:
    """`v`, or INCONCLUSIVE when its task was not learned — or, given `decoding`, not learned
    under that decoding (0 against 0 tests nothing)."""
    info = learned if decoding is None else learned["by_decoding"][decoding]
    if info["learned"]:
        return v
    what = "task not learned" if decoding is None else f"task not learned under {decoding}"
    return Verdict(LABELS[2], f"{v.claim} — {what}: {info['reason']}", v.estimate,
                   v.threshold, v.direction, {**v.details, "ungated_label": v.label})


# --- seed-conditioning vs temperature, and NTP's decline ----------------------------------------
def frontier_match(metrics: pd.DataFrame, hash_len: int) -> pd.DataFrame:
    """For each (task, objective, seed) at the last step: seed-conditioning's coherence and
    creativity, and the creativity temperature sampling reaches at that coherence (linear
    interpolation along its frontier over temperatures, greedy T = 0 included; clipped at its
    ends)."""
    last = at_step(metrics)
    rows = []
    for (task, objective, seed), g in last.groupby(KEYS):
        temp = g[(g.method == "temperature") & (g.hash_len == 0)].sort_values("coherence")
        seed_row = g[(g.method == "seed") & (g.hash_len == hash_len)].iloc[0]
        matched = float(np.interp(seed_row.coherence, temp.coherence, temp.creativity))
        rows.append({"task": task, "objective": objective, "seed": seed,
                     "coherence": seed_row.coherence, "seed_creativity": seed_row.creativity,
                     "temperature_creativity": matched,
                     "difference": seed_row.creativity - matched})
    return pd.DataFrame(rows)


def memorization_trend(metrics: pd.DataFrame, hash_len: int, mid_fraction: float,
                       objective: str = "ntp", temperature: float = 1.0) -> dict:
    """For one task's rows: change from the evaluation nearest `mid_fraction` of training to the
    last one, per seed, of seed-conditioned creativity and of memorization; and, for context,
    of creativity under temperature sampling without a hash (at `temperature`)."""
    steps = np.sort(metrics.step.unique())
    mid = int(steps[np.abs(steps - mid_fraction * steps.max()).argmin()])
    rows = metrics[metrics.objective == objective]
    cr = rows[(rows.method == "seed") & (rows.hash_len == hash_len)]
    sampled = rows[(rows.method == "temperature") & (rows.hash_len == 0)
                   & (rows.temperature == temperature)]
    mem = rows[rows.method == "memorization"]

    def per_seed(df, value):
        return df.groupby("seed")[value].mean().sort_index()

    def change(df, value):
        return per_seed(at_step(df), value) - per_seed(df[df.step == mid], value)

    return {"mid_step": mid, "last_step": int(steps.max()),
            "creativity_change": mean_ci_any(change(cr, "creativity").to_numpy()),
            "sampled_creativity_change": mean_ci_any(
                change(sampled, "creativity").dropna().to_numpy()),
            "memorization_change": mean_ci_any(change(mem, "memorization").to_numpy()),
            "creativity_mid": mean_ci_any(per_seed(cr[cr.step == mid], "creativity").to_numpy()),
            "memorization_last": mean_ci_any(per_seed(at_step(mem), "memorization").to_numpy())}


# --- verdicts -----------------------------------------------------------------------------------
def _objective_verdict(task: str, name: str, est: Estimate, cfg, table: pd.DataFrame) -> Verdict:
    what = {"peak": "peak creativity over training (step chosen on half the samples, read on "
                    "the other half)",
            "matched_compute": "peak creativity within the NTP run's training tokens",
            "matched_memorization": f"creativity where memorization first reaches "
                                    f"{cfg.memorization_level:g}",
            "matched_coherence": f"creativity where seed-conditioned coherence first reaches "
                                 f"{cfg.coherence_level:g}",
            "last_step": "creativity at the last step",
            "peak_sampled": "peak creativity over training (split halves)"}[name]
    decoding = (f"temperature sampling without a hash (T = {cfg.main_temperature:g})"
                if DECODING[name] == "temperature" else
                f"seed-conditioned decoding (hash length {max(cfg.hash_lengths)}, greedy)")
    t = table[table.task == task]
    details = {o: mean_ci_any(t.loc[t.objective == o, name].dropna().to_numpy())
               for o in ("ntp", "teacherless")}
    if name == "peak":
        details["peak_step"] = t.groupby("objective").peak_step.median().to_dict()
        details["max_creativity"] = {o: mean_ci_any(g.max_creativity.to_numpy())
                                     for o, g in t.groupby("objective")}
    return verdict(f"teacherless training gives higher algorithmic creativity than NTP on {task}: "
                   f"{what}, {decoding}, teacherless − NTP paired over seeds", est, 0.0, ">",
                   details)


def ordered_tasks(cfg) -> list[str]:
    """The tasks, the headline task first."""
    return [cfg.headline_task] + [t for t in cfg.tasks if t != cfg.headline_task]


def decide(metrics: pd.DataFrame, cfg) -> dict[str, Verdict]:
    """Three verdicts per task (the headline task's first; its `teacherless_beats_ntp_*` is the
    headline), each INCONCLUSIVE when the task was not learned (verdicts 1 and 3, on
    seed-conditioned decoding: not learned under it). Verdict 3 is compound: a fall in
    creativity without a clear rise in memorization is INCONCLUSIVE."""
    h, out = max(cfg.hash_lengths), {}
    table = endpoint_table(metrics, h, cfg.memorization_level, cfg.coherence_level,
                           cfg.main_temperature)
    gaps = objective_gaps(table)
    learned = learnability(metrics, h, cfg.main_temperature, cfg.learned_creativity)
    matched = frontier_match(metrics, h)
    for task in ordered_tasks(cfg):
        rows, m = metrics[metrics.task == task], matched[matched.task == task]
        v1 = _objective_verdict(task, HEADLINE_ENDPOINT, gaps[task][HEADLINE_ENDPOINT], cfg,
                                table)
        diff = mean_ci_any(m.groupby("seed").difference.mean().to_numpy())
        v2 = verdict(f"on {task}, seed-conditioning (hash + greedy) matches or beats temperature "
                     f"sampling at matched coherence (last step; creativity difference above "
                     f"−{cfg.match_margin:g}, mean over objectives)", diff, -cfg.match_margin, ">",
                     {"per_objective": m.groupby("objective").difference.mean().round(4)
                      .to_dict()})
        trend = memorization_trend(rows, h, cfg.mid_fraction, temperature=cfg.main_temperature)
        v3 = verdict(f"on {task}, NTP's creativity falls as memorization rises (change from step "
                     f"{trend['mid_step']} to {trend['last_step']}, seed-conditioned)",
                     trend["creativity_change"], 0.0, "<",
                     {k: v for k, v in trend.items() if k != "creativity_change"})
        if v3.label == LABELS[0] and not trend["memorization_change"].low > 0:
            v3 = Verdict(LABELS[2], v3.claim + " — creativity fell but memorization did not "
                         "clearly rise", v3.estimate, v3.threshold, v3.direction, v3.details)
        out[f"teacherless_beats_ntp_{task}"] = gated(v1, learned[task], "seed")
        out[f"seed_matches_temperature_{task}"] = gated(v2, learned[task])
        out[f"ntp_creativity_falls_{task}"] = gated(v3, learned[task], "seed")
    return out


def headline(cfg) -> str:
    """The name of the headline verdict in `decide`'s result."""
    return f"teacherless_beats_ntp_{cfg.headline_task}"


def secondary(metrics: pd.DataFrame, cfg) -> dict[str, Verdict]:
    """The secondary endpoints of the objective comparison, per task, each a verdict by the same
    rule as the headline (gated on the task being learned under the endpoint's decoding)."""
    h = max(cfg.hash_lengths)
    table = endpoint_table(metrics, h, cfg.memorization_level, cfg.coherence_level,
                           cfg.main_temperature)
    gaps = objective_gaps(table)
    learned = learnability(metrics, h, cfg.main_temperature, cfg.learned_creativity)
    return {f"teacherless_beats_ntp_{task}_{name}":
            gated(_objective_verdict(task, name, gaps[task][name], cfg, table), learned[task],
                  DECODING[name])
            for task in ordered_tasks(cfg) for name in ENDPOINTS if name != HEADLINE_ENDPOINT}


def gap_table(metrics: pd.DataFrame, cfg) -> pd.DataFrame:
    """Teacherless − NTP per task (the headline task first) and endpoint: estimate, interval,
    seeds, p-value (a table for the notebook and the forest figure)."""
    table = endpoint_table(metrics, max(cfg.hash_lengths), cfg.memorization_level,
                           cfg.coherence_level, cfg.main_temperature)
    gaps = objective_gaps(table)
    return pd.DataFrame([{"task": task, "endpoint": name, "value": e.value, "low": e.low,
                          "high": e.high, "n": e.n, "p_value": e.p_value,
                          "headline": task == cfg.headline_task and name == HEADLINE_ENDPOINT}
                         for task in ordered_tasks(cfg) for name, e in gaps[task].items()])


def compute_cost(metrics: pd.DataFrame, seconds: dict[str, float]) -> pd.DataFrame:
    """Per task: training tokens of the teacherless run over the NTP run's (same seed, last
    step) and the ratio of their mean wall seconds on this machine (`run_all`'s seconds, keyed
    'task-objective-seedN'): what the added teacherless rows cost."""
    tokens = metrics.groupby(KEYS).train_tokens.max().unstack("objective")
    runs = pd.DataFrame([dict(zip(("task", "objective"), k.split("-")[:2], strict=True),
                              seconds=v) for k, v in seconds.items()])
    wall = runs.groupby(["task", "objective"]).seconds.mean().unstack("objective")
    ratio = (tokens.teacherless / tokens.ntp).groupby("task").mean()
    return pd.DataFrame({"tokens_ratio": ratio,
                         "seconds_ratio": wall.teacherless / wall.ntp}).rename_axis("task")


def invariants(metrics: pd.DataFrame, losses: pd.DataFrame, n_samples: int,
               tokens_ratio: float) -> dict[str, bool]:
    """What must hold at any scale: finite training losses; every metric in [0, 1];
    creativity ≤ diversity ≤ coherence for every decoding; greedy decoding without a hash yields
    at most one distinct object, so its diversity is at most 1/n_samples; and the teacherless
    run processes the NTP batch plus its teacherless rows, `tokens_ratio` times NTP's tokens at
    every evaluation."""
    scored = metrics[metrics.method != "memorization"]
    last = at_step(metrics)
    greedy = last[(last.method == "temperature") & (last.temperature == 0)]
    rates = ["coherence", "creativity", "diversity", "creativity_a", "creativity_b"]
    in_range = (scored[rates].stack().between(0, 1).all()
                and metrics.memorization.dropna().between(0, 1).all())
    ordered = ((scored.creativity <= scored.diversity + 1e-9).all()
               and (scored.diversity <= scored.coherence + 1e-9).all())
    tokens = metrics.groupby(["task", "seed", "step", "objective"]).train_tokens.first().unstack()
    return {
        "losses_finite": bool(np.isfinite(losses.train_loss).all()),
        "metrics_in_unit_interval": bool(in_range),
        "creativity_le_diversity_le_coherence": bool(ordered),
        "greedy_without_hash_is_one_object": bool((greedy.diversity <= 1 / n_samples + 1e-9).all()),
        "teacherless_adds_rows_to_the_ntp_batch": bool(np.allclose(
            tokens.teacherless / tokens.ntp, tokens_ratio)),
    }
