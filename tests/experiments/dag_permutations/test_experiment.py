from itertools import islice

import numpy as np
import pytest

from nblib.config import ConfigError, build
from nblib.data.toposort import respects
from nblib.experiments import dag_permutations as dp
from nblib.experiments.dag_permutations import experiment

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(conditions=["repeated", "uniform"]), "repeated and attention are always run"),
    (dict(conditions=["repeated", "attention", "reversed"]), r"unknown \['reversed'\]"),
    (dict(corpora=["bios", "wiki"]), r"unknown \['wiki'\]"),
    (dict(threshold=0.5), "threshold=0.5: out of range"),
    (dict(threshold=1.7), r"sweep=\[1.1, 1.25, 1.5, 2.0, 3.0\]: must include threshold=1.7"),
    (dict(qa_share=0.8), "qa_share=0.8: out of range"),
    (dict(warmup_steps=30), "warmup_steps=30: must be below steps=30"),
    (dict(d_model=15), "divisible"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(dp.DagConfig, {**TINY, **change})


def test_jobs_run_the_true_dag_on_bios_only():
    cfg = build(dp.DagConfig, {})
    grid = {(j["corpus"], j["condition"]) for j in dp.jobs(cfg)}
    assert ("bios", "true") in grid and ("sotu", "true") not in grid and len(dp.jobs(cfg)) == 35


def test_dags_are_cached_and_refuse_a_missing_file(cfg, dags, tmp_path, monkeypatch):
    assert len(dags["bios"]) == cfg.people and len(dags["sotu"]) == cfg.speeches
    assert dp.extract_dags(cfg) == dags  # read back, no second prefill
    monkeypatch.setenv("NBLIB_CHECKPOINTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run extract_dags"):
        dp.run_all(cfg)


@pytest.mark.parametrize("corpus,condition", [("bios", "attention"), ("bios", "true"),
                                              ("sotu", "attention"), ("sotu", "uniform"),
                                              ("bios", "repeated")])
def test_streams_only_reorder_the_seed_documents(cfg, dags, corpus, condition):
    seed = experiment.seed_set(cfg, corpus)
    edges = experiment.edges_of(cfg, corpus, condition)
    by_sentences = {tuple(sorted(d.ids)): (i, d) for i, d in enumerate(seed)}
    job = {"corpus": corpus, "condition": condition, "seed": 0}
    seen_qa = 0
    for sentences, _ in islice(experiment.stream(cfg, job, seed), 60):
        key = tuple(sorted(sentences))
        if key not in by_sentences:  # a QA document
            seen_qa += 1
            assert corpus == "bios"
            continue
        i, doc = by_sentences[key]
        order = [doc.ids.index(s) for s in sentences]
        if condition == "repeated":
            assert order == list(range(len(doc.ids)))
        elif edges[i]:
            assert respects(order, edges[i])
    assert (seen_qa > 0) == (corpus == "bios" and cfg.qa_share > 0)


def test_run_records_every_checkpoint_and_resumes(tiny, cfg):
    _, res = tiny
    assert len(res.streams) == len(dp.jobs(cfg)) == 14
    per_job = res.curves.groupby(["corpus", "condition", "seed"]).step.apply(list)
    assert all(steps == res.steps for steps in per_job)
    assert (res.streams.tokens == cfg.steps * cfg.batch_size * cfg.context).all()
    bios = res.curves[res.curves.corpus == "bios"]
    assert bios.qa_accuracy.between(0, 1).all() and np.isfinite(bios.qa_value_loss).all()
    again = dp.run_all(cfg)
    assert again.curves.equals(res.curves)
