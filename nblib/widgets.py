"""Interactive controls: a form generated from a config dataclass, with a Run button, a
checkpoint picker, and a Show panel for browsing recorded results.

The button calls the same step functions the notebook's cells call; widgets never hold the only
copy of a result (headless runs never press buttons).
"""

from __future__ import annotations

import dataclasses
import html
import time
import traceback
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import ipywidgets as W

from nblib.config import ConfigError, replace

if TYPE_CHECKING:  # importing them pulls in torch; the picker only needs a store-like object
    from nblib.train.checkpoints import Checkpoint, CheckpointStore


def _control(f: dataclasses.Field, tp: Any, value: Any) -> W.Widget:
    """One widget for one field, chosen by its type and choices.

    Numbers are typed exactly into unbounded boxes: bounds are checked by the config when the
    button is pressed (one message naming field, value and range), never clamped by the widget.
    """
    m, style = f.metadata, {"description_width": "initial"}
    opts = dict(description=f.name, tooltip=m.get("help", ""), style=style)
    choices = m.get("choices") or (get_args(tp) if get_origin(tp) is Literal else None)
    if choices:
        return W.Dropdown(options=list(choices), value=value, **opts)
    if tp is bool:
        return W.Checkbox(value=value, indent=False, **opts)
    if tp is int:
        return W.IntText(value=value, **opts)
    if tp is float:
        return W.FloatText(value=value, **opts)
    # lists, optionals
    return W.Text(value=repr(value) if not isinstance(value, str) else value, **opts)


def _number(x: float) -> str:
    """1,048,576 for an integer bound, 1e-06 for a float one."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _help_line(f: dataclasses.Field) -> str:
    """The help text shown under a control, with its allowed range or choices."""
    m = f.metadata
    parts = [html.escape(m.get("help", ""))]
    low, high = m.get("low"), m.get("high")
    if low is not None or high is not None:
        parts.append(f"allowed {'−∞' if low is None else _number(low)} … "
                     f"{'∞' if high is None else _number(high)}")
    if m.get("item_low") is not None or m.get("item_high") is not None:
        parts.append(f"each element {m.get('item_low', '')} … {m.get('item_high', '')}")
    text = " · ".join(p for p in parts if p)
    return f"<div class='nblib-help' style='font-size: 85%; color: #555; margin: -4px 0 6px " \
           f"8px; line-height: 1.2'>{text}</div>"


def _read(widget: W.Widget, tp: Any) -> Any:
    from nblib.runner import parse_value

    if isinstance(widget, W.Text) and tp is not str:
        return parse_value(widget.value)
    return widget.value


def show_failure(err: BaseException, doing: str) -> None:
    """One line saying what failed and what to check, with the traceback folded away below it."""
    from IPython.display import HTML, display

    print(f"{doing} failed: {type(err).__name__}: {err}".splitlines()[0])
    trace = "".join(traceback.format_exception(err))
    display(HTML(f"<details><summary>traceback</summary><pre>{html.escape(trace)}</pre>"
                 "</details>"))


class ConfigForm(W.VBox):
    """Controls for `fields` of `cfg` (each with its help text under it) and a Run button that
    calls `on_run(new_cfg)`.

    Values are validated with the config's own rules; an error is shown under the form and
    nothing runs. A status line says what the button is doing and how long it took.
    """

    def __init__(self, cfg: Any, on_run: Callable[[Any], Any], fields: Sequence[str] | None = None,
                 button: str = "Run"):
        hints = typing.get_type_hints(type(cfg))
        chosen = [f for f in dataclasses.fields(cfg) if fields is None or f.name in fields]
        self.cfg, self.on_run, self._types = cfg, on_run, {f.name: hints[f.name] for f in chosen}
        self.controls = {f.name: _control(f, hints[f.name], getattr(cfg, f.name)) for f in chosen}
        self.button = W.Button(description=button, button_style="primary", icon="play")
        self.status = W.HTML()
        self.output = W.Output()
        self.button.on_click(lambda _: self.run())
        cells = [W.VBox([self.controls[f.name], W.HTML(_help_line(f))]) for f in chosen]
        super().__init__([W.GridBox(cells, layout=W.Layout(grid_template_columns="repeat(2, 50%)")),
                          W.HBox([self.button, self.status]), self.output])

    def config(self) -> Any:
        """The config with the form's current values (validated)."""
        values = {name: _read(w, self._types[name]) for name, w in self.controls.items()}
        return replace(self.cfg, **values)

    def _say(self, text: str) -> None:
        self.status.value = f"<span style='margin-left: 8px'>{html.escape(text)}</span>"

    def run(self) -> Any:
        """What the button does: validate, then call `on_run` with output shown under the form.

        A config error prints one line and runs nothing; any other failure prints one line with
        the traceback folded under it (a button has no caller to raise to).
        """
        self.output.clear_output()
        with self.output:
            try:
                cfg = self.config()
            except ConfigError as err:
                print(f"not run: {err}")
                self._say("not run: see the message below")
                return None
            self.button.disabled = True
            start = time.perf_counter()
            self._say(f"running since {time.strftime('%H:%M:%S')} …")
            try:
                result = self.on_run(cfg)
            except Exception as err:
                show_failure(err, self.button.description)
                self._say(f"failed after {time.perf_counter() - start:.1f} s")
                return None
            finally:
                self.button.disabled = False
            self._say(f"done in {time.perf_counter() - start:.1f} s")
            return result


