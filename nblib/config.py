"""Typed experiment configs: dataclass fields with help, bounds and choices, and strict validation.

A notebook's parameters cell holds plain literals; `configure(Config, globals())` turns them into a
validated config. Every error names the field, the value and what would be accepted.

    @dataclass(frozen=True)
    class TrainConfig:
        lr: float = param(1e-3, "peak learning rate", low=1e-6, high=1.0)
        model: str = param("mlp", "which network to train", choices=("mlp", "transformer"))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin


class ConfigError(ValueError):
    """A parameter is unknown, missing, of the wrong type or out of range."""


AFFECTS = ("train", "eval", "analysis", "runtime")  # what a field can shape, earliest stage first


def param(default: Any, help: str, *, affects: str | tuple[str, ...] | None = None,
          low: float | None = None, high: float | None = None, choices: tuple | None = None,
          item_low: float | None = None, item_high: float | None = None) -> Any:
    """A dataclass field with a help text, what it affects, and optional bounds or choices.

    `affects` names the stages whose results the field shapes: "train" (what is trained),
    "eval" (what is measured on trained models), "analysis" (statistics and verdicts only) or
    "runtime" (how fast, never what), or a notebook's own stage (e.g. "teacher"); a tuple for
    several. Cached results are keyed by exactly the fields of their stages (`cache_key`).
    `low`/`high` are inclusive bounds; `item_low`/`item_high` bound each element of a list.
    """
    if affects is not None:
        kinds = (affects,) if isinstance(affects, str) else tuple(affects)
        if not kinds or not all(isinstance(k, str) and k for k in kinds):
            raise ValueError(f"affects={affects!r}: a stage name or a tuple of them, e.g. 'train'")
        affects = kinds
    meta = dict(help=help, affects=affects, low=low, high=high, choices=choices,
                item_low=item_low, item_high=item_high)
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_help(cls_or_cfg: Any) -> dict[str, str]:
    """Field name -> help text."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls_or_cfg)}


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if get_origin(tp) is list:
        return f"list[{_type_name(get_args(tp)[0])}]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any) -> tuple[bool, Any]:
    """(ok, value) for `value` read as type `tp`. Ints are
    accepted as floats; bools are not ints."""
    origin = get_origin(tp)
    if tp is Any:
        return True, value
    if tp is type(None):
        return value is None, value
    if origin is Literal:
        return value in get_args(tp), value
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            ok, out = _coerce(arg, value)
            if ok:
                return True, out
        return False, value
    if origin is list:
        if not isinstance(value, list | tuple):
            return False, value
        (item_tp,) = get_args(tp)
        out = []
        for item in value:
            ok, item = _coerce(item_tp, item)
            if not ok:
                return False, value
            out.append(item)
        return True, out
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, tp), value


def _in_range(x: Any, low: float | None, high: float | None) -> bool:
    if not isinstance(x, int | float) or isinstance(x, bool):
        return True  # None (e.g. "unrestricted") and strings are not range-checked
    return (low is None or x >= low) and (high is None or x <= high)


def _range_text(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def validate_field(f: dataclasses.Field, tp: Any, value: Any) -> Any:
    """Return `value` converted to the field's type, or raise ConfigError naming field and rule."""
    ok, value_out = _coerce(tp, value)
    if not ok:
        raise ConfigError(f"parameter {f.name}={value!r}: expected {_type_name(tp)}, "
                          f"got {type(value).__name__} ({f.metadata.get('help', '')})")
    m = f.metadata
    if m.get("choices") is not None and value_out not in m["choices"]:
        raise ConfigError(f"parameter {f.name}={value!r}: must be one of {list(m['choices'])}")
    if not _in_range(value_out, m.get("low"), m.get("high")):
        raise ConfigError(f"parameter {f.name}={value!r}: out of range, allowed "
                          f"{_range_text(m.get('low'), m.get('high'))} ({m.get('help', '')})")
    if isinstance(value_out, list):
        for item in value_out:
            if not _in_range(item, m.get("item_low"), m.get("item_high")):
                raise ConfigError(f"parameter {f.name}={value!r}: element "
                                  f"{item!r} out of range, allowed "
                                  f"{_range_text(m.get('item_low'), m.get('item_high'))} "
                                  "for each element")
    return value_out


def check_names(cls: type, names: typing.Iterable[str]) -> None:
    """Raise ConfigError if any name is not a field of `cls`, listing the valid names."""
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown} for "
                          f"{cls.__name__}; valid names: {valid}")


def check_order(cfg: Any, lower: str, upper: str, strict: bool = True) -> None:
    """ConfigError unless field `lower` is below field `upper` (at most it, when not `strict`):
    the cross-field rule of warmup steps against steps, checkpoints against steps."""
    low, high = getattr(cfg, lower), getattr(cfg, upper)
    if (low >= high) if strict else (low > high):
        rule = "must be below" if strict else "at most"
        raise ConfigError(f"parameter {lower}={low}: {rule} {upper}={high}")


