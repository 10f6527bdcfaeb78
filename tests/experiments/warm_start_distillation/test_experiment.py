"""nblib.experiments.warm_start_distillation.experiment: config rules, budgets and compute, the
cache keys, the timed estimate, and a tiny real grid (teacher, scratch, distilled students) that is
recorded and resumes."""

import json

import pytest
import torch
from safetensors import safe_open

from nblib.config import ConfigError, build, replace, unclassified
from nblib.experiments.warm_start_distillation import WarmStartConfig
from nblib.experiments.warm_start_distillation import experiment as ws

TINY = dict(interactive=False, seeds=1, tpp=[4, 6, 8], conditions=["linear:0.5", "constant:0.5"],
            headline="linear:0.5", teacher_tpp=20, context=16, batch_size=16, eval_windows=16,
            curve_points=3, teacher_width=8, student_width=16)


@pytest.fixture(scope="module")
def cfg():
    return build(WarmStartConfig, TINY)


@pytest.mark.parametrize("change, message", [
    (dict(conditions=["linear"]), "KD schedule"),
    (dict(conditions=["linear:0.3", "linear:0.3"], headline="linear:0.3"), "without repeats"),
    (dict(headline="cosine:0.3"), "is not one of conditions"),
    (dict(tpp=[4, 8]), "at least 3 budgets"),
    (dict(tpp=[0.05, 4, 8]), "too few to warm up"),
    (dict(corpus="wikipedia"), "corpus"),
    (dict(student_width=18), "head size"),
])
def test_bad_configs_fail_before_any_training(change, message):
    with pytest.raises(ConfigError, match=message):
        build(WarmStartConfig, {**TINY, **change})


def test_budgets_and_compute(cfg):
    plan = ws.plan(cfg, corpus_tokens=1_000_000)
    n = ws.n_params(ws.shape(cfg, cfg.student_width))
    assert (abs(plan.tokens / n / plan.tpp - 1) < 0.1).all()
    assert (plan["KD steps constant:0.5"] == plan.steps).all()
    assert (plan["KD steps linear:0.5"] < plan.steps).all()
    scratch = ws.scratch_budgets(cfg)
    # scratch's extra budget covers the most expensive distilled run (every step with the teacher)
    assert scratch[-1].total_steps >= plan.steps.max() * (1 + ws.teacher_forward_share(cfg))
    assert 0 < ws.teacher_forward_share(cfg) < 1 / 3  # a smaller model's forward pass only


def test_results_are_keyed_by_what_shapes_them(cfg):
    assert unclassified(WarmStartConfig) == []
    assert ws.teachers_folder(cfg) == ws.teachers_folder(replace(cfg, student_width=32, lr=1e-2,
                                                                 seeds=3, first_seed=4))
    assert ws.teachers_folder(cfg) != ws.teachers_folder(replace(cfg, teacher_tpp=40))
    assert ws.teachers_folder(cfg) != ws.teachers_folder(replace(cfg, weight_decay=0.0))
    assert ws.students_folder(cfg) == ws.students_folder(replace(
        cfg, seeds=3, first_seed=2, conditions=["step:0.3"], headline="step:0.3", tpp=[2, 4, 8]))
    assert ws.students_folder(cfg) != ws.students_folder(replace(cfg, temperature=2.0))
    assert ws.students_folder(cfg) != ws.students_folder(replace(cfg, teacher_tpp=40))  # teacher
    # a job's key carries what the shared folder does not: the largest budget records the curve
    assert ws.student_jobs(cfg)[0]["curve_tpp"] == 8
    assert ws.student_jobs(replace(cfg, tpp=[4, 6, 10]))[0]["curve_tpp"] == 10


def test_seeds_start_at_first_seed(cfg):
    jobs = ws.student_jobs(replace(cfg, seeds=2, first_seed=3))
    assert {job["seed"] for job in jobs} == {3, 4}
    assert len(jobs) == 2 * (1 + 3 * 2)  # scratch + each budget and schedule, per seed


def test_runtime_estimate_is_timed_on_the_real_shapes(cfg, monkeypatch):
    import math

    counts = ws.step_counts(cfg)
    assert sum(counts.values()) == ws.total_steps(cfg) and counts["student_with_teacher"] > 0
    seconds = ws.estimate_seconds(cfg, "cpu", workers=1)  # really timed (the machine may be busy)
    assert 0 < seconds and math.isfinite(seconds)
    timed = []  # (d_model, distilled?) of every throwaway trainer that was timed

    def fake(trainer, steps, warmup):
        distilled = trainer.objective is not ws.next_token_loss
        timed.append((trainer.model.config.hidden_size, distilled))
        return {(8, False): 0.01, (16, False): 0.02, (16, True): 0.03}[timed[-1]]

    monkeypatch.setattr(ws, "seconds_per_step", fake)
    expected = counts["teacher"] * 0.01 + counts["student"] * 0.02 + counts[
        "student_with_teacher"] * 0.03
    assert ws.estimate_seconds(cfg, "cpu", workers=2) == pytest.approx(expected / 2)
    assert sorted(timed) == [(8, False), (16, False), (16, True)]  # teacher, student, distilled


def test_a_student_without_its_teacher_is_a_clear_error(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "teachers_folder", lambda c: tmp_path)
    with pytest.raises(FileNotFoundError, match="run_teachers"):
        ws.load_teacher(cfg, seed=0)


