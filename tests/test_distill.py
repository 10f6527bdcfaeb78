"""nblib.train.distill: the KD weight schedules, and the
objective against its formula in a Trainer."""

import pytest
import torch

from nblib.config import ConfigError
from nblib.models.lm import LMShape, build_lm
from nblib.train.distill import Distillation, KDSchedule
from nblib.train.objectives import distillation_loss, next_token_loss
from nblib.train.trainer import TrainConfig, Trainer


@pytest.mark.parametrize("text, at_0, at_mid, after", [
    ("linear:0.5", 1.0, 0.5, 0.0),  # step 25 of 100 is halfway through a 50-step phase
    ("cosine:0.5", 1.0, 0.5, 0.0),
    ("step:0.5", 1.0, 1.0, 0.0),
    ("constant:0.3", 0.3, 0.3, 0.3),
])
def test_schedules_start_fall_and_end_where_they_say(text, at_0, at_mid, after):
    s = KDSchedule.parse(text)
    assert str(s) == text
    assert s.alpha(0, 100) == pytest.approx(at_0)
    assert s.alpha(25, 100) == pytest.approx(at_mid)
    assert s.alpha(50, 100) == pytest.approx(after) and s.alpha(99, 100) == pytest.approx(after)


def test_kd_steps_count_the_steps_with_the_teacher_on():
    assert KDSchedule.parse("linear:0.3").last_kd_step(100) == 30
    assert KDSchedule.parse("step:0.3").last_kd_step(100) == 30
    assert KDSchedule.parse("constant:0.5").last_kd_step(100) == 100


@pytest.mark.parametrize("text", ["linear", "linear:", "linear:abc", "spline:0.3", "linear:0",
                                  "linear:1.5"])
def test_malformed_schedules_are_refused(text):
    with pytest.raises(ConfigError, match="KD schedule"):
        KDSchedule.parse(text)


def _models():
    shape = LMShape(vocab_size=40, d_model=8, n_layers=1, n_heads=2, context=8)
    return build_lm(shape, seed=1), build_lm(shape, seed=2)


def test_objective_is_the_formula_and_skips_the_teacher_after_the_kd_phase():
    teacher, student = _models()
    inputs = torch.randint(0, 40, (3, 8), generator=torch.Generator().manual_seed(0))
    targets = torch.randint(0, 40, (3, 8), generator=torch.Generator().manual_seed(1))
    objective = Distillation(teacher, KDSchedule.parse("linear:0.5"), total_steps=10,
                             temperature=2.0)
    logits = student(input_ids=inputs).logits
    with torch.no_grad():
        teacher_logits = teacher(input_ids=inputs).logits
    expected = distillation_loss(
        logits, teacher_logits, targets, alpha=0.6, temperature=2.0
    )  # step 2 of 10
    assert objective(logits, targets, inputs=inputs, step=2).item() == pytest.approx(
        expected.item(), rel=1e-6
    )
    assert objective.teacher_tokens == 24
    # alpha = 0: plain NTP, no teacher pass
    after = objective(logits, targets, inputs=inputs, step=5)
    assert after.item() == pytest.approx(next_token_loss(logits, targets).item(), rel=1e-6)
    assert objective.teacher_tokens == 24
    assert not any(p.requires_grad for p in teacher.parameters())


def test_trainer_passes_inputs_and_step_and_the_teacher_stays_frozen():
    teacher, student = _models()
    before = [p.clone() for p in teacher.parameters()]
    tokens = torch.randint(0, 40, (500,), generator=torch.Generator().manual_seed(0))

    def batches(g):
        starts = torch.randint(0, 490, (4,), generator=g)
        window = tokens[starts[:, None] + torch.arange(9)]  # (4, 9)
        return window[:, :-1], window[:, 1:]

    objective = Distillation(teacher, KDSchedule.parse("step:0.5"), total_steps=6)
    Trainer(student, TrainConfig(lr=1e-2), batches, objective=objective).fit(6)
    assert objective.teacher_tokens == 3 * 4 * 8  # the first half of 6 steps, 32 tokens each
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))