def build(cls: type, values: Mapping[str, Any]) -> Any:
    """Build `cls` from a mapping of overrides; unknown names and bad values raise ConfigError."""
    check_names(cls, values)
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: validate_field(f, hints[f.name], values[f.name])
              for f in dataclasses.fields(cls) if f.name in values}
    cfg = cls(**kwargs)
    if hasattr(cfg, "check"):
        cfg.check()  # cross-field rules; raises ConfigError
    return cfg


def configure(cls: type, namespace: Mapping[str, Any]) -> Any:
    """Build `cls` from a notebook namespace (`globals()`): every field must be defined there.

    Names in the namespace that are not fields (imports, IPython's own) are ignored here; the
    runner rejects unknown parameter names before a kernel starts.
    """
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in namespace]
    if missing:
        raise ConfigError("the parameters cell does not define "
                          f"{missing} (fields of {cls.__name__})")
    return build(cls, {f.name: namespace[f.name] for f in dataclasses.fields(cls)})


def replace(cfg: Any, **changes: Any) -> Any:
    """A validated copy of `cfg` with `changes` applied (strict about names)."""
    return build(type(cfg), {**dataclasses.asdict(cfg), **changes})


def affects(cls_or_cfg: Any) -> dict[str, tuple[str, ...] | None]:
    """Field name -> the stages it affects (None where the field does not say)."""
    return {f.name: f.metadata.get("affects") for f in dataclasses.fields(cls_or_cfg)}


def unclassified(cls_or_cfg: Any) -> list[str]:
    """Fields that do not say what they affect (a test holds every notebook config to none)."""
    return [name for name, kinds in affects(cls_or_cfg).items() if not kinds]


def fields_affecting(cls_or_cfg: Any, *kinds: str) -> list[str]:
    """Names of the fields that shape any of the stages `kinds`, in declaration order."""
    if not kinds:
        raise ValueError("fields_affecting: name at least one stage, e.g. 'train'")
    missing = unclassified(cls_or_cfg)
    if missing:
        raise ConfigError(f"fields {missing} of {type(cls_or_cfg).__name__} "
                          "do not say what they affect")
    return [name for name, its in affects(cls_or_cfg).items() if set(its) & set(kinds)]


def cache_key(cfg: Any, *kinds: str) -> str:
    """A short stable hash of every field that shapes the stages `kinds`: names the folder of
    cached results of those stages, so a change to any such field never reuses stale results."""
    return fingerprint(cfg, fields_affecting(cfg, *kinds))


def fingerprint(cfg: Any, keys: typing.Iterable[str]) -> str:
    """A short stable hash of the fields `keys` of `cfg` (names folders of what those fields shape,
    e.g. checkpoints, so runs with other settings never read them)."""
    blob = json.dumps({k: getattr(cfg, k) for k in keys}, sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=5).hexdigest()


def _cuda_available() -> bool:
    """Whether torch sees a CUDA device (torch is imported only when a config asks for one)."""
    import torch

    return torch.cuda.is_available()


@dataclass(frozen=True)
class NotebookConfig:
    """Fields every notebook has; a notebook's config subclasses it (or `GridConfig`) and may
    redeclare a field to change its default or help. They come first in every parameters cell."""

    interactive: bool = param(True, "show widgets and live bars (the runner sets False)",
                              affects="runtime")
    seeds: int = param(3, "independent seeds per condition", affects="analysis", low=1, high=50)
    first_seed: int = param(0, "the first seed: seeds first_seed, first_seed + 1, ... run "
                               "(e.g. 3 to replicate on fresh seeds)", affects="analysis", low=0,
                            high=10_000)
    device: str = param("auto", "torch device", affects="runtime", choices=("auto", "cpu", "cuda"))

    def __post_init__(self) -> None:
        if self.device == "cuda" and not _cuda_available():
            raise ConfigError("parameter device='cuda': torch sees no CUDA device on this "
                              "machine; use 'auto' (CUDA when present, else CPU) or 'cpu'")

    @property
    def seed_list(self) -> list[int]:
        """The seeds this run uses."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


@dataclass(frozen=True)
class GridConfig(NotebookConfig):
    """A notebook that runs a grid of training jobs (`train.grid.run_jobs`)."""

    workers: int = param(2, "training runs at once (processes, CPU only)", affects="runtime",
                         low=1, high=64)


def as_table(cfg: Any) -> str:
    """The config as a plain-text table: name, value, help."""
    helps = field_help(cfg)
    rows = [(k, repr(v), helps[k]) for k, v in dataclasses.asdict(cfg).items()]
    w0 = max(len(r[0]) for r in rows)
    w1 = min(max(len(r[1]) for r in rows), 40)
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)
