import random
from collections import Counter

import pytest

from nblib.config import ConfigError
from nblib.data.tasks import bios


@pytest.fixture(scope="module")
def world():
    return bios.World(0)


def test_every_rendered_word_is_in_the_vocabulary(world):
    rng = random.Random(0)
    for person in world.people(200, 0, "train"):
        for order in ("canonical", "shuffled"):
            for which in ("train", "held_out"):
                words, kinds = bios.words_and_kinds(bios.render(person, world, rng, order,
                                                                which))
                assert world.decode(world.encode(words)) == " ".join(words)
                assert len(kinds) == len(words)


def test_people_have_distinct_names_and_the_splits_never_share_one(world):
    train, test = world.people(500, 1, "train"), world.people(500, 1, "test")
    assert len({p.name for p in train}) == 500 == len({p.name for p in test})
    assert not {p.name for p in train} & {p.name for p in test}
    assert {bios.name_split(p.name) for p in train} == {"train"}
    fresh = bios.fresh_people(world, 3)
    assert len({next(fresh).name for _ in range(300)}) == 300
    with pytest.raises(ValueError, match="split='dev'"):
        world.people(3, 0, "dev")
    with pytest.raises(ConfigError, match="at most 10"):
        world.people(10**7, 0, "train")


def test_the_value_tokens_are_the_persons_facts(world):
    person = world.people(1, 0, "train")[0]
    doc = bios.render(person, world, random.Random(1))
    values = [[w for w, k in s if k == bios.VALUE] for s in doc]
    values[0] = sorted(values[0])  # some frames write the year first
    assert values == [sorted([person.month, person.day, person.year]), [person.birth_city],
                      list(person.university), list(person.major), list(person.employer),
                      [world.hq[person.employer]]]
    first = [w for w, k in doc[0] if k == bios.NAME]
    assert first == list(person.name)  # the first sentence names the person in full


def test_shuffled_orders_keep_the_employer_before_its_city():
    rng = random.Random(0)
    orders = [tuple(bios.orders(rng, "shuffled")) for _ in range(10_000)]
    assert all(o.index("employer") < o.index("employer_city") for o in orders)
    assert len(set(orders)) == 360  # 6! / 2 orders respect the one constraint
    assert bios.orders(rng, "canonical") == list(bios.ATTRIBUTES)
    with pytest.raises(ValueError, match="order='random'"):
        bios.orders(rng, "random")


def test_held_out_frames_never_reach_a_training_rendering(world):
    held = {a: set(bios.frames(a, "held_out")) for a in bios.ATTRIBUTES}
    assert all(len(h) == bios.HELD_OUT_FRAMES for h in held.values())
    for a in bios.ATTRIBUTES:
        assert not held[a] & set(bios.frames(a, "train"))
        assert len(bios.frames(a, "all")) == len(bios.frames(a, "train")) + 2
    # a distinctive held-out frame word never appears in training renderings
    rng, words = random.Random(2), Counter()
    for person in world.people(100, 2, "train"):
        for _ in range(5):
            words.update(bios.words_and_kinds(bios.render(person, world, rng))[0])
    assert words["delivered"] == 0 and words["roots"] == 0 and words["hosts"] == 0


def test_rephrasings_rarely_repeat_a_sentence(world):
    """With 61,440+ wordings per person sentence, 300 renderings of one person repeat almost no
    sentence (the first sentence has the fewest wordings: its subject is always the full name)."""
    person, rng = world.people(1, 0, "train")[0], random.Random(3)
    sentences = [tuple(w for w, _ in s) for _ in range(300)
                 for s in bios.render(person, world, rng)]
    assert len(set(sentences)) >= 0.98 * len(sentences)
    assert min(bios.SENTENCE_FORMS.values()) >= 5 * 10**5


def test_pronoun_subjects_read_as_english(world):
    rng = random.Random(4)
    text = " ".join(" ".join(bios.words_and_kinds(bios.render(p, world, rng))[0])
                    for p in world.people(300, 4, "train"))
    assert " of she " not in text and " of he " not in text and "her birthday" in text


def test_qa_documents_ask_every_fact_and_a_qa_world_keeps_every_other_id():
    plain, qa = bios.World(0), bios.World(0, qa=True)
    assert qa.tokens[:plain.vocab_size] == plain.tokens and qa.vocab_size > plain.vocab_size
    person = qa.people(1, 0, "train")[0]
    doc = bios.qa_document(person, qa)
    assert len(doc) == len(bios.ATTRIBUTES)
    words, _ = bios.words_and_kinds(doc)
    assert qa.decode(qa.encode(words)).count("answer :") == 6
    city = [w for w, k in doc[1] if k == bios.VALUE]
    assert city == [person.birth_city]