@pytest.fixture(scope="module")
def trained(cfg, tmp_path_factory):
    """The tiny grid trained once, into throwaway folders."""
    folder = tmp_path_factory.mktemp("warm_start")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ws, "teachers_folder", lambda c: folder / "t")
        mp.setattr(ws, "students_folder", lambda c: folder / "s")
        teachers = ws.run_teachers(cfg)
        final, curves = ws.run_students(cfg)
        yield folder, teachers, final, curves


def test_tiny_grid_trains_records_and_resumes(cfg, trained, monkeypatch):
    folder, teachers, final, curves = trained
    assert len(teachers) == 1 and teachers.loss.iloc[0] < 6.3  # uniform ln(512) = 6.24 + slack
    assert set(final.condition) == {"scratch", "linear:0.5", "constant:0.5"}
    assert len(final) == 4 + 2 * 3  # scratch: 3 budgets + the extra one; each KD schedule: 3 runs
    kd = final[final.condition != "scratch"]
    assert (kd.total_flops > kd.student_flops).all()
    scratch = final[final.condition == "scratch"].sort_values("tpp")
    assert (scratch.total_flops == scratch.student_flops).all()
    assert scratch.loss.iloc[-1] < scratch.loss.iloc[0]
    constant = final[final.condition == "constant:0.5"]
    assert (constant.teacher_tokens == constant.tokens).all()  # the teacher reads every batch
    assert set(curves.condition) == set(final.condition) and curves.loss.notna().all()
    assert len(list((folder / "s").glob("*.json"))) == 1 + 2 * 3
    monkeypatch.setattr(ws, "teachers_folder", lambda c: folder / "t")
    monkeypatch.setattr(ws, "students_folder", lambda c: folder / "s")
    monkeypatch.setattr(ws, "train_student",
                        lambda *a, **k: pytest.fail("a recorded run was retrained"))
    again, _ = ws.run_students(cfg)
    assert again.equals(final)


def test_the_interactive_step_shows_the_recorded_runs_against_scratch(cfg, trained, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nblib.experiments.warm_start_distillation import views

    folder, *_ = trained
    monkeypatch.setattr(ws, "teachers_folder", lambda c: folder / "t")
    monkeypatch.setattr(ws, "students_folder", lambda c: folder / "s")
    table = views.explore(replace(cfg, conditions=["constant:0.5"], headline="constant:0.5"))
    plt.close("all")
    assert set(table.condition) == {"constant:0.5"} and len(table) == 3
    assert table.delta.notna().all()


def test_the_teachers_seed_is_apart_from_the_students(cfg, tmp_path, monkeypatch):
    seeds, real = [], ws.build_lm
    monkeypatch.setattr(ws, "build_lm", lambda s, seed=0: seeds.append(seed) or real(s, seed))
    monkeypatch.setattr(ws, "teachers_folder", lambda c: tmp_path)
    ws.train_teacher(cfg, {"seed": 1})
    assert ws.TEACHER_SEED_OFFSET + 1 in seeds and 1 not in seeds
    assert (tmp_path / "teacher-seed1.safetensors").is_file()


def test_a_saved_teacher_loads_back_bit_identical(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "teachers_folder", lambda c: tmp_path)
    teacher = ws.build_lm(ws.shape(cfg, cfg.teacher_width), seed=123)  # not load_teacher's init
    ws.save_teacher(cfg, 0, teacher)
    saved, loaded = teacher.state_dict(), ws.load_teacher(cfg, 0).state_dict()
    fresh = ws.build_lm(ws.shape(cfg, cfg.teacher_width)).state_dict()
    assert any(not torch.equal(fresh[k], saved[k]) for k in saved)  # so the load did something
    assert saved.keys() == loaded.keys()
    for k in saved:
        assert saved[k].dtype == loaded[k].dtype and torch.equal(saved[k], loaded[k]), k


def test_a_tied_teacher_is_stored_once_and_loads_tied(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "teachers_folder", lambda c: tmp_path)
    teacher = ws.build_lm(ws.shape(cfg, cfg.teacher_width), seed=123)
    assert teacher.lm_head.weight is teacher.get_input_embeddings().weight  # tied: one tensor
    with safe_open(ws.save_teacher(cfg, 0, teacher), framework="pt") as f:
        assert len(set(f.keys()) & {"lm_head.weight", "model.embed_tokens.weight"}) == 1
    loaded = ws.load_teacher(cfg, 0)
    assert loaded.lm_head.weight is loaded.get_input_embeddings().weight
    assert torch.equal(loaded.lm_head.weight, teacher.lm_head.weight)


def test_an_old_pickled_teacher_is_never_read_but_retrained(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "teachers_folder", lambda c: tmp_path)
    # an older cache: the teacher's recorded result and its torch.save file (here not even valid)
    (tmp_path / "teacher-seed0.pt").write_bytes(b"\x80 unpickling this would fail")
    (tmp_path / "seed=0.json").write_text(json.dumps(
        {"job": {"seed": 0}, "result": {"loss": 1.0, "path": "teacher-seed0.pt"}, "seconds": 1}))
    teachers = ws.run_teachers(cfg)
    assert teachers.loss.iloc[0] != 1.0  # trained again, not read back
    assert ws.load_teacher(cfg, 0).lm_head.weight.isfinite().all()
    assert (tmp_path / "teacher-seed0.pt").read_bytes().startswith(b"\x80 unpickling")
