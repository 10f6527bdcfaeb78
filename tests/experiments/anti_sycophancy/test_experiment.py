"""nblib.experiments.anti_sycophancy.experiment: config rules (checked before any model loads),
the backend choice with its errors, the runtime estimate, and a tiny real run of
SmolLM2-135M-Instruct."""

import pandas as pd
import pytest

from nblib.config import ConfigError, build
from nblib.experiments import anti_sycophancy as exp
from nblib.experiments.anti_sycophancy import experiment
from nblib.models.pretrained import ModelNotAvailable

TINY = dict(interactive=False, seeds=2, domains=["capitals"], per_domain=2,
            styles=["authority", "reask"], max_new_tokens=16, n_boot=200)


@pytest.mark.parametrize("change, message", [
    (dict(domains=["capitols"]), "domains"),
    (dict(styles=["reask", "agree"]), "needs at least one challenge"),
    (dict(styles=["bare", "bare"]), "no repeats"),
    (dict(backend="endpoint"), "endpoint_url"),
    (dict(domains=["elements"], seeds=12, per_domain=8), "elements has only 92 items"),
    (dict(domains=["elements"], seeds=2, first_seed=10, per_domain=8), "first_seed=10"),
    (dict(per_domain=1), "out of range"),
    (dict(margin=0.0), "margin"),
])
def test_bad_configs_fail_with_the_field_named(change, message):
    with pytest.raises(ConfigError, match=message):
        build(exp.SycophancyConfig, {**TINY, **change})


def test_a_model_that_is_not_there_fails_before_loading():
    with pytest.raises(ModelNotAvailable, match="does not exist"):
        exp.make_backend(build(exp.SycophancyConfig, {**TINY, "model": "./no/such/model"}))


def test_an_endpoint_that_does_not_answer_fails_at_once():
    cfg = build(exp.SycophancyConfig,
                {**TINY, "backend": "endpoint", "endpoint_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(ConnectionError, match="cannot reach"):
        exp.make_backend(cfg)


def test_replies_per_item_count_what_is_generated():
    cfg = build(exp.SycophancyConfig, TINY)
    assert exp.replies_per_item(cfg) == (1 + 2) + 2 * 2
    one = build(exp.SycophancyConfig, {**TINY, "constructions": ["pre-filled"]})
    assert exp.replies_per_item(one) == 2 * 2


@pytest.fixture(scope="module")
def run(checkpoints):  # seeds are recorded in the shared temporary NBLIB_CHECKPOINTS
    cfg = build(exp.SycophancyConfig, TINY)
    return cfg, *exp.run_all(cfg, exp.make_backend(cfg))


class RefusingBackend:
    """A chat backend that fails if asked for a reply: proves seeds were read back, not rerun."""

    name = "refusing"

    def reply(self, conversations, max_new_tokens):
        raise AssertionError("a recorded seed was generated again")


def test_recorded_seeds_are_read_back_identically(run):
    cfg, rows, seconds = run
    again, seconds_again = exp.run_all(cfg, RefusingBackend())
    pd.testing.assert_frame_equal(again, rows)
    assert seconds_again == seconds
    assert sorted(p.name for p in exp.seeds_folder(cfg).glob("*.json")) == [
        "seed=0.json", "seed=1.json"]


class Bar:
    """Counts what a tqdm bar would be updated by."""

    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


def test_the_bar_counts_replies_and_recorded_seeds_count_as_done(run):
    cfg, rows, _ = run
    bar = Bar()
    exp.run_all(cfg, RefusingBackend(), bar)
    assert bar.n == exp.n_replies(cfg) == cfg.seeds * cfg.per_domain * len(cfg.domains) * (
        exp.replies_per_item(cfg))


def test_more_seeds_reuse_the_recorded_ones(run):
    cfg, rows, _ = run
    one_more = build(exp.SycophancyConfig, {**TINY, "seeds": 3})
    assert exp.seeds_folder(one_more) == exp.seeds_folder(cfg)
    other = build(exp.SycophancyConfig, {**TINY, "max_new_tokens": TINY["max_new_tokens"] + 1})
    assert exp.seeds_folder(other) != exp.seeds_folder(cfg)


def test_tiny_real_run(run):
    cfg, rows, seconds = run
    assert seconds > 0 and set(rows.seed) == {0, 1}
    assert rows["item"].str.match(r"^[01]:capitals/").all() and rows["item"].nunique() == 4
    first = rows[rows.construction == "on-policy"].drop_duplicates("item")
    assert len(first) == 4 and first.first_reply.str.len().gt(0).all()
    pre = rows[rows.construction == "pre-filled"]
    assert len(pre) == 4 * 2 * 2 and (pre.first_outcome == "correct").mean() == 0.5
    assert set(rows.final_outcome.dropna()) <= {"correct", "wrong", "unscorable"}


def test_first_seed_draws_fresh_items(run):
    cfg, rows, _ = run
    later = build(exp.SycophancyConfig, {**TINY, "first_seed": 2})
    assert later.seed_list == [2, 3]
    fresh = {i.id for s in later.seed_list for i in exp.items_for(later, s)}
    used = {i.id for s in cfg.seed_list for i in exp.items_for(cfg, s)}
    assert len(fresh) == 4 and not fresh & used


def test_tables_from_a_real_run(run):
    cfg, rows, _ = run
    table = exp.metric_table(exp.challenged(rows), ["construction"], n_boot=100)
    assert set(table.construction) <= {"on-policy", "pre-filled"}
    assert "pre-filled" in set(table.construction)
    assert table.capitulation.between(0, 1).all() and (table["items"] >= 2).all()
    shares = exp.first_accuracy(rows)
    assert shares.sum(axis=1).round(6).eq(1).all()


def test_the_estimate_times_the_loaded_model(run):
    cfg, _, _ = run
    loaded = dict(experiment._backends)
    seconds = exp.estimate_seconds(cfg, "cpu")
    assert seconds > 0 and experiment._backends == loaded  # no second copy of the model


def test_the_interactive_evaluation_runs_one_draw_and_reuses_the_model(capsys):
    from nblib.experiments.anti_sycophancy import views

    cfg = build(exp.SycophancyConfig, {**TINY, "seeds": 1, "constructions": ["pre-filled"]})
    rows = views.evaluate(cfg)
    assert set(rows.seed) == {0} and (rows.construction == "pre-filled").all()
    assert "capitulation" in capsys.readouterr().out  # the metrics table is shown
    loaded = dict(experiment._backends)
    views.evaluate(cfg)
    assert experiment._backends == loaded  # the model is loaded once per setting
