import pytest
import torch

from nblib.data.packing import pack, pad_rows


def test_pack_cuts_one_stream_into_windows_that_overlap_by_one_token():
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9]]
    rows = pack(iter(docs), context=3, n_rows=3, start_id=0)  # stream 0 1 2 3 0 4 5 0 6 7 ...
    assert rows.tolist() == [[0, 1, 2, 3], [3, 0, 4, 5], [5, 0, 6, 7]]
    assert (rows[1:, 0] == rows[:-1, -1]).all()  # every token is a target exactly once


def test_pack_stops_reading_an_endless_stream_and_refuses_a_short_one():
    def endless():
        while True:
            yield [1, 2]
    assert pack(endless(), context=4, n_rows=5, start_id=9).shape == (5, 5)
    with pytest.raises(ValueError, match="need 13"):
        pack([[1, 2]], context=4, n_rows=3, start_id=0)


def test_pad_rows_aligns_labels_with_the_targets():
    ids, labels = pad_rows([[5, 6, 7], [8]], start_id=1, pad_id=0, labels=[[0, 1, 2], [2]])
    assert ids.tolist() == [[1, 5, 6, 7], [1, 8, 0, 0]]
    assert labels.tolist() == [[0, 1, 2], [2, -1, -1]]  # labels of ids[:, 1:]
    assert torch.equal(pad_rows([[5]], 1, 0), torch.tensor([[1, 5]]))
