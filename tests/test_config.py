"""nblib.config: typed configs, strict names, errors that name field, value and what is allowed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from nblib.config import (
    AFFECTS,
    ConfigError,
    GridConfig,
    NotebookConfig,
    affects,
    as_table,
    build,
    cache_key,
    configure,
    field_help,
    fields_affecting,
    fingerprint,
    param,
    replace,
    unclassified,
)


@dataclass(frozen=True)
class Cfg:
    lr: float = param(1e-3, "peak learning rate", low=1e-6, high=1.0)
    steps: int = param(10, "optimizer steps", low=1, high=1000)
    model: str = param("mlp", "which network", choices=("mlp", "transformer"))
    norm: Literal["layer", "rms"] = param("rms", "normalisation")
    widths: list[int] = param([4, 8], "layer widths", item_low=1, item_high=64)
    budget: int | None = param(None, "token budget (None: unlimited)", low=0)
    tied: bool = param(False, "tie embeddings")
    name: str = param("run", "a label")

    def check(self) -> None:
        if self.model == "transformer" and self.steps < 5:
            raise ConfigError(f"parameter steps={self.steps}: a transformer needs at least 5 steps")


def test_defaults_and_overrides():
    cfg = build(Cfg, {})
    assert cfg == Cfg()
    cfg = build(Cfg, {"lr": 0.01, "steps": 20, "model": "transformer", "widths": [2, 3],
                      "budget": 100})
    assert (cfg.lr, cfg.steps, cfg.model, cfg.widths, cfg.budget) == (0.01, 20, "transformer",
                                                                      [2, 3], 100)


def test_list_default_is_not_shared():
    a, b = Cfg(), Cfg()
    a.widths.append(99)
    assert b.widths == [4, 8]


def test_int_is_accepted_as_float_and_converted():
    cfg = build(Cfg, {"lr": 1})
    assert cfg.lr == 1.0 and type(cfg.lr) is float


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        build(Cfg, {"stepz": 5})
    msg = str(err.value)
    assert "stepz" in msg
    for name in ("lr", "steps", "model", "norm", "widths", "budget", "tied", "name"):
        assert repr(name) in msg


@pytest.mark.parametrize("field, value, expected", [
    ("steps", "ten", ["steps", "'ten'", "expected int", "got str"]),
    ("steps", 2.5, ["steps", "2.5", "expected int", "got float"]),
    ("steps", True, ["steps", "True", "expected int", "got bool"]),
    ("lr", "fast", ["lr", "'fast'", "expected float"]),
    ("lr", True, ["lr", "True", "expected float"]),
    ("tied", 1, ["tied", "expected bool", "got int"]),
    ("widths", 4, ["widths", "expected list[int]"]),
    ("widths", [4, "x"], ["widths", "[4, 'x']", "expected list[int]"]),
    ("budget", 1.5, ["budget", "1.5", "int | None"]),
    ("norm", "batch", ["norm", "'batch'", "'layer' | 'rms'"]),
])
def test_wrong_type_names_field_value_and_type(field, value, expected):
    with pytest.raises(ConfigError) as err:
        build(Cfg, {field: value})
    msg = str(err.value)
    for part in expected:
        assert part in msg, (part, msg)


@pytest.mark.parametrize("field, value, expected", [
    ("lr", 2.0, ["lr=2.0", "out of range", "[1e-06, 1.0]", "peak learning rate"]),
    ("lr", 0.0, ["lr=0.0", "out of range", "[1e-06, 1.0]"]),
    ("steps", 0, ["steps=0", "out of range", "[1, 1000]"]),
    ("steps", 1001, ["steps=1001", "[1, 1000]"]),
    ("budget", -1, ["budget=-1", "[0, inf]"]),
    ("model", "rnn", ["model='rnn'", "must be one of", "['mlp', 'transformer']"]),
    ("widths", [4, 65], ["widths=[4, 65]", "element 65", "[1, 64]"]),
    ("widths", [0], ["widths=[0]", "element 0", "[1, 64]"]),
])
def test_out_of_range_names_field_value_and_range(field, value, expected):
    with pytest.raises(ConfigError) as err:
        build(Cfg, {field: value})
    msg = str(err.value)
    for part in expected:
        assert part in msg, (part, msg)


def test_bounds_are_inclusive_and_none_is_not_range_checked():
    cfg = build(Cfg, {"lr": 1.0, "steps": 1, "widths": [1, 64], "budget": None})
    assert (cfg.lr, cfg.steps, cfg.widths, cfg.budget) == (1.0, 1, [1, 64], None)


def test_cross_field_check_runs():
    with pytest.raises(ConfigError, match="steps=3: a transformer needs at least 5 steps"):
        build(Cfg, {"model": "transformer", "steps": 3})
    assert build(Cfg, {"model": "mlp", "steps": 3}).steps == 3


def test_configure_reads_a_namespace_and_ignores_other_names():
    namespace = {f.name: getattr(Cfg(), f.name) for f in dataclasses.fields(Cfg)}
    namespace.update(lr=0.5, steps=7, __name__="__main__", np=object(), _i1="x")
    cfg = configure(Cfg, namespace)
    assert cfg.lr == 0.5 and cfg.steps == 7 and cfg.model == "mlp"


def test_configure_names_missing_fields():
    with pytest.raises(ConfigError) as err:
        configure(Cfg, {"lr": 0.5, "steps": 3})
    msg = str(err.value)
    assert "does not define" in msg and "'model'" in msg and "'widths'" in msg and "'lr'" not in msg


def test_configure_rejects_bad_values():
    namespace = dataclasses.asdict(Cfg())
    namespace["steps"] = 5000
    with pytest.raises(ConfigError, match=r"steps=5000: out of range, allowed \[1, 1000\]"):
        configure(Cfg, namespace)


def test_replace_is_validated_and_strict():
    cfg = Cfg()
    new = replace(cfg, lr=0.1, widths=[1, 2, 3])
    assert new.lr == 0.1 and new.widths == [1, 2, 3] and cfg.lr == 1e-3
    with pytest.raises(ConfigError, match=r"lr=5: out of range"):
        replace(cfg, lr=5)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['learning_rate'\]"):
        replace(cfg, learning_rate=0.1)
    with pytest.raises(ConfigError, match=r"tied='yes': expected bool"):
        replace(cfg, tied="yes")


def test_field_help_and_table():
    helps = field_help(Cfg)
    assert (
        helps["lr"] == "peak learning rate" and helps["budget"] == "token budget (None: unlimited)"
    )
    table = as_table(Cfg()).splitlines()
    assert len(table) == len(dataclasses.fields(Cfg))
    lr_row = next(row for row in table if row.startswith("lr "))
    assert "0.001" in lr_row and lr_row.rstrip().endswith("peak learning rate")
    assert "[4, 8]" in next(row for row in table if row.startswith("widths"))


def test_fingerprint_depends_only_on_the_named_fields():
    @dataclass(frozen=True)
    class C:
        a: int = param(1, "a")
        b: int = param(2, "b")

    assert fingerprint(C(), ["a"]) == fingerprint(C(b=3), ["a"])
    assert fingerprint(C(), ["a"]) != fingerprint(C(a=3), ["a"])
    assert len(fingerprint(C(), ["a", "b"])) == 10


# --- what a field affects, cache keys, the notebook bases ----------------------------------------

@dataclass(frozen=True)
class Staged(GridConfig):
    seeds: int = param(5, "seeds per width", affects="analysis", low=1, high=50)  # redeclared
    width: int = param(8, "hidden units", affects="train", low=1)
    steps: int = param(10, "optimizer steps", affects=("train", "teacher"), low=1)
    probes: int = param(4, "probe points per model", affects="eval", low=1)
    margin: float = param(0.1, "equivalence margin", affects="analysis", low=0.0)


def test_param_affects_is_normalised_to_a_tuple_and_validated():
    meta = {f.name: f.metadata["affects"] for f in dataclasses.fields(Staged)}
    assert meta["width"] == ("train",) and meta["steps"] == ("train", "teacher")
    assert dataclasses.fields(Cfg)[0].metadata["affects"] is None  # not said
    assert param(1, "x", affects=["eval", "train"]).metadata["affects"] == ("eval", "train")
    for bad in ("", (), ("train", ""), ("train", 3)):
        with pytest.raises(ValueError, match="affects"):
            param(1, "x", affects=bad)
    assert AFFECTS == ("train", "eval", "analysis", "runtime")


def test_unclassified_names_fields_that_do_not_say():
    assert unclassified(Staged) == [] and unclassified(build(Staged, {})) == []
    assert unclassified(Cfg) == [f.name for f in dataclasses.fields(Cfg)]

    @dataclass(frozen=True)
    class Partly(NotebookConfig):
        lr: float = param(1e-3, "learning rate", affects="train")
        forgot: int = param(1, "a new field nobody classified")

    assert unclassified(Partly) == ["forgot"]
    assert affects(Partly)["forgot"] is None and affects(Partly)["lr"] == ("train",)
    with pytest.raises(ConfigError, match="forgot"):
        fields_affecting(Partly, "train")
    with pytest.raises(ConfigError, match="forgot"):
        cache_key(build(Partly, {}), "train")


def test_fields_affecting_in_declaration_order_and_needs_a_stage():
    assert fields_affecting(Staged, "train") == ["width", "steps"]
    assert fields_affecting(Staged, "teacher") == ["steps"]
    assert fields_affecting(Staged, "eval", "train") == ["width", "steps", "probes"]
    assert fields_affecting(Staged, "analysis") == ["seeds", "first_seed", "margin"]
    assert fields_affecting(Staged, "runtime") == ["interactive", "device", "workers"]
    assert fields_affecting(Staged, "no-such-stage") == []
    with pytest.raises(ValueError, match="stage"):
        fields_affecting(Staged)


@pytest.mark.parametrize("kinds", [("train",), ("teacher",), ("train", "eval"), ("analysis",)])
def test_cache_key_changes_exactly_when_an_affecting_field_changes(kinds):
    base = build(Staged, {})
    changed = dict(interactive=False, seeds=2, first_seed=3, device="cpu", workers=4, width=16,
                   steps=20, probes=7, margin=0.2)
    assert set(changed) == {f.name for f in dataclasses.fields(Staged)}
    shaping = set(fields_affecting(Staged, *kinds))
    for name, value in changed.items():
        other = replace(base, **{name: value})
        assert (cache_key(other, *kinds) != cache_key(base, *kinds)) == (name in shaping), name
    assert cache_key(base, *kinds) == cache_key(build(Staged, {}), *kinds)  # stable
    assert cache_key(base, *kinds) == fingerprint(base, sorted(shaping))
    assert len(cache_key(base, *kinds)) == 10


def test_cache_keys_of_different_stages_differ_even_when_values_agree():
    cfg = build(Staged, {})
    assert cache_key(cfg, "train") != cache_key(cfg, "train", "eval")


def test_notebook_and_grid_config_fields_in_order_with_a_redeclared_default():
    assert [f.name for f in dataclasses.fields(NotebookConfig)] == [
        "interactive", "seeds", "first_seed", "device"]
    assert [f.name for f in dataclasses.fields(GridConfig)] == [
        "interactive", "seeds", "first_seed", "device", "workers"]
    assert [f.name for f in dataclasses.fields(Staged)] == [
        "interactive", "seeds", "first_seed", "device", "workers", "width", "steps", "probes",
        "margin"]  # the redeclared seeds keeps the base's position
    cfg = build(Staged, {})
    assert (cfg.seeds, cfg.first_seed, cfg.workers, cfg.device) == (5, 0, 2, "auto")
    assert unclassified(NotebookConfig) == [] and unclassified(GridConfig) == []


def test_seed_list_runs_from_first_seed():
    assert build(NotebookConfig, {}).seed_list == [0, 1, 2]
    assert build(NotebookConfig, {"seeds": 3, "first_seed": 3}).seed_list == [3, 4, 5]
    assert build(Staged, {"seeds": 1, "first_seed": 7}).seed_list == [7]


def test_first_seed_seeds_workers_and_device_bounds():
    assert build(NotebookConfig, {"first_seed": 10_000}).first_seed == 10_000  # inclusive
    for field, value in [("first_seed", -1), ("first_seed", 10_001), ("seeds", 0),
                         ("seeds", 51), ("workers", 0)]:
        with pytest.raises(ConfigError, match=field):
            build(GridConfig, {field: value})
    with pytest.raises(ConfigError, match="device"):
        build(NotebookConfig, {"device": "tpu"})
    with pytest.raises(ConfigError, match="first_seed"):
        build(NotebookConfig, {"first_seed": 1.5})


def test_check_order_refuses_a_lower_field_at_or_above_the_upper_one():
    from types import SimpleNamespace

    from nblib.config import check_order

    cfg = SimpleNamespace(warmup_steps=10, steps=10, n_checkpoints=10)
    with pytest.raises(ConfigError, match="parameter warmup_steps=10: must be below steps=10"):
        check_order(cfg, "warmup_steps", "steps")
    check_order(cfg, "n_checkpoints", "steps", strict=False)  # equal is allowed
    with pytest.raises(ConfigError, match="parameter n_checkpoints=11: at most steps=10"):
        check_order(SimpleNamespace(n_checkpoints=11, steps=10), "n_checkpoints", "steps",
                    strict=False)
