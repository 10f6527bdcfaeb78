"""nblib.data.sentences: pysbd sentences whose spans index the original text exactly, and the text
rebuilt in another order."""

import pytest

from nblib.data.sentences import Sentence, reorder, split_sentences

TEXT = ("Mr. Smith went to Washington. He arrived at 5 p.m. on Monday.  Then he left!\n\n"
        "Yes. No. Yes.")


def test_spans_index_the_original_and_cover_every_non_space_character():
    sentences = split_sentences(TEXT)
    assert [s.text for s in sentences] == ["Mr. Smith went to Washington.",
                                           "He arrived at 5 p.m. on Monday.", "Then he left!",
                                           "Yes.", "No.", "Yes."]  # abbreviations kept whole
    assert all(TEXT[s.start:s.end] == s.text for s in sentences)
    # repeated sentences get their own places, in order, without overlap
    assert [s.start for s in sentences][-3:] == [78, 83, 87]
    cuts = [0] + [x for s in sentences for x in (s.start, s.end)] + [len(TEXT)]
    gaps = [TEXT[a:b] for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    assert all(not gap.strip() for gap in gaps)  # only whitespace lies between the sentences


@pytest.mark.parametrize("text", ["  Leading space. And   extra   spaces here?  ",
                                  'Café naïve — "Quoted." Then more.', "No final stop"])
def test_spans_are_exact_with_odd_whitespace_unicode_and_no_final_stop(text):
    sentences = split_sentences(text)
    assert sentences and all(text[s.start:s.end] == s.text == s.text.strip() for s in sentences)
    assert all(a.end <= b.start for a, b in zip(sentences, sentences[1:], strict=False))


def test_blank_text_has_no_sentences_and_a_non_string_is_refused():
    assert split_sentences("") == [] and split_sentences(" \n\t ") == []
    with pytest.raises(ValueError, match="must be a str"):
        split_sentences(None)


def test_reorder_joins_the_sentences_in_the_order_given():
    sentences = [Sentence("A b.", 0, 4), Sentence("C d.", 5, 9), Sentence("E.", 10, 12)]
    assert reorder(sentences, [2, 0, 1]) == "E. A b. C d."
    assert reorder(sentences, [0, 1, 2], sep="\n") == "A b.\nC d.\nE."
    with pytest.raises(ValueError, match="not a permutation of the 3 sentences"):
        reorder(sentences, [0, 1, 1])


def test_join_gives_exact_spans_of_known_sentences():
    from nblib.data.sentences import join

    text, spans = join(["One two .", "Three ?", "Four"])
    assert text == "One two . Three ? Four"
    assert [text[s.start:s.end] for s in spans] == ["One two .", "Three ?", "Four"]