class CheckpointPicker(W.VBox):
    """Pick a saved checkpoint: a branch, a step (exactly the steps the store holds), the sidecar
    summary, and a button that calls `on_pick(checkpoint)` with its output (errors included)
    shown under it. `.value` is the selected Checkpoint (None while the store is empty).

    With `hub_repo`, a "hub revision" dropdown lists the repo's training-step branches
    (`.hub_revision`, for `from_pretrained(hub_repo, revision=...)`); offline it says why instead.
    """

    _NONE = -1  # the step slider's placeholder value while a branch has no checkpoint

    def __init__(self, store: CheckpointStore, on_pick: Callable[[Checkpoint], Any] | None = None,
                 button: str = "Load", hub_repo: str | None = None):
        self.store, self.on_pick, self.hub_repo = store, on_pick, hub_repo
        style = {"description_width": "initial"}
        self.branch = W.Dropdown(description="branch", style=style)
        self.step = W.SelectionSlider(description="step", options=[("none", self._NONE)],
                                      continuous_update=False, style=style)
        self.info = W.HTML()
        self.button = W.Button(description=button, button_style="primary", icon="download")
        self.output = W.Output()
        self._ckpts: dict[tuple[str, int], Checkpoint] = {}
        self._shown: Checkpoint | None = None  # the checkpoint whose results the output shows
        self.branch.observe(lambda _: self._fill_steps(), "value")
        self.step.observe(lambda _: self._show(), "value")
        self.button.on_click(lambda _: self.pick())
        children: list[W.Widget] = [self.branch, self.step, self.info]
        if hub_repo is not None:
            self.hub, self.hub_info = W.Dropdown(description="hub revision", style=style), W.HTML()
            children += [self.hub, self.hub_info]
            self._fill_hub()
        super().__init__([*children, self.button, self.output])
        self.refresh()

    @property
    def value(self) -> Checkpoint | None:
        return self._ckpts.get((self.branch.value, self.step.value))

    @property
    def hub_revision(self) -> str | None:
        return self.hub.value if self.hub_repo is not None else None

    def refresh(self) -> None:
        """Re-read the store, keeping the selection where it still exists; results shown for a
        checkpoint that is no longer in the store (a new store, or one retrained) are cleared."""
        self._ckpts = {(c.branch, c.step): c for c in self.store.list()}
        shown = self._shown
        now = None if shown is None else self._ckpts.get((shown.branch, shown.step))
        if shown is not None and (now != shown or now.meta != shown.meta):
            self.output.clear_output()
            self._shown = None
        branches = sorted({b for b, _ in self._ckpts})
        current = self.branch.value
        self.branch.options = [(b or "main", b) for b in branches]
        self.branch.value = current if current in branches else (branches[0] if branches else None)
        self.branch.disabled = not branches
        self._fill_steps()

    def _fill_steps(self) -> None:
        steps = sorted(s for b, s in self._ckpts if b == self.branch.value)
        current = self.step.value
        self.step.options = steps or [("none", self._NONE)]
        self.step.value = current if current in steps else (steps[-1] if steps else self._NONE)
        self.step.disabled = not steps
        self._show()

    def _show(self) -> None:
        ckpt = self.value
        self.button.disabled = ckpt is None
        if ckpt is None:
            self.info.value = f"<i>no checkpoints in {html.escape(str(self.store.root))} yet</i>"
            return
        parts = [f"<b>{ckpt.name}</b>", f"step {ckpt.step:,}"]
        if isinstance(ckpt.meta.get("tokens"), int):
            parts.append(f"tokens {ckpt.meta['tokens']:,}")
        parts += [f"{html.escape(k)} {v:.4f}" for k, v in ckpt.meta.items()
                  if k.endswith("loss") and isinstance(v, int | float) and not isinstance(v, bool)]
        self.info.value = " · ".join(parts)

    def _fill_hub(self) -> None:
        from nblib.train.checkpoints import hub_revisions

        try:
            revisions = hub_revisions(self.hub_repo)
            self.hub_info.value = f"{len(revisions)} step revisions of {html.escape(self.hub_repo)}"
        except ConfigError as err:
            revisions, self.hub_info.value = [], f"<i>{html.escape(str(err))}</i>"
        self.hub.options, self.hub.disabled = revisions, not revisions

    def pick(self) -> Any:
        """What the button does: `on_pick(self.value)`, output and errors shown under the picker."""
        self.output.clear_output()
        with self.output:
            ckpt = self.value
            if ckpt is None:
                print(f"nothing to load: no checkpoint in {self.store.root}")
                return None
            if self.on_pick is None:
                print(f"picked {ckpt.name} ({ckpt.path})")
                return ckpt
            self.button.disabled = True
            self._shown = ckpt
            try:
                return self.on_pick(ckpt)
            except ConfigError as err:  # shown, not raised: a button has no caller to raise to
                print(f"not loaded: {err}")
                return None
            except Exception as err:
                show_failure(err, "loading")
                return None
            finally:
                self.button.disabled = False


def show_panel(controls: Sequence[W.ValueWidget], describe: Callable[..., dict]) -> W.VBox:
    """`controls` and a Show button: pressing it shows `describe(*values)` (a dict, shown as a
    table; it may draw figures too). A ConfigError (a value out of range) is printed as "not
    shown: ...", never clamped."""
    import pandas as pd
    from IPython.display import display

    button, output = W.Button(description="Show", button_style="primary"), W.Output()

    def show(_=None):
        output.clear_output()
        with output:
            try:
                display(pd.Series(describe(*[c.value for c in controls])))
            except ConfigError as err:
                print(f"not shown: {err}")

    button.on_click(show)
    return W.VBox([W.HBox([*controls, button]), output])
