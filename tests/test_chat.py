"""nblib.eval.chat: a local chat model, and the same model behind a real OpenAI-compatible server.

The server is `transformers serve`, run offline on the packaged SmolLM2-135M-Instruct. It lists
(GET /v1/models) only models in the Hugging Face hub cache, so the fixture lays out a throwaway hub
cache whose snapshot links to the converted folder, and serves it by that hub id.
"""

import copy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nblib.eval.chat import EndpointChat, LocalChat
from nblib.models.pretrained import converted_folder, load_pretrained

HUB_ID = "nblib/smollm2-135m-instruct"  # what the server is pinned to and lists
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
CONVERSATIONS = [  # different lengths, so a batch is left-padded and reordered by length
    [{"role": "system", "content": "You answer in one short sentence."},
     {"role": "user", "content": "Name a primary colour."},
     {"role": "assistant", "content": "Red is a primary colour."},
     {"role": "user", "content": "Name another one, please."}],
    FRANCE,
    [{"role": "user", "content": "Write a haiku about the sea."}],
]


@pytest.fixture(scope="module")
def smol():
    return load_pretrained()


def _free_port() -> int:
    with socket.socket() as s:  # nothing listens on it once closed
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`transformers serve` pinned to the packaged model; yields
    its base URL, killed at teardown."""
    hub = tmp_path_factory.mktemp("hub")
    repo, commit = hub / f"models--{HUB_ID.replace('/', '--')}", "0" * 40
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for file in converted_folder().iterdir():
        (repo / "snapshots" / commit / file.name).symlink_to(file)
    port, log = _free_port(), hub / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub)}
    command = [str(Path(sys.executable).parent / "transformers"), "serve", HUB_ID,
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/models", timeout=5).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    state = (
                        f"exited with {process.returncode}"
                        if process.poll() is not None
                        else "timed out"
                    )
                    pytest.fail(
                        f"`{' '.join(command)}` {state}; its output:\n{log.read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- LocalChat ----


def test_batched_greedy_replies_equal_one_by_one_in_order(smol):
    batched = LocalChat(smol.model, smol.tokenizer, batch_size=3).reply(CONVERSATIONS,
                                                                        max_new_tokens=16)
    single = LocalChat(smol.model, smol.tokenizer, batch_size=1).reply(CONVERSATIONS,
                                                                       max_new_tokens=16)
    assert batched == single
    assert all(batched) and len(set(batched)) == 3
    assert "Paris" in batched[1]


def test_on_replies_counts_each_finished_batch(smol):
    done = []
    LocalChat(smol.model, smol.tokenizer, batch_size=2, on_replies=done.append).reply(
        CONVERSATIONS, max_new_tokens=2)
    assert done == [2, 1]  # three conversations in batches of two


def test_seeded_sampling_is_reproducible(smol):
    chat = LocalChat(smol.model, smol.tokenizer, temperature=1.0, batch_size=2)
    a, b = chat.reply(CONVERSATIONS, 8, seed=1), chat.reply(CONVERSATIONS, 8, seed=1)
    assert a == b
    assert chat.reply(CONVERSATIONS, 8, seed=2) != a


def test_a_tokenizer_without_chat_template_is_refused(smol):
    bare = copy.copy(smol.tokenizer)
    bare.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        LocalChat(smol.model, bare, name="base")


# ---- EndpointChat ----


def test_unreachable_endpoint_fails_and_says_so():
    # refused, not timed out
    chat = EndpointChat(f"http://127.0.0.1:{_free_port()}/v1", HUB_ID, timeout_s=5)
    with pytest.raises(ConnectionError,
                       match="cannot reach the chat endpoint.*is the server running"):
        chat.check()
    with pytest.raises(ConnectionError):
        chat.reply([FRANCE], max_new_tokens=4)


def test_check_lists_the_served_model(server):
    assert EndpointChat(server, HUB_ID).check() == [HUB_ID]


def test_served_greedy_replies_equal_local_ones(server, smol):
    served = EndpointChat(server, HUB_ID, parallel=2).reply(CONVERSATIONS[:2], max_new_tokens=16)
    local = LocalChat(smol.model, smol.tokenizer).reply(CONVERSATIONS[:2], max_new_tokens=16)
    assert all(served) and served == local
    assert "Paris" in served[1]


def test_wrong_model_name_is_an_http_error(server):
    with pytest.raises(RuntimeError, match="HTTP 400.*pinned"):
        EndpointChat(server, "some/other-model").reply([FRANCE], max_new_tokens=4)
