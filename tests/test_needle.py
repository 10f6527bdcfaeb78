import numpy as np
import pytest

from nblib.config import ConfigError
from nblib.data.tasks import needle as nd

SPEECH = [f"Sentence number {k} of the speech." for k in range(40)]


def words(text: str) -> int:
    return len(text.split())


def test_items_share_a_surname_and_differ_in_codes():
    items = nd.make_items(10, 3, n_speeches=5, rng=np.random.default_rng(0))
    assert [i.depth for i in items[:5]] == [0.0, 0.25, 0.5, 0.75, 1.0]  # balanced depths
    for item in items:
        names = [item.name] + [n for n, _ in item.distractors]
        assert len(set(names)) == 4 and len({n.split()[1] for n in names}) == 1
        codes = [item.code] + [c for _, c in item.distractors]
        assert len(set(codes)) == 4 and all(len(c) == 4 and c.isdigit() for c in codes)
        assert 0 <= item.speech < 5 and len(item.distractor_depths) == 3
    with pytest.raises(ConfigError, match="at most 23"):
        nd.make_items(1, 24, 5, np.random.default_rng(0))


def test_haystack_reaches_its_length_and_wraps():
    hay = nd.haystack(SPEECH, words, 20, start=38)
    assert hay[:2] == SPEECH[38:40] and hay[2] == SPEECH[0]  # wraps round the speech
    assert sum(map(words, hay)) >= 20 > sum(map(words, hay[:-1]))
    assert nd.haystack(SPEECH, words, 0, 0) == []
    with pytest.raises(ConfigError, match="shorter than the haystack length"):
        nd.haystack(SPEECH[:2], words, 100, 0)


def test_conditions_change_only_what_they_name():
    item = nd.make_items(3, 2, 1, np.random.default_rng(1))[2]  # depth 0.5
    coherent = nd.context_sentences(item, nd.Condition(60, 2), SPEECH, words)
    shuffled = nd.context_sentences(item, nd.Condition(60, 2, shuffled=True), SPEECH, words)
    clean = nd.context_sentences(item, nd.Condition(60, 0), SPEECH, words)
    alone = nd.context_sentences(item, nd.Condition(0, 2), SPEECH, words)
    needle = nd.needle_sentence(item.name, item.code)
    assert sorted(coherent) == sorted(shuffled) and coherent != shuffled
    assert [s for s in coherent if "access code" not in s] == \
        [s for s in clean if "access code" not in s]
    assert clean.count(needle) == 1 and len(clean) - 1 == len(coherent) - 3
    hay = len(clean) - 1
    assert clean.index(needle) == round(0.5 * hay)
    assert sorted(alone) == sorted([needle] + [nd.needle_sentence(*d) for d in item.distractors])
    with pytest.raises(ConfigError, match="distractors=3: the item has 2"):
        nd.insert([], item, 3)
    text = nd.conversation(item, clean)[0]["content"]
    assert text.endswith(nd.QUESTION.format(name=item.name)) and needle in text
    assert nd.reply_prefix(item) == f"The access code of {item.name} is "
