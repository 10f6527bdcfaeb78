import numpy as np
import pytest
import torch

from nblib.config import ConfigError, build
from nblib.data.tasks.digit_sum import implied_answer, trace
from nblib.experiments import cot_semantics as cs
from nblib.experiments.cot_semantics import experiment

from .conftest import TINY


@pytest.mark.parametrize("change,match", [
    (dict(n_digits=5), "n_digits=5: must be an even integer"),
    (dict(d_model=18, n_heads=4), "divisible"),
    (dict(warmup_steps=30), "warmup_steps=30"),
    (dict(early_fractions=[0.5, 0.0]), "distinct and increasing"),
    (dict(early_fractions=[0.0, 1.5]), "early_fractions"),
    (dict(headline_format="filler"), "headline_format='filler'"),
    (dict(seeds=1), "seeds=1: out of range"),
    (dict(checkpoints=40), "checkpoints=40"),
    (dict(bogus=1), "unknown parameter"),
])
def test_bad_configs_are_refused_before_any_compute(change, match):
    with pytest.raises(ConfigError, match=match):
        build(cs.CotSemanticsConfig, {**TINY, **change})


def test_jobs_and_formats():
    cfg = build(cs.CotSemanticsConfig, {})
    assert experiment.jobs(cfg)[:2] == [{"family": "base", "seed": 0},
                                        {"family": "base", "seed": 1}]
    assert len(experiment.jobs(cfg)) == 2 * cfg.seeds
    assert cfg.eval_steps == [500, 1000, 1500, 2000]
    no_filler = build(cs.CotSemanticsConfig, {"filler_family": False})
    assert {j["family"] for j in experiment.jobs(no_filler)} == {"base"}
    assert "filler" not in experiment.family_formats("base")
    with pytest.raises(ConfigError, match="family 'large'"):
        experiment.family_formats("large")


def test_both_families_of_a_seed_start_alike_and_read_the_same_problems(cfg):
    a, b = (experiment.make_trainer(cfg, f, 0) for f in ("base", "filler"))
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    xa, xb = a.batches(a.generator)[0], b.batches(b.generator)[0]
    assert torch.equal(xa[:, :cfg.n_digits], xb[:, :cfg.n_digits])


class _Oracle(torch.nn.Module):
    """A 'model' that writes correct running steps and answers with the trace's implied answer
    (running) or the true sum (elsewhere): for checking the decoding and the corruption."""

    def __init__(self, n):
        super().__init__()
        self.n, self.w = n, torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        out = torch.full((*input_ids.shape, 18), -10.0)
        for i, row in enumerate(input_ids.tolist()):
            digits, rest = row[:self.n], row[self.n + 1:]
            if rest and rest[-1] == 14:  # '=': answer what the trace implies
                steps = rest[:-1]
                value = steps[-1] if steps else sum(digits) % 10
            else:  # the next running step from the last written one
                k = len(rest)
                value = ((rest[-1] if rest else 0) + digits[k]) % 10
            out[i, -1, value] = 10.0
        return type("Out", (), {"logits": out})()


def test_corrupted_traces_continue_from_the_shifted_step():
    task = experiment.DigitSumTask(4)
    model = _Oracle(4)
    problems = torch.tensor([[1, 2, 3, 4], [5, 5, 5, 5]])
    own = experiment.write_trace(model, task, problems, "running")
    assert own.tolist() == [trace(p, "running") for p in problems.tolist()]
    bad = experiment.corrupted_trace(model, task, problems, own, "running",
                                     torch.tensor([1, 3]), torch.tensor([2, 9]))
    assert bad.tolist() == [[1, 5, 8, 2], [5, 0, 5, 9]]  # +2 from step 2 on; +9 on the last
    assert experiment.implied(bad, "running") == [(implied_answer(own[0], "running") + 2) % 10,
                                                  (implied_answer(own[1], "running") + 9) % 10]


def test_run_records_every_condition_and_resumes(tiny, cfg):
    _, res = tiny
    a = res.accuracy
    base = a[a.family == "base"]
    assert set(base.condition) == {"direct", "own", "true", "other", "other_family",
                                   "paraphrase", "corrupt", "early"}
    assert set(a[a.family == "filler"].condition) >= {"filler", "direct", "own"}
    assert "other" not in set(a[a.family == "filler"].condition)
    early = base[base.condition == "early"]
    assert sorted(set(early.fraction)) == cfg.early_fractions
    assert len(res.answers) == len(res.answers.drop_duplicates(
        ["family", "seed", "step", "condition", "format", "fraction", "problem"]))
    assert np.array_equal(res.truth, res.problems.sum(1) % 10)
    assert res.steps == [15, 30] and set(a.step) == {15, 30}
    for step in res.steps:
        store = experiment.store_for(cfg, "base", 0)
        assert store.get(step).step == step
    again = cs.run_all(cfg)  # read back from the record
    assert again.accuracy.equals(res.accuracy)


def test_the_other_trace_is_the_next_seeds(tiny, cfg):
    _, res = tiny
    (s0, s1), t = cfg.seed_list, res.steps[0]
    assert np.array_equal(res.traces[("base", s0, t)]["other_trace_pairs"],
                          res.traces[("base", s1, t)]["trace_pairs"])
    assert np.array_equal(res.traces[("base", s1, t)]["other_trace_pairs"],
                          res.traces[("base", s0, t)]["trace_pairs"])
    assert np.array_equal(res.traces[("base", s0, t)]["other_family_trace_running"],
                          res.traces[("filler", s0, t)]["trace_running"])


def test_baselines(cfg):
    base = cs.baselines(cfg)
    assert base["chance"] == 0.1 and 0.1 <= base["constant"] <= 1
