"""Notebook 08's statistics and pre-registered verdicts.

Seeds are the unit; a seed fixes the pretraining data stream and the RL prompts of every width,
so comparisons between widths are paired by seed. Sizes are not seeds: every other estimate is per
width. The endpoint is the last RL checkpoint, on the training range of b, with the completions
sampled at T = 1 (the policy GRPO trains).

The decay signature: accuracy against b on the training range is fitted (binomial maximum
likelihood over every problem's sampled completions) by p(b) = f + (1 − f)·α·(1 − ε)^x(b), with
f = 1/c a blind guess and x(b) the steps of one algorithm: b (linear) or bit_length(b) +
popcount(b) (binary, ≤ 2·log2 b + 2). The signature is NLL_linear − NLL_binary per problem
(nats): positive when the binary shape explains the accuracies better.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from nblib.stats import Verdict, above_zero_or_not, mean_ci_any, mean_ci_table, paired_any

HEADLINE = "largest_uses_algorithm_more"
SHAPES = ("linear", "binary")
CLIP = 1e-12  # probabilities of the decay fit stay in [CLIP, 1 − CLIP]
ALPHA_GAP = 1e-6  # the fitted α stays below 1 − ALPHA_GAP (so p stays below the clip)
LAMBDA_STARTS = (0.0, 0.003, 0.03, 0.3, 3.0)  # starts of the search for the decay rate λ


def other(algorithm: str) -> str:
    """The algorithm that is not `algorithm`."""
    return SHAPES[1 - SHAPES.index(algorithm)]


def strongest_trivial(cfg) -> float:
    """The best training-range accuracy of a baseline that needs no model (a blind guess or the
    best constant answer)."""
    from nblib.experiments.more_is_different.experiment import baselines

    base = baselines(cfg)
    return max(base["chance_train"], base["constant_train"])


def final_step(results) -> int:
    return int(results.steps[-1])


def fit_decay(x: np.ndarray, correct: np.ndarray, n: int, floor: np.ndarray) -> dict:
    """Binomial MLE of p = floor + (1 − floor)·α·exp(−λ x) for `correct` of `n` samples per
    problem: α, ε = 1 − exp(−λ) and the NLL per problem (nats). α stays below 1 − ALPHA_GAP, so
    p never reaches the clip at 1 (where the gradient vanishes and a search from a near-perfect
    start would stop at ε = 0); the search starts from several λ and keeps the best."""
    x, k, floor = (np.asarray(v, float) for v in (x, correct, floor))

    def nll(theta):
        alpha, lam = theta
        p = np.clip(floor + (1 - floor) * alpha * np.exp(-lam * x), CLIP, 1 - CLIP)
        return -(k * np.log(p) + (n - k) * np.log1p(-p)).sum()

    alpha0 = min(1.0 - ALPHA_GAP, max(1e-3, k.sum() / (n * len(k))))
    bounds = [(1e-4, 1.0 - ALPHA_GAP), (0.0, 10.0)]
    best = min((minimize(nll, [alpha0, lam0], method="L-BFGS-B", bounds=bounds)
                for lam0 in LAMBDA_STARTS), key=lambda r: r.fun)
    alpha, lam = best.x
    return {"alpha": float(alpha), "epsilon": float(-np.expm1(-lam)),
            "nll": float(best.fun / len(k))}


def signatures(results, cfg) -> pd.DataFrame:
    """One row per (width, seed, step): each shape's fit on the training range and the
    signature NLL_linear − NLL_binary (nats per problem)."""
    p = results.per_problem[results.per_problem.split == "train"].merge(
        results.problems[["problem", "c", "steps_linear", "steps_binary"]], on="problem")
    rows = []
    for (width, seed, step), g in p.groupby(["width", "seed", "step"], sort=True):
        row = {"width": width, "seed": seed, "step": step}
        for shape in SHAPES:
            fit = fit_decay(g[f"steps_{shape}"], g.correct, cfg.eval_samples, 1.0 / g.c)
            row.update({f"{k}_{shape}": v for k, v in fit.items()})
        row["signature"] = row["nll_linear"] - row["nll_binary"]
        rows.append(row)
    return pd.DataFrame(rows)


def at(results, step: int, split: str = "train") -> pd.DataFrame:
    """The curves at one RL checkpoint and split, one row per (width, seed), sorted."""
    c = results.curves
    return c[(c.step == step) & (c.split == split)].sort_values(["width", "seed"])


def _by_width(table: pd.DataFrame, width: int, col: str) -> np.ndarray:
    return table[table.width == width].sort_values("seed")[col].to_numpy(float)


def decide(results, cfg) -> dict[str, Verdict]:
    """The pre-registered verdicts: the headline (after RL the largest width's share of
    `algorithm` exceeds the smallest's, paired over seeds), the same net of the shares before RL,
    the decay signature of the largest width agreeing with the algorithm it writes, and per width:
    the pretrained model executing the task (beating the strongest trivial baseline), RL moving
    the share towards the algorithm that model executes more accurately, and RL beating the
    pretrained model's better decoding (greedy or T = 1)."""
    alg, small, large = cfg.algorithm, cfg.widths[0], cfg.widths[-1]
    col = f"share_{alg}"
    end, start = at(results, final_step(results)), at(results, 0)
    verdicts = {HEADLINE: above_zero_or_not(
        f"after {cfg.rl_steps} GRPO steps, d_model={large} writes {alg} traces on a larger share "
        f"of training-range completions (T 1) than d_model={small} (paired over seeds)",
        paired_any(_by_width(end, large, col), _by_width(end, small, col)), cfg.share_margin,
        {"share_largest": float(_by_width(end, large, col).mean()),
         "share_smallest": float(_by_width(end, small, col).mean()),
         "share_largest_before_rl": float(_by_width(start, large, col).mean()),
         "share_smallest_before_rl": float(_by_width(start, small, col).mean())})}
    shift = {w: _by_width(end, w, col) - _by_width(start, w, col) for w in (small, large)}
    verdicts["shift_net_of_pretraining"] = above_zero_or_not(
        f"RL moves d_model={large} towards {alg} traces by more than d_model={small} (change of "
        "the share from RL step 0 to the end, largest − smallest, paired over seeds)",
        paired_any(shift[large], shift[small]), cfg.share_margin,
        {"shift_largest": float(shift[large].mean()),
         "shift_smallest": float(shift[small].mean())})
    sig = signatures(results, cfg)
    last = sig[(sig.width == large) & (sig.step == final_step(results))].sort_values("seed")
    ends = end[end.width == large].sort_values("seed")
    dominant = np.where(ends.share_binary.to_numpy() >= ends.share_linear.to_numpy(), 1.0, -1.0)
    verdicts[f"decay_matches_algorithm_d{large}"] = above_zero_or_not(
        f"after RL, d_model={large}'s accuracy against b on the training range is fitted better "
        "by the decay shape of the algorithm it writes most (NLL of the other shape − NLL of "
        "its own, nats per problem, over seeds)",
        mean_ci_any(dominant * last.signature.to_numpy()), cfg.fit_margin,
        {"dominant": ["binary" if d > 0 else "linear" for d in dominant],
         "signature_mean": float(last.signature.mean()),
         "epsilon_linear": float(last.epsilon_linear.mean()),
         "epsilon_binary": float(last.epsilon_binary.mean())})
    trivial = strongest_trivial(cfg)
    for w in cfg.widths:
        verdicts[f"executes_task_d{w}"] = above_zero_or_not(
            f"pretrained d_model={w}, decoded greedily, beats the strongest baseline that needs no "
            f"model ({trivial:.3f}) on the training range (over seeds): it executes the task, so "
            "its algorithm share is more than a format",
            mean_ci_any(_by_width(start, w, "greedy") - trivial), cfg.accuracy_margin,
            {"greedy_before_rl": float(_by_width(start, w, "greedy").mean()),
             "strongest_trivial": trivial})
    for w in cfg.widths:
        gap = _by_width(start, w, f"forced_{alg}") - _by_width(start, w, f"forced_{other(alg)}")
        shift = _by_width(end, w, col) - _by_width(start, w, col)
        verdicts[f"rl_follows_execution_d{w}"] = above_zero_or_not(
            f"at d_model={w}, RL moves the {alg} share towards the algorithm the pretrained model "
            "executes more accurately (sign of the forced-tag greedy accuracy gap at RL step 0 × "
            "the change of the share, over seeds)",
            mean_ci_any(np.sign(gap) * shift), cfg.share_margin,
            {"forced_gap_before_rl": float(gap.mean()), "shift": float(shift.mean()),
             "seeds_whose_gap_favours": {alg: int((gap > 0).sum()),
                                         other(alg): int((gap < 0).sum()),
                                         "neither": int((gap == 0).sum())}})
    for w in cfg.widths:
        before = np.maximum(_by_width(start, w, "accuracy"), _by_width(start, w, "greedy"))
        verdicts[f"rl_beats_pretrained_d{w}"] = above_zero_or_not(
            f"at d_model={w}, GRPO's policy (T 1) is more accurate on the training range than "
            "the pretrained model decoded its better way (greedy or T 1; paired over seeds)",
            paired_any(_by_width(end, w, "accuracy"), before), cfg.accuracy_margin,
            {"accuracy_after": float(_by_width(end, w, "accuracy").mean()),
             "pretrained_best": float(before.mean()),
             "pretrained_greedy": float(_by_width(start, w, "greedy").mean())})
    return verdicts


def summary(results) -> pd.DataFrame:
    """Per (width, step, split): each metric's mean with its 95% interval over seeds."""
    metrics = ["accuracy", "greedy", "share_linear", "share_binary", "share_other",
               "p_binary", "forced_linear", "forced_binary", "length"]
    out = []
    for m in metrics:
        t = mean_ci_table(results.curves, ["width", "step", "split"], m, clip=(0, None))
        out.append(t.rename(columns={"mean": m, "low": f"{m}_low", "high": f"{m}_high"})
                   .drop(columns="n"))
    table = out[0]
    for t in out[1:]:
        table = table.merge(t, on=["width", "step", "split"])
    return table


def share_by_b(results, step: int | None = None) -> pd.DataFrame:
    """Per (width, b) at one checkpoint (default the last): sampled share of each algorithm and
    accuracy, mean over seeds (where along b each width switches algorithm)."""
    step = final_step(results) if step is None else step
    p = results.per_problem[results.per_problem.step == step]
    g = p.groupby(["width", "seed", "b"])[["correct", "n_linear", "n_binary", "n_other"]].sum()
    total = g[["n_linear", "n_binary", "n_other"]].sum(axis=1)
    per_seed = pd.DataFrame({"accuracy": g.correct / total, "share_linear": g.n_linear / total,
                             "share_binary": g.n_binary / total}).reset_index()
    return per_seed.groupby(["width", "b"]).mean(numeric_only=True).drop(columns="seed") \
        .reset_index()


def statistics(results, cfg) -> dict:
    """The numbers the notebook prints and records."""
    sig = signatures(results, cfg)
    ends = {s: at(results, s) for s in (0, final_step(results))}
    per_width = []
    for w in cfg.widths:
        row = {"width": w, "params": int(results.params[w])}
        for name, step in (("before", 0), ("after", final_step(results))):
            for m in ("accuracy", "greedy", f"share_{cfg.algorithm}"):
                est = mean_ci_any(_by_width(ends[step], w, m))
                row.update({f"{m}_{name}": est.value, f"{m}_{name}_low": est.low,
                            f"{m}_{name}_high": est.high})
            s = sig[(sig.width == w) & (sig.step == step)].signature.to_numpy()
            est = mean_ci_any(s)
            row.update({f"signature_{name}": est.value, f"signature_{name}_low": est.low,
                        f"signature_{name}_high": est.high})
        per_width.append(row)
    test = at(results, final_step(results), "test")
    return {"per_width": per_width, "signatures": sig.to_dict("records"),
            "summary": summary(results).to_dict("records"),
            "share_by_b": share_by_b(results).to_dict("records"),
            "held_out_after_rl": test[["width", "seed", "accuracy", "greedy", "share_binary",
                                       "share_linear"]].to_dict("records"),
            "parameters": {str(w): int(n) for w, n in results.params.items()}}


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    from nblib.experiments.more_is_different.experiment import eval_problems

    c, log = results.curves, results.rl_log
    shares = c[["share_linear", "share_binary", "share_other"]].sum(axis=1)
    unit = ["accuracy", "greedy", "share_linear", "share_binary", "share_other", "p_binary",
            "forced_linear", "forced_binary", *[f"pass{k}" for k in cfg.pass_ks]]
    task = cfg.task()
    problems, _ = eval_problems(cfg, task)
    reference_ok = all(task.reward(p, task.completion(p, alg)) == 1.0
                       for p in problems.tolist() for alg in SHAPES)
    b = results.problems.groupby("split").b.agg(["min", "max"])
    trivial = strongest_trivial(cfg)
    first = at(results, 0)
    pre = results.pretrain_loss.sort_values("step").groupby(["width", "seed"]).loss
    longest = task.max_completion_len("train")
    return {
        "metrics_within_0_and_1": bool(c[unit].stack().between(0, 1).all()),
        "algorithm_shares_sum_to_1": bool(np.allclose(shares, 1.0)),
        "rewards_within_their_range": bool(log.reward.between(
            -cfg.length_cost * longest - 1e-9, 1 + 1e-9).all()),
        "losses_finite": bool(np.isfinite(results.pretrain_loss.loss).all()),
        "pretraining_lowers_the_loss": bool((pre.last() < pre.first()).all()),
        "largest_pretrained_model_beats_the_strongest_trivial_baseline": bool(
            (_by_width(first, cfg.widths[-1], "greedy") > trivial).all()),
        "grader_accepts_both_reference_traces": bool(reference_ok),
        "evaluation_b_ranges_as_configured": bool(
            tuple(b.loc["train"]) == tuple(cfg.train_b) and
            tuple(b.loc["test"]) == tuple(cfg.test_b)),
        "every_job_has_every_checkpoint": bool(
            (c.groupby(["width", "seed"]).step.nunique() == len(results.steps)).all()),
        "every_job_logs_every_rl_step": bool(
            (log.groupby(["width", "seed"]).rl_step.max() == cfg.rl_steps).all()),
    }


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"share largest − smallest after RL = {e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}] "
            f"(95% CI, n={e.n} seeds). {labels}")
