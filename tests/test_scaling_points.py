"""nblib.data.scaling_points: Epoch's CSV layout loads; missing or unreachable data fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from nblib.data import scaling_points as sp

CSV = """x,y,color,Model Size,Training FLOP,hex_color,loss
10.5,20.1,blue,7.0e7,4.2e18,#0000ff,3.5
11.0,19.0,blue,7.0e7,8.4e18,#0000ff,3.3
30.2,10.4,green,1.0e9,6.0e20,#00ff00,2.5
40.0,5.0,red,1.6e10,9.6e21,#ff0000,5.01
"""


def test_epoch_layout_loads_with_tokens_from_flop(tmp_path):
    path = tmp_path / "svg_extracted_data.csv"
    path.write_text(CSV)
    df = sp.load_epoch_chinchilla(path)
    assert list(df.columns) == ["N", "D", "loss", "source"]
    np.testing.assert_allclose(df["N"], [7e7, 7e7, 1e9, 1.6e10])
    np.testing.assert_allclose(df["D"], [1e10, 2e10, 1e11, 1e11])  # FLOP / (6 N)
    np.testing.assert_allclose(df["loss"], [3.5, 3.3, 2.5, 5.01])
    assert set(df["source"]) == {"epoch_chinchilla"}
    kept = sp.load_epoch_chinchilla(str(path), drop_highest=1)
    assert len(kept) == 3 and kept["loss"].max() == 3.5


def test_wrong_columns_are_rejected(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="Model Size"):
        sp.load_epoch_chinchilla(path)


def _assert_clear(err):
    msg = str(err.value)
    assert "optional" in msg and sp.EPOCH_CHINCHILLA_URL in msg and "own grid" in msg


def test_missing_file_raises_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        sp.load_epoch_chinchilla(tmp_path / "nope.csv")
    assert isinstance(err.value, sp.ScalingDataUnavailable)
    _assert_clear(err)


def test_unreachable_url_raises_a_clear_error():
    with pytest.raises(ConnectionError) as err:
        sp.load_epoch_chinchilla("http://127.0.0.1:9/x.csv")
    assert isinstance(err.value, sp.ScalingDataUnavailable) and "127.0.0.1:9" in str(err.value)
    _assert_clear(err)


def test_packaged_tables_load_offline():
    g = sp.load_gadre2024()
    assert len(g) == 104 and set(g.dataset) == set(sp.GADRE_DATASETS)
    assert sorted(g.tpp.round(6).unique()) != []  # non-embedding N: ratios above 20·M
    total = sp.load_gadre2024(embeddings=True)
    assert np.allclose(total.tpp, 20 * total.multiplier, rtol=1e-3)  # M counts all parameters
    own = g.set_index("model").loss
    c4 = sp.load_gadre2024("c4_val").set_index("model").loss
    is_c4 = g.set_index("model").dataset == "c4_original"
    assert np.allclose(own[is_c4], c4[is_c4]) and not np.allclose(own[~is_c4], c4[~is_c4])
    e = sp.load_epoch_chinchilla()
    assert len(e) == 245 and (e.D > 0).all()
    assert len(sp.load_epoch_chinchilla(drop_highest=5)) == 240


def test_unknown_gadre_eval_set_is_refused():
    with pytest.raises(ValueError, match="eval_set='c5'"):
        sp.load_gadre2024("c5")
