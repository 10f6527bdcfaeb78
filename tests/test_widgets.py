"""nblib.widgets: a ConfigForm built from a config dataclass and a CheckpointPicker over a
CheckpointStore, with real ipywidgets objects."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from typing import Literal

import ipywidgets as W
import pytest

from nblib.config import ConfigError, param
from nblib.widgets import CheckpointPicker, ConfigForm


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
    # numbers are typed exactly into unbounded boxes: no slider rounding, no clamping
    assert type(c["steps"]) is W.IntText and c["steps"].value == 10
    assert type(c["lr"]) is W.FloatText and c["lr"].value == 1e-3
    assert type(c["dropout"]) is W.FloatText and c["dropout"].value == 0.1
    assert type(c["widths"]) is W.Text and c["widths"].value == "[4, 8]"
    assert type(c["budget"]) is W.Text and c["budget"].value == "None"
    assert type(c["label"]) is W.Text and c["label"].value == "run"
    assert c["lr"].description == "lr" and c["lr"].tooltip == "peak learning rate"
    # the form shows each control with its help text under it, a Run button with a status line,
    # and an output area
    grid, bar, output = form.children
    assert [cell.children[0] for cell in grid.children] == list(c.values())
    helps = [cell.children[1].value for cell in grid.children]
    assert "peak learning rate · allowed 1e-06 … 1" in helps[list(c).index("lr")]
    assert "optimizer steps · allowed 1 … 1,000" in helps[list(c).index("steps")]
    assert list(bar.children) == [form.button, form.status] and form.button.description == "Run"
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


def test_a_failing_run_says_so_in_one_line_and_enables_the_button_again(capsys):
    def on_run(cfg):
        raise RuntimeError("training diverged\nat step 3")

    form = ConfigForm(FormCfg(), on_run=on_run)
    assert form.run() is None  # shown, not raised: a button has no caller to raise to
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "failed:" in line]
    assert said == ["Run failed: RuntimeError: training diverged"]
    assert "IPython.core.display.HTML" in out  # the folded traceback (an HTML <details> block)
    assert form.button.disabled is False and "failed after" in form.status.value


def test_status_line_says_how_long_a_run_took():
    form = ConfigForm(FormCfg(), on_run=Calls())
    form.run()
    assert "done in" in form.status.value


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
    # printed inside `with form.output:`; in a kernel the Output widget captures it, here stdout
    # does
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
    assert (
        "not run: parameter steps=3: a transformer needs at least 5 steps"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize("field, value, expected", [
    ("steps", 5000, "parameter steps=5000: out of range, allowed"),
    ("steps", -3, "parameter steps=-3: out of range, allowed"),
    ("dropout", 0.9, "parameter dropout=0.9: out of range, allowed"),
    ("lr", 3.0, "parameter lr=3.0: out of range, allowed"),
])
def test_out_of_range_numbers_are_rejected_never_clamped(capsys, field, value, expected):
    calls = Calls()
    form = ConfigForm(FormCfg(), on_run=calls)
    form.controls[field].value = value
    assert form.controls[field].value == value  # the widget keeps what was typed
    assert form.run() is None and calls == []
    assert expected in capsys.readouterr().out


def test_a_typed_learning_rate_is_used_exactly():
    calls = Calls()
    form = ConfigForm(FormCfg(), on_run=calls)
    form.controls["lr"].value = 3e-3
    form.run()
    assert calls[0].lr == 3e-3  # exactly, not a slider's 10^-2.5


# --- CheckpointPicker
# -------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    """Main steps 0, 1, 2, 4, 8 and decay-branch steps 4, 8 of one tiny Llama."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from nblib.train.checkpoints import CheckpointStore

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    store = CheckpointStore(tmp_path / "ckpts")
    for step in (0, 1, 2, 4, 8):
        store.save(model, step, {"tokens": 512 * step, "train_loss": 4.0 - step / 10})
    for step in (8, 4):
        store.save(model, step, {"tokens": 512 * step, "val_loss": 3.25}, branch="decay")
    return store


def test_picker_offers_exactly_the_stored_steps(store):
    picker = CheckpointPicker(store)
    assert picker.branch.options == (("main", ""), ("decay", "decay")) and picker.branch.value == ""
    assert type(picker.step) is W.SelectionSlider and list(picker.step.options) == [0, 1, 2, 4, 8]
    assert picker.step.value == 8 and picker.value == store.get(8)  # the latest by default
    assert "step-000008" in picker.info.value and "tokens 4,096" in picker.info.value
    assert "train_loss 3.2000" in picker.info.value
    picker.step.value = 2
    assert picker.value == store.get(2) and "tokens 1,024" in picker.info.value
    assert picker.button.description == "Load" and not picker.button.disabled
    assert list(picker.children) == [picker.branch, picker.step, picker.info, picker.button,
                                     picker.output]


