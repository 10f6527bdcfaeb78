"""Notebook 07's statistics and pre-registered verdicts.

Validation losses are read two ways: at the budget (the last checkpoint), and at the cross-fitted
minimum (the checkpoint of the minimum chosen on one half of the validation set, the loss read
on the other half, both ways averaged: what early stopping would get, without the bias of
picking a minimum on the data that scores it). Seeds are the unit for the trained models and
every comparison is paired by seed; for the DAGs (one deterministic prefill per document) the
seed documents are the unit.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from nblib.data.toposort import count_linear_extensions
from nblib.experiments.dag_permutations.experiment import TRUE_EDGES, attention_edges, load_dags
from nblib.stats import Verdict, above_zero_or_not, mean_ci_any, paired_any

HEADLINE = "attention_sorts_beat_repetition"
N_TRUE_SORTS = count_linear_extensions(6, TRUE_EDGES)  # 60 of the 720 orders of 6 sentences


def cross_fit_min(a: np.ndarray, b: np.ndarray) -> float:
    """The loss at the minimum of one half read on the other, averaged both ways."""
    return float(0.5 * (b[int(np.argmin(a))] + a[int(np.argmin(b))]))


def endpoints(results) -> pd.DataFrame:
    """One row per job: the validation loss at the budget and at the cross-fitted minimum; for
    bios also the reordered documents' loss and the QA answers' loss and accuracy at the budget."""
    rows = []
    c = results.curves[results.curves.step > 0]
    for (corpus, cond, seed), g in c.groupby(["corpus", "condition", "seed"], sort=True):
        g = g.sort_values("step")
        last = g.iloc[-1]
        row = {"corpus": corpus, "condition": cond, "seed": seed, "val_final": last.val_all,
               "val_min": cross_fit_min(g.val_all_a.to_numpy(), g.val_all_b.to_numpy())}
        if corpus == "bios":
            row |= {"reordered_final": last.val_reordered_all,
                    "reordered_min": cross_fit_min(g.val_reordered_all_a.to_numpy(),
                                                   g.val_reordered_all_b.to_numpy()),
                    "qa_loss_final": last.qa_value_loss, "qa_accuracy_final": last.qa_accuracy}
        rows.append(row)
    return pd.DataFrame(rows)


def _pair(table: pd.DataFrame, corpus: str, col: str, first: str, second: str):
    t = table[table.corpus == corpus]
    a = t[t.condition == first].set_index("seed")[col]
    b = t[t.condition == second].set_index("seed")[col]
    seeds = sorted(set(a.index) & set(b.index))
    return paired_any(a.loc[seeds].to_numpy(), b.loc[seeds].to_numpy())


def dag_table(cfg, thresholds=None) -> pd.DataFrame:
    """Per corpus and threshold (no training): mean sentences, edges and log10 of the number of
    topological sorts per seed document; for bios, the edges' precision and recall against the
    true DAG and the share of the attention DAG's sorts that respect the true DAG (exact, by
    counting), with its 95% interval over documents."""
    dags, rows = load_dags(cfg), []
    for corpus in cfg.corpora:
        for th in thresholds or cfg.sweep:
            per_doc = [doc_statistics(lift, th, corpus == "bios") for lift in dags[corpus]]
            d = pd.DataFrame(per_doc)
            row = {"corpus": corpus, "threshold": th, "documents": len(d),
                   "sentences": d.sentences.mean(), "edges": d.edges.mean(),
                   "log10_sorts": d.log10_sorts.mean()}
            if corpus == "bios":
                est = mean_ci_any(d.share_true.to_numpy())
                row |= {"precision": d.precision.mean(), "recall": d.recall.mean(),
                        "share_true": est.value, "share_low": est.low, "share_high": est.high,
                        "share_uniform": N_TRUE_SORTS / 720}
            rows.append(row)
    return pd.DataFrame(rows)


def doc_statistics(lift, threshold: float, known: bool) -> dict:
    """One document's DAG at `threshold`: sentences, edges, log10 sorts and, when the true DAG
    is known, precision, recall and the share of its sorts that respect the true DAG."""
    n = len(lift)
    edges = attention_edges(lift, threshold)
    out = {"sentences": n, "edges": len(edges),
           "log10_sorts": float(np.log10(count_linear_extensions(n, edges)))}
    if known:
        hits = len(set(edges) & set(TRUE_EDGES))
        out |= {"precision": hits / len(edges) if edges else float("nan"),
                "recall": hits / len(TRUE_EDGES),
                "share_true": count_linear_extensions(n, set(edges) | set(TRUE_EDGES))
                / count_linear_extensions(n, edges)}
    return out


def decide(results, cfg) -> dict[str, Verdict]:
    """The pre-registered verdicts (see the notebook's hypothesis)."""
    t, m = endpoints(results), cfg.margin
    v = {}
    claims = {"val_min": "at the cross-fitted minimum", "val_final": "at the budget"}
    for corpus in cfg.corpora:
        for col, when in claims.items():
            name = (HEADLINE if (corpus, col) == ("bios", "val_min")
                    else f"{corpus}_attention_beats_repetition_{col.split('_')[1]}")
            v[name] = above_zero_or_not(
                f"{corpus}: training on random topological sorts of the attention DAG gives a "
                f"lower validation loss (natural order, held-out text) than repeating the seed "
                f"set, {when} (repeated − attention, nats/token, paired over seeds)",
                _pair(t, corpus, col, "repeated", "attention"), m)
    order = [HEADLINE] + [k for k in v if k != HEADLINE]
    v = {k: v[k] for k in order}
    if "bios" in cfg.corpora:
        v["bios_attention_beats_repetition_downstream"] = above_zero_or_not(
            "bios: the held-out half's QA answers (facts never seen as QA) get a lower loss after "
            "attention sorts than after repetition, at the budget (repeated − attention, "
            "paired over seeds)", _pair(t, "bios", "qa_loss_final", "repeated", "attention"), m)
        if "uniform" in cfg.conditions:
            v["bios_attention_beats_uniform"] = above_zero_or_not(
                "bios: the attention DAG's sorts beat uniformly random permutations at the "
                "cross-fitted minimum (uniform − attention, paired over seeds): the DAG matters",
                _pair(t, "bios", "val_min", "uniform", "attention"), m)
        docs = pd.DataFrame([doc_statistics(lift, cfg.threshold, True)
                             for lift in load_dags(cfg)["bios"]])
        v["attention_dag_agrees_with_the_true_dag"] = above_zero_or_not(
            f"bios: at threshold {cfg.threshold:g}, a random sort of the attention DAG respects "
            "the true DAG more often than a uniformly random permutation (share − 60/720, exact "
            "per document, over documents)",
            replace(mean_ci_any(docs.share_true.to_numpy() - N_TRUE_SORTS / 720),
                    unit="seed documents"), 0.05,
            {"precision": float(docs.precision.mean()), "recall": float(docs.recall.mean())})
    return v


def summary(results) -> pd.DataFrame:
    """Per corpus and condition, mean over seeds (95% interval) of every endpoint, and the
    metered shares of the training stream."""
    t = endpoints(results)
    s = results.streams.groupby(["corpus", "condition"])[
        ["documents", "sentences", "ngrams"]].mean().add_prefix("repeated_")
    rows = []
    for (corpus, cond), g in t.groupby(["corpus", "condition"], sort=False):
        row = {"corpus": corpus, "condition": cond, "seeds": len(g)}
        for col in [c for c in g.columns if c not in ("corpus", "condition", "seed")]:
            if g[col].notna().any():
                est = mean_ci_any(g[col].to_numpy())
                row |= {col: est.value, f"{col}_low": est.low, f"{col}_high": est.high}
        rows.append({**row, **s.loc[(corpus, cond)].to_dict()})
    return pd.DataFrame(rows)


def contrasts(results, cfg) -> list[dict]:
    """Every paired difference between conditions of one corpus, per endpoint (two-sided
    statistics beside the verdicts)."""
    t, out = endpoints(results), []
    for corpus in cfg.corpora:
        conds = [c for c in cfg.conditions if (t.corpus == corpus).any()
                 and c in set(t[t.corpus == corpus].condition)]
        cols = [c for c in t.columns if c not in ("corpus", "condition", "seed")
                and t[t.corpus == corpus][c].notna().all()]
        for i, a in enumerate(conds):
            for b in conds[i + 1:]:
                for col in cols:
                    est = _pair(t, corpus, col, a, b)
                    out.append({"corpus": corpus, "endpoint": col, "first": a, "second": b,
                                **asdict(est)})
    return out


def statistics(results, cfg) -> dict:
    return {"summary": summary(results).to_dict("records"),
            "endpoints": endpoints(results).to_dict("records"),
            "contrasts": contrasts(results, cfg),
            "dags": dag_table(cfg).to_dict("records"),
            "parameters": {k: int(n) for k, n in results.params.items()}}


def invariants(results, cfg) -> dict[str, bool]:
    """What must hold at any scale."""
    c, s = results.curves, results.streams
    loss_cols = [col for col in c.columns if "val" in col or col == "qa_value_loss"]
    budget = cfg.steps * cfg.batch_size * cfg.context
    first = c[c.step == 0].groupby(["corpus", "condition", "seed"]).val_all.first()
    best = c[c.step > 0].groupby(["corpus", "condition", "seed"]).val_all.min()
    perm = s[s.condition != "repeated"]
    dags = load_dags(cfg)
    out = {
        "losses_finite_and_positive": all(
            bool(np.isfinite(g[cols]).all().all() and (g[cols] > 0).all().all())
            for _, g in c.groupby("corpus")
            for cols in [[col for col in loss_cols if g[col].notna().any()]]),
        "every_job_trains_on_the_same_token_budget": bool((s.tokens == budget).all()),
        "permutations_repeat_no_more_documents_than_repetition": bool(all(
            (perm[perm.corpus == k].documents
             <= s[(s.corpus == k) & (s.condition == "repeated")].documents.min() + 1e-9).all()
            for k in set(s.corpus))),
        "training_lowers_the_validation_loss": bool((best < first.loc[best.index]).all()),
        "every_job_has_every_checkpoint": bool(
            (c.groupby(["corpus", "condition", "seed"]).step.nunique()
             == len(results.steps)).all()),
        "lifts_are_finite_and_positive_below_the_diagonal": all(
            all(lift[i][j] > 0 for i in range(len(lift)) for j in range(i + 1))
            for corpus in cfg.corpora for lift in dags[corpus]),
    }
    if "bios" in cfg.corpora:
        qa = c[c.corpus == "bios"].qa_accuracy
        out["qa_accuracy_within_0_and_1"] = bool(qa.between(0, 1).all())
    return out


def closing_line(verdicts: dict[str, Verdict]) -> str:
    e = verdicts[HEADLINE].estimate
    labels = "; ".join(f"{name}: {v.label}" for name, v in verdicts.items())
    return (f"bios val loss at the minimum, repeated − attention = {e.value:+.3f} [{e.low:+.3f}, "
            f"{e.high:+.3f}] nats/token (95% CI, n={e.n} seeds). {labels}")
