"""Interactive controls: a form generated from a config dataclass, with a Run button.

The button calls the same step functions the notebook's cells call; widgets never hold the only
copy of a result (headless runs never press buttons).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args, get_origin

import ipywidgets as W

from nblib.config import ConfigError, replace


def _control(f: dataclasses.Field, tp: Any, value: Any) -> W.Widget:
    """One widget for one field, chosen by its type, choices and bounds."""
    m, style = f.metadata, {"description_width": "initial"}
    opts = dict(description=f.name, tooltip=m.get("help", ""), style=style)
    choices = m.get("choices") or (get_args(tp) if get_origin(tp) is Literal else None)
    if choices:
        return W.Dropdown(options=list(choices), value=value, **opts)
    if tp is bool:
        return W.Checkbox(value=value, indent=False, **opts)
    low, high = m.get("low"), m.get("high")
    if tp is int:
        return W.BoundedIntText(value=value, min=low if low is not None else -2**31,
                                max=high if high is not None else 2**31, **opts)
    if tp is float and low and high and high / low >= 1e3:  # learning rates and other log-scale knobs
        import math
        return W.FloatLogSlider(value=value, min=math.log10(low), max=math.log10(high), base=10,
                                readout_format=".1e", **opts)
    if tp is float:
        return W.BoundedFloatText(value=value, min=low if low is not None else -1e30,
                                  max=high if high is not None else 1e30, **opts)
    return W.Text(value=repr(value) if not isinstance(value, str) else value, **opts)  # lists, optionals


def _read(widget: W.Widget, tp: Any) -> Any:
    from nblib.runner import parse_value

    if isinstance(widget, W.Text) and tp is not str:
        return parse_value(widget.value)
    return widget.value


class ConfigForm(W.VBox):
    """Controls for `fields` of `cfg` and a Run button that calls `on_run(new_cfg)`.

    Values are validated with the config's own rules; an error is shown under the form and
    nothing runs.
    """

    def __init__(self, cfg: Any, on_run: Callable[[Any], Any], fields: Sequence[str] | None = None,
                 button: str = "Run"):
        hints = typing.get_type_hints(type(cfg))
        chosen = [f for f in dataclasses.fields(cfg) if fields is None or f.name in fields]
        self.cfg, self.on_run, self._types = cfg, on_run, {f.name: hints[f.name] for f in chosen}
        self.controls = {f.name: _control(f, hints[f.name], getattr(cfg, f.name)) for f in chosen}
        self.button = W.Button(description=button, button_style="primary", icon="play")
        self.output = W.Output()
        self.button.on_click(lambda _: self.run())
        super().__init__([W.GridBox(list(self.controls.values()),
                                    layout=W.Layout(grid_template_columns="repeat(2, 50%)")),
                          self.button, self.output])

    def config(self) -> Any:
        """The config with the form's current values (validated)."""
        values = {name: _read(w, self._types[name]) for name, w in self.controls.items()}
        return replace(self.cfg, **values)

    def run(self) -> Any:
        """What the button does: validate, then call `on_run` with output shown under the form."""
        self.output.clear_output()
        with self.output:
            try:
                cfg = self.config()
            except ConfigError as err:
                print(f"not run: {err}")
                return None
            self.button.disabled = True
            try:
                return self.on_run(cfg)
            finally:
                self.button.disabled = False
