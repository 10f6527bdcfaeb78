"""nblib.data.tasks.facts: item pools from the packaged facts, and disjoint draws per seed."""

import pytest

from nblib.data.tasks import facts


@pytest.fixture(scope="module")
def pools():
    return {domain: build() for domain, build in facts.BUILDERS.items()}


def test_every_domain_has_a_real_pool(pools):
    sizes = {d: len(p) for d, p in pools.items()}
    assert sizes["capitals"] > 150 and sizes["elements"] == 92 and sizes["truefalse"] == 150
    assert sizes["gsm8k"] == 100 and sizes["arithmetic"] == 1000


def test_items_are_well_formed(pools):
    for domain, pool in pools.items():
        assert len({i.id for i in pool}) == len(pool), domain
        for item in pool:
            assert item.domain == domain and item.kind in facts.KINDS and item.source
            assert item.answer != item.distractor, item
            if item.kind == "name":
                assert item.answer in item.choices and item.distractor in item.choices


def test_known_facts(pools):
    by_id = {i.id: i for pool in pools.values() for i in pool}
    assert by_id["capitals/Australia"].answer == "Canberra"
    assert by_id["capitals/United States"].question == "What is the capital of the United States?"
    assert by_id["elements/Au"].answer == "gold"
    assert all(
        int(i.answer) == sum(map(int, i.id.split("/")[1].split("+"))) for i in pools["arithmetic"]
    )
    assert {i.answer for i in pools["truefalse"]} == {"true", "false"}


def test_capital_questions_do_not_give_the_answer_away(pools):
    for item in pools["capitals"]:
        assert item.answer.lower() not in item.question.lower(), item.question


def test_draws_are_deterministic_and_disjoint_across_seeds():
    a = facts.build_items(["capitals", "truefalse"], 5, seed=0)
    assert [i.id for i in a] == [i.id for i in facts.build_items(["capitals", "truefalse"], 5,
                                                                 seed=0)]
    b = facts.build_items(["capitals", "truefalse"], 5, seed=1)
    assert len(a) == len(b) == 10 and not {i.id for i in a} & {i.id for i in b}


def test_bad_requests_fail_with_what_is_allowed():
    with pytest.raises(ValueError, match="not among"):
        facts.build_items(["capitols"], 3)
    with pytest.raises(ValueError, match="elements has 92 items"):
        facts.build_items(["elements"], 50, seed=1)
