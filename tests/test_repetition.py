import math

import pytest

from nblib.data.repetition import Meter, meter


def test_shares_on_a_hand_built_stream():
    a, b, c = ("x", "y", "z"), ("y", "z", "w"), ("p", "q")
    stream = [[a, b], [a, c], [a, b]]  # doc 3 repeats doc 1; sentence a repeats twice, b once
    r = meter(stream, n=2)
    assert r.documents == pytest.approx(1 / 3)
    assert r.sentences == pytest.approx(3 / 6)
    # 2-grams per doc: xy yz zy yz zw | xy yz zp pq | xy yz zy yz zw: repeats 1 (yz within doc
    # 1) + 2 (xy, yz) + 5 (all of doc 3)
    assert r.ngrams == pytest.approx(8 / 14)
    assert math.isnan(r.fact_ngrams) and r.n_documents == 3 and r.n_tokens == 17


def test_fact_ngrams_count_only_ngrams_holding_a_flagged_token():
    docs = [[("a", "b", "c")], [("a", "b", "d")]]
    facts = [[(False, False, True)], [(False, False, True)]]
    r = meter(docs, n=2, facts=facts)
    # 2-grams: ab bc | ab bd; fact 2-grams: bc | bd -> none repeats; ab repeats
    assert r.ngrams == pytest.approx(1 / 4) and r.fact_ngrams == 0.0


def test_a_stream_without_repeats_meters_zero_and_the_incremental_meter_agrees():
    docs = [[(f"w{i}", f"v{i}", f"u{i}")] for i in range(20)]
    facts = [[(True, False, False)]] * 20
    m = Meter(3)
    for d, f in zip(docs, facts, strict=True):
        m.add(d, f)
    assert m.result() == meter(docs, 3, facts=facts)
    assert meter(docs, 3).ngrams == 0.0 and meter(docs, 3).documents == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="n=0"):
        meter([[("a",)]], n=0)
    with pytest.raises(ValueError, match="empty stream"):
        meter([], n=2)
    with pytest.raises(ValueError, match="2 fact flags for 3 tokens"):
        meter([[("a", "b", "c")]], n=2, facts=[[(True, False)]])