def test_changing_branch_changes_the_steps(store):
    picker = CheckpointPicker(store)
    picker.step.value = 4
    picker.branch.value = "decay"
    assert list(picker.step.options) == [4, 8] and picker.step.value == 4  # kept: it exists here
    assert picker.value == store.get(4, "decay") and picker.value.name == "step-000004-decay"
    assert "val_loss 3.2500" in picker.info.value
    picker.step.value = 8
    picker.branch.value = ""
    assert list(picker.step.options) == [0, 1, 2, 4, 8] and picker.value == store.get(8)


def test_button_calls_on_pick_with_the_selected_checkpoint(store):
    picked = []

    def on_pick(ckpt):
        picked.append((ckpt, picker.button.disabled))
        return store.load(ckpt.step, ckpt.branch)

    picker = CheckpointPicker(store, on_pick=on_pick, button="Open")
    picker.branch.value, picker.step.value = "decay", 4
    picker.button.click()  # the real ipywidgets click path: on_click handlers
    assert picked == [(store.get(4, "decay"), True)] and not picker.button.disabled
    assert not picker.pick().training  # pick() returns what on_pick returns: the loaded model
    assert CheckpointPicker(store).pick() == store.get(8)  # no on_pick: the checkpoint itself


def test_on_pick_errors_are_shown_not_raised(store, capsys):
    def on_pick(ckpt):
        raise ConfigError(f"cannot use {ckpt.name}")

    picker = CheckpointPicker(store, on_pick=on_pick)
    picker.button.click()
    # printed inside `with picker.output:`; in a kernel the Output widget captures it
    assert "not loaded: cannot use step-000008" in capsys.readouterr().out
    assert not picker.button.disabled


def test_results_of_a_checkpoint_gone_from_the_store_are_cleared(tmp_path, store, capsys):
    from nblib.train.checkpoints import CheckpointStore

    picker = CheckpointPicker(store, on_pick=lambda ckpt: print(f"probed {ckpt.name}"))
    picker.pick()
    picker.refresh()  # the same store, unchanged: the results stay
    assert picker._shown == store.get(8)
    picker.store = CheckpointStore(tmp_path / "retrained")  # a new Pretrain wrote elsewhere
    picker.refresh()
    assert picker._shown is None and picker.value is None


def test_empty_store_disables_the_button_until_refresh(tmp_path, store):
    from nblib.train.checkpoints import CheckpointStore

    empty = CheckpointStore(tmp_path / "empty")
    picker = CheckpointPicker(empty, on_pick=lambda c: pytest.fail("nothing to pick"))
    assert picker.value is None and picker.button.disabled
    assert picker.branch.disabled and picker.step.disabled
    assert "no checkpoints in" in picker.info.value
    shutil.copytree(store.get(4, "decay").path, empty.root / "step-000004-decay")
    picker.refresh()
    assert picker.branch.value == "decay" and list(picker.step.options) == [4]
    assert picker.value == empty.get(4, "decay") and not picker.button.disabled


def test_hub_revisions_offline_are_explained_in_the_widget(store, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    picker = CheckpointPicker(store, hub_repo="EleutherAI/pythia-14m")
    assert picker.hub in picker.children and picker.hub.disabled and picker.hub_revision is None
    assert "hub is unreachable" in picker.hub_info.value
    assert "local checkpoint" in picker.hub_info.value
    assert picker.value == store.get(8) and not picker.button.disabled  # local picking still works


def test_show_panel_shows_the_description_or_the_refusal(capsys):
    from nblib.widgets import show_panel

    box = W.IntText(value=3)

    def describe(v):
        if v < 0:
            raise ConfigError(f"parameter seed={v}: out of range")
        return {"seed": v}

    controls, _ = show_panel([box], describe).children
    assert controls.children[0] is box and controls.children[-1].description == "Show"
    # displayed and printed inside `with output:`; in a kernel the Output widget captures it
    controls.children[-1].click()
    assert "seed" in capsys.readouterr().out
    box.value = -1
    controls.children[-1].click()
    assert "not shown: parameter seed=-1: out of range" in capsys.readouterr().out
