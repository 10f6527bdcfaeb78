"""nblib.experiments.roll_the_dice.experiment: config rules, evaluation steps, the teacherless
batches (the NTP batch plus teacherless rows), and one tiny real run."""

import dataclasses

import pandas as pd
import pytest
import torch

from nblib.config import ConfigError, build, replace, unclassified
from nblib.experiments import roll_the_dice as rd
from nblib.experiments.roll_the_dice import experiment as ex

from .conftest import TINY


@pytest.mark.parametrize("change, message", [
    (dict(tasks=["sibling", "square"]), "tasks="),
    (dict(hash_lengths=[2, 4]), "need 0"),
    (dict(hash_lengths=[0]), "need 0"),
    (dict(graph_len=9), "graph_len=9"),
    (dict(n_train=10**6), "n_train=1000000 exceeds"),
    (dict(graph_train=100), "graph_train=100 exceeds"),
    (dict(tasks=["triangle"], headline_task="triangle", triangle_nodes=6, triangle_share=0.05),
     "fewer than 2"),
    (dict(n_evals=6), "n_evals=6"),
    (dict(d_model=15), "divisible"),
    (dict(warmup_steps=16), "warmup_steps=16"),
    (dict(headline_task="line"), "headline_task='line'"),
    (dict(headline_task="square"), "headline_task"),
    (dict(teacherless_ratio=0.0), "teacherless_ratio"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(rd.RollTheDiceConfig, {**TINY, **change})


def test_config_starts_with_the_base_fields_and_every_field_says_what_it_affects():
    names = [f.name for f in dataclasses.fields(rd.RollTheDiceConfig)]
    assert names[:5] == ["interactive", "seeds", "first_seed", "device", "workers"]
    assert unclassified(rd.RollTheDiceConfig) == []


def test_eval_steps_are_log_spaced_and_end_at_steps():
    cfg = build(rd.RollTheDiceConfig, {**TINY, "steps": 2000, "n_evals": 6})
    assert rd.eval_steps(cfg) == [62, 125, 250, 500, 1000, 2000]
    default = build(rd.RollTheDiceConfig, {"interactive": False})  # geometric_steps, ratio 2
    assert rd.eval_steps(default) == [31, 62, 125, 250, 500, 1000, 2000]


def _sibling_rows():
    from nblib.data.tasks import creativity as ct

    data = ct.split(ct.Sibling(2, 4), 20, seed=0, hash_lengths=(0, 3))
    ids, mask = ct.encode(data.vocab, data.train)  # (20, seq + 1) each
    return ids, mask, data.vocab.index[ct.DUMMY]


def test_teacherless_batches_are_the_ntp_batch_plus_teacherless_rows():
    from nblib.eval.lm_loss import IGNORE
    from nblib.train.batches import TaskExamples

    ids, mask, dummy = _sibling_rows()
    ntp = ex.PlusTeacherless(ids, mask, dummy, 8)(torch.Generator().manual_seed(0))
    plus = ex.PlusTeacherless(ids, mask, dummy, 8, 3)(torch.Generator().manual_seed(0))
    plain = TaskExamples(ids, mask, 8)(torch.Generator().manual_seed(0))
    assert ntp[0].shape == (8, ids.shape[1] - 1) and plus[0].shape == (8 + 3, ids.shape[1] - 1)
    for a, b in zip(ntp, plain, strict=True):  # 0 teacherless rows: plain answer-masked NTP
        assert torch.equal(a, b)
    assert torch.equal(plus[0][:8], ntp[0]) and torch.equal(plus[1][:8], ntp[1])  # full NTP batch
    tl_in, tl_tgt, src_in, src_tgt = plus[0][8:], plus[1][8:], ntp[0][:3], ntp[1][:3]
    answer = src_tgt != IGNORE  # (3, seq): positions predicting an answer token (or EOS)
    first = answer.int().argmax(1)
    later = answer.clone()
    later[torch.arange(3), first] = False
    assert torch.equal(tl_tgt != IGNORE, later)  # copies skip the first answer token
    assert torch.equal(tl_tgt[later], src_tgt[later])  # and keep the later targets
    prompt = ~(src_in != tl_in)
    assert (tl_in[~prompt] == dummy).all() and not (src_in == dummy).any()
    for i in range(3):  # the prompt (hash, query) is kept; every answer token is a dummy
        assert torch.equal(tl_in[i, : first[i] + 1], src_in[i, : first[i] + 1])
        n_answer = int(answer[i].sum())
        assert (tl_in[i, first[i] + 1: first[i] + n_answer] == dummy).all()
    with pytest.raises(ValueError, match="n_teacherless=9"):
        ex.PlusTeacherless(ids, mask, dummy, 8, 9)


def test_teacherless_rows_follow_the_ratio(cfg):
    assert ex.teacherless_rows(cfg, "ntp") == 0
    assert ex.teacherless_rows(cfg, "teacherless") == cfg.batch_size  # ratio 1 by default
    quarter = replace(cfg, teacherless_ratio=0.25)
    assert ex.teacherless_rows(quarter, "teacherless") == cfg.batch_size // 4
    assert ex.teacherless_rows(replace(cfg, batch_size=2, teacherless_ratio=0.01),
                               "teacherless") == 1  # at least one row
    _, trainer = ex.setup_run(replace(cfg, teacherless_ratio=0.5),
                              {"task": "sibling", "objective": "teacherless", "seed": 0})
    assert len(trainer.batches(torch.Generator())[0]) == cfg.batch_size + cfg.batch_size // 2


def test_warmup_and_weight_decay_are_the_parameters(cfg):
    _, trainer = ex.setup_run(replace(cfg, warmup_steps=4, weight_decay=0.05),
                              {"task": "sibling", "objective": "ntp", "seed": 0})
    assert trainer.cfg.schedule.warmup_steps == 4 and trainer.cfg.weight_decay == 0.05
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.05


def test_runs_are_keyed_by_what_shapes_the_results(cfg):
    same = replace(cfg, seeds=3, first_seed=1, tasks=["sibling"], mid_fraction=0.5, workers=1)
    assert ex.runs_folder(cfg) == ex.runs_folder(same)
    same = replace(same, tasks=["circle"], headline_task="circle", memorization_level=0.3,
                   coherence_level=0.6, learned_creativity=0.1)
    assert ex.runs_folder(cfg) == ex.runs_folder(same)
    for change in (dict(steps=32), dict(n_samples=8), dict(warmup_steps=2),
                   dict(weight_decay=0.1), dict(teacherless_ratio=0.5)):
        assert ex.runs_folder(cfg) != ex.runs_folder(replace(cfg, **change))
    assert {j["seed"] for j in rd.jobs(replace(cfg, first_seed=5))} == {5, 6}


def test_a_tiny_run_records_every_decoding_and_memorization(cfg):
    res = ex.train_run(cfg, {"task": "circle", "objective": "teacherless", "seed": 0})
    rows = res["rows"]
    last = [r for r in rows if r["step"] == 16]
    assert {r["method"] for r in last} == {"temperature", "seed", "both", "memorization"}
    assert len(last) == len(ex.decodings(cfg, final=True)) + 1
    assert len([r for r in rows if r["step"] == 8]) == 4  # three main decodings + memorization
    for r in rows:
        for key in ("coherence", "creativity", "diversity", "memorization"):
            if key in r:
                assert 0.0 <= r[key] <= 1.0
        if "creativity" in r:
            assert r["creativity"] <= r["diversity"] <= r["coherence"] + 1e-9
    assert res["losses"] and all(x["train_loss"] > 0 for x in res["losses"])
    scored = [r for r in rows if "creativity" in r]
    assert all(0 <= r[k] <= 1 for r in scored for k in ("creativity_a", "creativity_b"))
    ntp = ex.train_run(cfg, {"task": "circle", "objective": "ntp", "seed": 0})["rows"]
    # teacherless: the NTP batch plus as many teacherless rows (ratio 1): twice the tokens
    assert [r["train_tokens"] for r in rows] == [2 * r["train_tokens"] for r in ntp]
    again = ex.train_run(cfg, {"task": "circle", "objective": "teacherless", "seed": 0})
    assert pd.DataFrame(again["rows"]).equals(pd.DataFrame(rows))  # deterministic (NaN == NaN)


def test_run_all_is_one_flat_table_and_resumes(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "runs_folder", lambda c: tmp_path)
    small = replace(cfg, tasks=["circle"], headline_task="circle", seeds=1)
    metrics, losses, seconds = rd.run_all(small)
    assert len(list(tmp_path.glob("*.json"))) == len(rd.OBJECTIVES) == len(seconds)
    assert list(metrics.columns[:4]) == ["task", "objective", "seed", "step"]
    assert set(metrics.objective) == set(rd.OBJECTIVES) and set(losses.seed) == {0}
    again, _, seconds_again = rd.run_all(small)  # loaded, not retrained
    assert again.equals(metrics) and seconds_again == seconds


def test_runtime_estimate_is_timed_and_positive(cfg):
    seconds = rd.estimate_seconds(cfg, torch.device("cpu"), 1)
    assert 0 < seconds < 600
