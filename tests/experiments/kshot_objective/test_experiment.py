"""nblib.experiments.kshot_objective.experiment: config rules, the two tasks' problems and grading,
sampling through the one sampler, and a tiny real grid that trains, evaluates, records and
resumes."""

import dataclasses

import numpy as np
import pytest
import torch

from nblib.config import ConfigError, build, replace
from nblib.data.tasks import creativity
from nblib.experiments import kshot_objective as ko
from nblib.experiments.kshot_objective import experiment as ex
from nblib.models.lm import build_lm, shape_of

from .conftest import TINY


@pytest.mark.parametrize("change, message", [
    (dict(ks=[4, 16]), "need k = 1"),
    (dict(ks=[1, 1]), "no repeats"),
    (dict(pass_ks=[1, 4, 16]), "every k ≤ samples"),
    (dict(pass_ks=[1, 2, 8]), "its own k"),
    (dict(tasks=["modular", "circle"]), "tasks="),
    (dict(tasks=["sibling", "modular"]), "must be 'modular'"),
    (dict(label_smoothing=[0.1, 0.1]), "no repeats"),
    (dict(label_smoothing=[1.0]), "label_smoothing"),
    (dict(sibling_train=5 * 4 * 4), "nothing is left to discover"),
    (dict(warmup_steps=30), "warmup_steps=30"),
    (dict(theory_ks=[2, 4]), "theory_ks"),
    (dict(d_model=18, n_heads=4), "divisible"),
    (dict(final_lr_ratio=1.5), "final_lr_ratio=1.5"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(ko.KshotConfig, {**TINY, **change})


def test_config_starts_with_the_base_fields_and_every_field_says_what_it_affects():
    names = [f.name for f in dataclasses.fields(ko.KshotConfig)]
    assert names[:5] == ["interactive", "seeds", "first_seed", "device", "workers"]
    from nblib.config import unclassified

    assert unclassified(ko.KshotConfig) == []


def test_modular_problems_are_held_out_pairs_with_one_answer(cfg):
    probs = ko.problems(cfg, "modular", seed=0)
    train_prompts = {tuple(r) for r in probs.sequences[:, :4].tolist()}
    assert probs.prompts.shape == (cfg.eval_problems, 4) and probs.answer_len == 1
    assert not {tuple(r) for r in probs.prompts.tolist()} & train_prompts
    answers = (probs.prompts[:, 0] + probs.prompts[:, 2]) % cfg.modulus
    # (P, 2, 1): the right answer, then a wrong one
    samples = torch.stack([answers, (answers + 1) % cfg.modulus], 1)[..., None]
    graded = probs.grade(samples)
    assert graded["correct"][:, 0].all() and not graded["correct"][:, 1].any()


def test_sibling_grading_tells_new_seen_and_invalid_apart(cfg):
    probs = ko.problems(cfg, "sibling", seed=0)
    data = creativity.split(creativity.Sibling(cfg.n_parents, cfg.n_children), cfg.sibling_train,
                            seed=0, hash_lengths=(0,))
    vocab, seen = data.vocab, data.train_set
    b1 = vocab.decode(probs.prompts[0].tolist())[1]
    parent = next(a for a, b, _ in seen if b == b1)
    p, n = int(parent[1:]), cfg.n_children
    kids = [f"b2_{j}" for j in range(p * n, (p + 1) * n)]
    old = next(b2 for a, b, b2 in seen if b == b1)
    new = next(k for k in kids if (parent, b1, k) not in seen)
    stranger = f"b2_{(p + 1) % cfg.n_parents * n}"
    rows = [[old, parent, creativity.EOS], [new, parent, creativity.EOS],
            [stranger, parent, creativity.EOS], [new, parent, creativity.PAD]]
    samples = torch.zeros(len(probs.prompts), 4, 3, dtype=torch.long)
    samples[0] = torch.tensor([vocab.encode(r) for r in rows])
    graded = probs.grade(samples)
    assert graded["valid"][0].tolist() == [True, True, False, False]
    assert graded["correct"][0].tolist() == [False, True, False, False]
    assert graded["coverage"][0] == pytest.approx(2 / cfg.n_children)
    assert 0 < graded["novel_coverage"][0] <= 1


def test_sampling_follows_the_model_and_is_seeded(cfg):
    probs = ko.problems(cfg, "modular", seed=0)
    model = build_lm(shape_of(cfg, vocab_size=probs.vocab_size, context=ex.CONTEXT), seed=0)

    def draw(t):
        return ex.sample_answers(model, probs.prompts, 400, 1, t, torch.Generator().manual_seed(1))

    a, b = draw(1.0), draw(1.0)
    assert a.shape == (cfg.eval_problems, 400, 1) and torch.equal(a, b)
    dist = ex.next_token_probs(model, probs.prompts)  # (P, vocab)
    freq = torch.nn.functional.one_hot(a[..., 0], probs.vocab_size).float().mean(1)
    assert (freq - dist).abs().max() < 5 * np.sqrt(0.25 / 400)  # samples follow the distribution
    cold = draw(0.01)[:, :50]
    assert (cold[..., 0] == dist.argmax(-1, keepdim=True)).float().mean() > 0.99


def test_sampling_draws_what_the_old_multinomial_loop_drew(cfg):
    """The one sampler reproduces notebook 04's former sampler (token by token, softmax on the CPU,
    torch.multinomial with the CPU generator) sample for sample."""
    probs = ko.problems(cfg, "sibling", seed=0)
    model = build_lm(shape_of(cfg, vocab_size=probs.vocab_size, context=ex.CONTEXT), seed=0)
    model.eval()
    got = ex.sample_answers(model, probs.prompts, 5, 3, 1.5, torch.Generator().manual_seed(7))
    g, x = torch.Generator().manual_seed(7), probs.prompts.repeat_interleave(5, 0)
    with torch.no_grad():
        for _ in range(3):
            logits = model(input_ids=x).logits[:, -1].float() / 1.5
            x = torch.cat([x, torch.multinomial(torch.softmax(logits, -1), 1, generator=g)], 1)
    assert torch.equal(got, x[:, 2:].view(len(probs.prompts), 5, 3))


def test_final_lr_ratio_is_where_the_cosine_ends(cfg):
    probs = ko.problems(cfg, "modular", seed=0)
    for ratio in (0.1, 0.5):
        _, trainer = ex.train_model(replace(cfg, final_lr_ratio=ratio), probs, 1, seed=0)
        assert trainer.cfg.schedule(cfg.steps) == pytest.approx(ratio)
        assert trainer.history[-1]["lr"] == pytest.approx(cfg.lr * ratio, rel=0.1)


def test_runs_are_keyed_by_what_shapes_the_results(cfg):
    same = replace(cfg, seeds=3, first_seed=2, ks=[1, 8], theory_zipf=[2.0], workers=2)
    assert ex.runs_folder(cfg) == ex.runs_folder(same)
    for change in (dict(steps=40), dict(samples=16), dict(final_lr_ratio=0.2)):
        assert ex.runs_folder(cfg) != ex.runs_folder(replace(cfg, **change))


def test_jobs_follow_the_seed_list(cfg):
    seeds = {j["seed"] for j in ko.jobs(replace(cfg, seeds=2, first_seed=3))}
    assert seeds == {3, 4}


def test_tiny_grid_trains_evaluates_records_and_resumes(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "runs_folder", lambda c: tmp_path)
    curves, per_problem, trajectory, seconds = ko.run_all(cfg, workers=1)
    n_jobs = len(cfg.tasks) * len(cfg.ks) * cfg.seeds  # k-shot models
    n_smoothed = len(cfg.label_smoothing) * cfg.seeds  # label-smoothed CE, modular only
    assert len(list(tmp_path.glob("*.json"))) == n_jobs + n_smoothed
    assert len(seconds) == n_jobs + n_smoothed
    # every modular model, exactly at every checkpoint, under every temperature and mixture
    n_rows = len(ex.FRONTIER_TEMPERATURES) + len(ex.FRONTIER_MIXTURES)
    n_modular = len(cfg.ks) * cfg.seeds + n_smoothed
    assert len(trajectory) == n_modular * len(ko.eval_steps(cfg)) * n_rows * len(cfg.pass_ks)
    assert set(trajectory.task) == {"modular"} and trajectory["pass"].between(0, 1).all()
    assert set(trajectory.model) == {"k=1", "k=4", *(f"LS {a:g}" for a in cfg.label_smoothing)}
    t1 = curves[curves.temperature == 1.0]
    assert len(t1) == n_jobs * len(cfg.pass_ks) and curves["pass"].between(0, 1).all()
    # the extra temperature is sampled for the k = 1 models only
    assert len(curves[curves.temperature == 2.0]) == len(cfg.tasks) * len(cfg.pass_ks)
    assert np.isfinite(curves.final_loss).all()
    assert len(per_problem) == n_jobs * cfg.eval_problems and per_problem.top1.between(0, 1).all()
    modular = t1[(t1.task == "modular") & (t1.pass_k == 1)]
    assert np.isfinite(modular.pass_exact).all()
    assert t1[t1.task == "sibling"].pass_exact.isna().all()
    assert per_problem[per_problem.task == "modular"].top1_correct.notna().all()
    assert per_problem[per_problem.task == "modular"].mirrored.notna().all()
    again, _, traj_again, seconds_again = ko.run_all(cfg, workers=1)  # loaded, not retrained
    assert again.equals(curves) and traj_again.equals(trajectory) and seconds_again == seconds


def test_label_smoothing_is_a_cross_entropy_baseline_only():
    assert ex.objective(4).keywords == {"k": 4}
    assert ex.objective(1, 0.2).keywords == {"smoothing": 0.2}
    with pytest.raises(ValueError, match="cross-entropy"):
        ex.objective(4, 0.2)


def test_modular_chance_and_mirror_flags(cfg):
    probs = ko.problems(cfg, "modular", seed=0)
    assert np.allclose(probs.chance, 1 / cfg.modulus)
    trained = {tuple(r) for r in probs.sequences[:, [0, 2]].tolist()}
    flags = [(b, a) in trained for a, _, b, _ in probs.prompts.tolist()]
    assert probs.mirrored.tolist() == flags
    sib = ko.problems(cfg, "sibling", seed=0)
    assert sib.mirrored is None and (0 < sib.chance).all() and (sib.chance <= 1).all()


def test_runtime_estimate_is_timed_and_positive(cfg):
    seconds = ko.estimate_seconds(cfg, torch.device("cpu"), 1)
    assert 0 < seconds < 600
    assert ko.estimate_seconds(replace(cfg, steps=300), torch.device("cpu"), 1) > seconds
