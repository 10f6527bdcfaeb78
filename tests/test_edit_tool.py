import pytest

from nblib.eval.edit_tool import EditError, format_edit, parse_edit


@pytest.mark.parametrize("call,n,keep", [
    ("<edit>delete 3-7</edit>", 8, [1, 1, 0, 0, 0, 0, 0, 1]),
    ("<edit>delete 1, 3-4, 6</edit>", 6, [0, 1, 0, 0, 1, 0]),
    ("  <edit> delete 2 - 3 </edit>\n", 3, [1, 0, 0]),
    ("<edit>delete none</edit>", 2, [1, 1]),
    ("<edit>delete 1-5</edit>", 5, [0, 0, 0, 0, 0]),
])
def test_hand_made_calls(call, n, keep):
    assert parse_edit(call, n) == [bool(k) for k in keep]


@pytest.mark.parametrize("keep,call", [
    ([1, 1, 0, 0, 0, 0, 0, 1], "<edit>delete 3-7</edit>"),
    ([0, 1, 0, 0, 1, 0], "<edit>delete 1, 3-4, 6</edit>"),
    ([1, 1], "<edit>delete none</edit>"),
    ([0], "<edit>delete 1</edit>"),
])
def test_format_writes_the_shortest_call_and_parse_reads_it_back(keep, call):
    keep = [bool(k) for k in keep]
    assert format_edit(keep) == call
    assert parse_edit(call, len(keep)) == keep


@pytest.mark.parametrize("call,n,match", [
    ("<edit>delete 3-9</edit>", 8, "outside the context's lines 1-8"),
    ("<edit>delete 0</edit>", 8, "outside the context's lines 1-8"),
    ("<edit>delete 5-3</edit>", 8, "written backwards"),
    ("<edit>delete 2-4, 4-6</edit>", 8, "must increase and not overlap"),
    ("<edit>delete 5, 2</edit>", 8, "must increase and not overlap"),
    ("<edit>delete lines 2</edit>", 8, "a range is 'a-b' or 'a'"),
    ("<edit>keep 2</edit>", 8, "not an edit call"),
    ("delete 2", 8, "not an edit call"),
    ("<edit>delete 1</edit>", 0, "nothing to edit"),
])
def test_bad_calls_are_refused(call, n, match):
    with pytest.raises(EditError, match=match):
        parse_edit(call, n)
