"""nblib.widgets: a ConfigForm built from a config dataclass, with real ipywidgets objects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import ipywidgets as W
import pytest

from nblib.config import ConfigError, param
from nblib.widgets import ConfigForm


@dataclass(frozen=True)
class FormCfg:
    model: str = param("mlp", "which network", choices=("mlp", "transformer"))
    norm: Literal["layer", "rms"] = param("rms", "normalisation")
    tied: bool = param(False, "tie embeddings")
    steps: int = param(10, "optimizer steps", low=1, high=1000)
    lr: float = param(1e-3, "peak learning rate", low=1e-6, high=1.0)
    dropout: float = param(0.1, "dropout probability", low=0.0, high=0.5)
    widths: list[int] = param([4, 8], "layer widths", item_low=1, item_high=64)
    budget: int | None = param(None, "token budget (None: unlimited)", low=0)
    label: str = param("run", "a free-text label")

    def check(self) -> None:
        if self.model == "transformer" and self.steps < 5:
            raise ConfigError(f"parameter steps={self.steps}: a transformer needs at least 5 steps")


class Calls(list):
    def __call__(self, cfg):
        self.append(cfg)
        return f"ran {cfg.model}"


def test_widget_types_per_field():
    form = ConfigForm(FormCfg(), on_run=Calls())
    c = form.controls
    assert type(c["model"]) is W.Dropdown and list(c["model"].options) == ["mlp", "transformer"]
    assert type(c["norm"]) is W.Dropdown and list(c["norm"].options) == ["layer", "rms"]
    assert c["norm"].value == "rms"
    assert type(c["tied"]) is W.Checkbox and c["tied"].value is False
    assert type(c["steps"]) is W.BoundedIntText
    assert (c["steps"].min, c["steps"].max, c["steps"].value) == (1, 1000, 10)
    assert type(c["lr"]) is W.FloatLogSlider
    assert (c["lr"].min, c["lr"].max, c["lr"].base) == (-6, 0, 10)
    assert c["lr"].value == pytest.approx(1e-3)
    assert type(c["dropout"]) is W.BoundedFloatText and (c["dropout"].min, c["dropout"].max) == (0.0, 0.5)
    assert type(c["widths"]) is W.Text and c["widths"].value == "[4, 8]"
    assert type(c["budget"]) is W.Text and c["budget"].value == "None"
    assert type(c["label"]) is W.Text and c["label"].value == "run"
    assert c["lr"].description == "lr" and c["lr"].tooltip == "peak learning rate"
    # the form shows the controls, a Run button and an output area
    grid, button, output = form.children
    assert list(grid.children) == list(c.values())
    assert button is form.button and button.description == "Run"
    assert output is form.output and isinstance(output, W.Output)


def test_fields_subset():
    form = ConfigForm(FormCfg(), on_run=Calls(), fields=["lr", "steps"], button="Train")
    assert list(form.controls) == ["steps", "lr"]  # dataclass order
    assert form.button.description == "Train"
    form.controls["lr"].value = 0.01
    cfg = form.config()
    assert cfg.lr == pytest.approx(0.01) and cfg.model == "mlp" and cfg.widths == [4, 8]


def test_config_reflects_widget_values():
    form = ConfigForm(FormCfg(), on_run=Calls())
    c = form.controls
    c["model"].value = "transformer"
    c["norm"].value = "layer"
    c["tied"].value = True
    c["steps"].value = 50
    c["lr"].value = 1e-2
    c["dropout"].value = 0.25
    c["widths"].value = "[16, 32, 64]"
    c["budget"].value = "1000"
    c["label"].value = "my run"
    cfg = form.config()
    assert isinstance(cfg, FormCfg)
    assert (cfg.model, cfg.norm, cfg.tied, cfg.steps) == ("transformer", "layer", True, 50)
    assert math.isclose(cfg.lr, 1e-2, rel_tol=1e-9) and cfg.dropout == 0.25
    assert cfg.widths == [16, 32, 64] and cfg.budget == 1000 and cfg.label == "my run"
    assert form.cfg == FormCfg()  # the form edits a copy


def test_run_calls_on_run_with_a_validated_config():
    calls = Calls()
    form = ConfigForm(FormCfg(), on_run=calls)
    form.controls["steps"].value = 20
    assert form.run() == "ran mlp"
    assert len(calls) == 1 and calls[0] == FormCfg(steps=20)


def test_button_click_runs_and_disables_the_button_meanwhile():
    states = []
    form = None

    def on_run(cfg):
        states.append((cfg.steps, form.button.disabled))

    form = ConfigForm(FormCfg(), on_run=on_run)
    form.controls["steps"].value = 7
    form.button.click()  # the real ipywidgets click path: on_click handlers
    assert states == [(7, True)]
    assert form.button.disabled is False


def test_button_is_enabled_again_after_on_run_raises():
    def on_run(cfg):
        raise RuntimeError("training diverged")

    form = ConfigForm(FormCfg(), on_run=on_run)
    with pytest.raises(RuntimeError, match="diverged"):
        form.run()
    assert form.button.disabled is False


@pytest.mark.parametrize("field, text, expected", [
    ("widths", "[4, 100]", "widths=[4, 100]: element 100 out of range"),
    ("widths", "four", "widths='four': expected list[int]"),
    ("budget", "-5", "budget=-5: out of range"),
])
def test_invalid_value_shows_an_error_and_does_not_run(capsys, field, text, expected):
    calls = Calls()
    form = ConfigForm(FormCfg(), on_run=calls)
    form.controls[field].value = text
    assert form.run() is None
    assert calls == []
    # printed inside `with form.output:`; in a kernel the Output widget captures it, here stdout does
    out = capsys.readouterr().out
    assert "not run: " in out and expected in out
    assert form.button.disabled is False


def test_cross_field_rule_blocks_the_run(capsys):
    calls = Calls()
    form = ConfigForm(FormCfg(), on_run=calls)
    form.controls["model"].value = "transformer"
    form.controls["steps"].value = 3
    form.button.click()
    assert calls == []
    assert "not run: parameter steps=3: a transformer needs at least 5 steps" in capsys.readouterr().out


def test_bounded_widgets_clip_what_the_config_would_reject():
    form = ConfigForm(FormCfg(), on_run=Calls())
    form.controls["steps"].value = 5000
    form.controls["dropout"].value = 0.9
    assert form.controls["steps"].value == 1000 and form.controls["dropout"].value == 0.5
    cfg = form.config()
    assert cfg.steps == 1000 and cfg.dropout == 0.5
