"""nblib.experiments.roll_the_dice: config rules, hybrid batches, and one tiny real run."""

import pandas as pd
import pytest
import torch

from nblib.config import ConfigError, build
from nblib.data.tasks import creativity as ct
from nblib.eval.lm_loss import IGNORE
from nblib.experiments import roll_the_dice as rd

TINY = dict(interactive=False, seeds=2, sibling_parents=2, sibling_children=6, graph_entities=6, graph_len=4,
            n_train=40, graph_train=30, hash_lengths=[0, 3], d_model=16, n_layers=1, n_heads=2, steps=16, n_evals=2,
            temperatures=[1.0, 2.0], n_samples=16, n_memorization=8)


@pytest.mark.parametrize("change, message", [
    (dict(tasks=["sibling", "square"]), "tasks="),
    (dict(hash_lengths=[2, 4]), "need 0"),
    (dict(hash_lengths=[0]), "need 0"),
    (dict(graph_len=9), "graph_len=9"),
    (dict(n_train=10**6), "n_train=1000000 exceeds"),
    (dict(graph_train=100), "graph_train=100 exceeds"),
    (dict(tasks=["triangle"], triangle_nodes=6, triangle_share=0.05), "fewer than 2"),
    (dict(n_evals=6), "n_evals=6"),
    (dict(d_model=15), "divisible"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(rd.RollTheDiceConfig, {**TINY, **change})


def test_eval_steps_are_log_spaced_and_end_at_steps():
    cfg = build(rd.RollTheDiceConfig, {**TINY, "steps": 2000, "n_evals": 6})
    assert rd.eval_steps(cfg) == [62, 125, 250, 500, 1000, 2000]


def test_hybrid_batches_mix_teacherless_rows_with_the_same_targets():
    task = ct.Sibling(2, 4)
    data = ct.split(task, 20, seed=0, hash_lengths=(3,))
    ids, mask = ct.encode(data.vocab, data.train)
    dummy = data.vocab.index[ct.DUMMY]
    ntp = rd.HybridBatches(ids, mask, dummy, 64, 0.0)(torch.Generator().manual_seed(0))
    mixed = rd.HybridBatches(ids, mask, dummy, 64, 0.5)(torch.Generator().manual_seed(0))
    assert torch.equal(ntp[1], mixed[1])  # same rows, same targets
    teach = (mixed[0] == dummy).any(1)
    assert 0 < teach.sum() < 64 and not (ntp[0] == dummy).any()
    assert ((mixed[0][teach] == dummy) == (mixed[1][teach] != IGNORE)[:, :]).sum() > 0
    assert (mixed[0][teach][:, :4] == ntp[0][teach][:, :4]).all()  # hash and query kept


def test_a_tiny_run_records_every_decoding_and_memorization():
    cfg = build(rd.RollTheDiceConfig, TINY)
    res = rd.train_run(cfg, {"task": "circle", "objective": "teacherless", "seed": 0})
    rows = res["rows"]
    last = [r for r in rows if r["step"] == 16]
    assert {r["method"] for r in last} == {"temperature", "seed", "both", "memorization"}
    assert len(last) == len(rd.decodings(cfg, final=True)) + 1
    assert len([r for r in rows if r["step"] == 8]) == 4  # three main decodings + memorization
    for r in rows:
        for key in ("coherence", "creativity", "diversity", "memorization"):
            if key in r:
                assert 0.0 <= r[key] <= 1.0
        if "creativity" in r:
            assert r["creativity"] <= r["diversity"] <= r["coherence"] + 1e-9
    assert res["losses"] and all(x["train_loss"] > 0 for x in res["losses"])
    again = rd.train_run(cfg, {"task": "circle", "objective": "teacherless", "seed": 0})
    assert pd.DataFrame(again["rows"]).equals(pd.DataFrame(rows))  # deterministic (NaN == NaN here)
