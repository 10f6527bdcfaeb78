"""nblib.experiments.kshot: config rules, the two tasks' problems and grading, sampling, and a
tiny real grid that trains, evaluates, records and resumes."""

import numpy as np
import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.data.tasks import creativity
from nblib.experiments import kshot as ks

TINY = dict(interactive=False, seeds=1, ks=[1, 4], modulus=7, n_children=4, sibling_train=30, d_model=16,
            n_heads=2, steps=30, warmup_steps=5, batch_size=16, eval_problems=6, samples=8, pass_ks=[1, 2, 8],
            ntp_temperatures=[2.0], theory_zipf=[1.0], theory_ks=[1, 4], workers=1)


@pytest.fixture(scope="module")
def cfg():
    return build(ks.KshotConfig, TINY)


@pytest.mark.parametrize("change, message", [
    (dict(ks=[4, 16]), "need k = 1"),
    (dict(ks=[1, 1]), "no repeats"),
    (dict(pass_ks=[1, 16]), "every k ≤ samples"),
    (dict(pass_ks=[2, 4]), "needs k = 1"),
    (dict(tasks=["modular", "circle"]), "tasks="),
    (dict(sibling_train=5 * 4 * 4), "nothing is left to discover"),
    (dict(warmup_steps=30), "warmup_steps=30"),
    (dict(theory_ks=[2, 4]), "theory_ks"),
    (dict(d_model=18, n_heads=4), "divisible"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(ks.KshotConfig, {**TINY, **change})


def test_modular_problems_are_held_out_pairs_with_one_answer(cfg):
    probs = ks.problems(cfg, "modular", seed=0)
    train_prompts = {tuple(r) for r in probs.sequences[:, :4].tolist()}
    assert probs.prompts.shape == (cfg.eval_problems, 4) and probs.answer_len == 1
    assert not {tuple(r) for r in probs.prompts.tolist()} & train_prompts
    answers = (probs.prompts[:, 0] + probs.prompts[:, 2]) % cfg.modulus
    samples = torch.stack([answers, (answers + 1) % cfg.modulus], 1)[..., None]  # (P, 2, 1): right, wrong
    graded = probs.grade(samples)
    assert graded["correct"][:, 0].all() and not graded["correct"][:, 1].any()


def test_sibling_grading_tells_new_seen_and_invalid_apart(cfg):
    probs = ks.problems(cfg, "sibling", seed=0)
    data = creativity.split(creativity.Sibling(cfg.n_parents, cfg.n_children), cfg.sibling_train, seed=0,
                            hash_lengths=(0,))
    vocab, seen = data.vocab, data.train_set
    b1 = vocab.decode(probs.prompts[0].tolist())[1]
    parent = next(a for a, b, _ in seen if b == b1)
    kids = [f"b2_{j}" for j in range(int(parent[1:]) * cfg.n_children, (int(parent[1:]) + 1) * cfg.n_children)]
    old = next(b2 for a, b, b2 in seen if b == b1)
    new = next(k for k in kids if (parent, b1, k) not in seen)
    stranger = f"b2_{(int(parent[1:]) + 1) % cfg.n_parents * cfg.n_children}"
    rows = [[old, parent, creativity.EOS], [new, parent, creativity.EOS], [stranger, parent, creativity.EOS],
            [new, parent, creativity.PAD]]
    samples = torch.zeros(len(probs.prompts), 4, 3, dtype=torch.long)
    samples[0] = torch.tensor([vocab.encode(r) for r in rows])
    graded = probs.grade(samples)
    assert graded["valid"][0].tolist() == [True, True, False, False]
    assert graded["correct"][0].tolist() == [False, True, False, False]
    assert graded["coverage"][0] == pytest.approx(2 / cfg.n_children)
    assert 0 < graded["novel_coverage"][0] <= 1


def test_sampling_follows_the_model_and_is_seeded(cfg):
    probs = ks.problems(cfg, "modular", seed=0)
    model = ks.build_lm(ks.shape_of(cfg, probs.vocab_size), seed=0)
    draw = lambda t: ks.sample_answers(model, probs.prompts, 400, 1, t, torch.Generator().manual_seed(1))  # noqa: E731
    a, b = draw(1.0), draw(1.0)
    assert a.shape == (cfg.eval_problems, 400, 1) and torch.equal(a, b)
    dist = ks.next_token_probs(model, probs.prompts)  # (P, vocab)
    freq = torch.nn.functional.one_hot(a[..., 0], probs.vocab_size).float().mean(1)
    assert (freq - dist).abs().max() < 5 * np.sqrt(0.25 / 400)  # samples follow the distribution
    cold = ks.sample_answers(model, probs.prompts, 50, 1, 0.01, torch.Generator().manual_seed(1))
    assert (cold[..., 0] == dist.argmax(-1, keepdim=True)).float().mean() > 0.99


def test_runs_are_keyed_by_what_shapes_the_results(cfg):
    assert ks.runs_folder(cfg) == ks.runs_folder(replace(cfg, seeds=3, theory_zipf=[2.0], workers=2))
    assert ks.runs_folder(cfg) != ks.runs_folder(replace(cfg, steps=40))
    assert ks.runs_folder(cfg) != ks.runs_folder(replace(cfg, samples=16))


def test_tiny_grid_trains_evaluates_records_and_resumes(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ks, "runs_folder", lambda c: tmp_path)
    curves, per_problem, seconds = ks.run_all(cfg, workers=1)
    n_jobs = len(cfg.tasks) * len(cfg.ks) * cfg.seeds
    assert len(list(tmp_path.glob("*.json"))) == n_jobs and len(seconds) == n_jobs
    t1 = curves[curves.temperature == 1.0]
    assert len(t1) == n_jobs * len(cfg.pass_ks) and curves["pass"].between(0, 1).all()
    assert len(curves[curves.temperature == 2.0]) == len(cfg.tasks) * len(cfg.pass_ks)  # the k = 1 models only
    assert np.isfinite(curves.final_loss).all()
    assert len(per_problem) == n_jobs * cfg.eval_problems and per_problem.top1.between(0, 1).all()
    modular = t1[(t1.task == "modular") & (t1.pass_k == 1)]
    assert np.isfinite(modular.pass_exact).all() and t1[t1.task == "sibling"].pass_exact.isna().all()
    assert per_problem[per_problem.task == "modular"].top1_correct.notna().all()
    again, per_again, seconds_again = ks.run_all(cfg, workers=1)  # loaded, not retrained
    assert again.equals(curves) and seconds_again == seconds
