"""Chat backends: turn conversations (lists of {"role", "content"} messages) into assistant replies.

`LocalChat` runs a `transformers` causal LM in this process (chat template, left padding, batched
and seeded generation); `EndpointChat` sends the same conversations to any OpenAI-compatible
`/chat/completions` server (vLLM, llama.cpp, `transformers serve`, a hosted API). An eval written
against `ChatBackend` scores a laptop model and a large served one with the same code.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Protocol

import torch

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": text}
Conversation = list[Message]


class ChatBackend(Protocol):
    name: str

    def reply(self, conversations: list[Conversation], max_new_tokens: int,
              seed: int = 0) -> list[str]:
        """One assistant reply per conversation, in order."""
        ...


@dataclass
class LocalChat:
    """A local causal LM with a chat template. Greedy when
    temperature is 0, else seeded sampling."""

    model: object  # a transformers causal LM in eval mode
    tokenizer: object  # its tokenizer (must carry a chat template)
    name: str = "local"  # label used in results
    batch_size: int = 16  # conversations generated together (sorted by length to limit padding)
    temperature: float = 0.0  # 0 = greedy decoding
    # called with the number of replies each finished generation batch adds (a progress bar)
    on_replies: Callable[[int], object] | None = None

    def __post_init__(self):
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"model {self.name!r}: its tokenizer has "
                             "no chat template; use an instruct model")
        self.tokenizer.padding_side = "left"  # generation continues from the right end
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @torch.no_grad()
    def reply(self, conversations: list[Conversation], max_new_tokens: int,
              seed: int = 0) -> list[str]:
        texts = [self.tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
                 for c in conversations]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        replies: list[str] = [""] * len(texts)
        device = next(self.model.parameters()).device
        sampling = self.temperature > 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            enc = self.tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(device)  # input_ids: (B, T)
            torch.manual_seed(seed + start)
            out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=sampling,
                                      temperature=self.temperature if sampling else None,
                                      top_p=None, top_k=None,
                                      pad_token_id=self.tokenizer.pad_token_id)
            new = out[:, enc["input_ids"].shape[1]:]  # (B, <= max_new_tokens)
            for i, text in zip(batch, self.tokenizer.batch_decode(new, skip_special_tokens=True),
                               strict=True):
                replies[i] = text.strip()
            if self.on_replies is not None:
                self.on_replies(len(batch))
        return replies


@dataclass
class EndpointChat:
    """An OpenAI-compatible chat server: POST {base_url}/chat/completions.

    Seeds and temperature are passed on; whether they are honoured is the server's business
    (`transformers serve` 5.x decodes greedily unless `extra={"generation_config":
    '{"do_sample": true}'}`, and reseeds globally, so seeded sampling reproduces only with
    parallel=1)."""

    base_url: str  # e.g. "http://127.0.0.1:8000/v1" or "https://api.openai.com/v1"
    model: str  # the model name the server expects
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the key (unset: no key sent)
    name: str = ""  # label used in results (default: the model name)
    temperature: float = 0.0  # 0 = greedy (as far as the server honours it)
    parallel: int = 4  # requests in flight at once
    timeout_s: float = 120.0  # per request
    extra: dict = field(default_factory=dict)  # more fields for the request body
    # called with 1 as each reply arrives (a progress bar)
    on_replies: Callable[[int], object] | None = None

    def __post_init__(self):
        self.base_url = self.base_url.rstrip("/")
        self.name = self.name or self.model

    def _post(self, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers,
                                         method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise RuntimeError(f"{self.base_url}{path} answered HTTP "
                               f"{error.code}: {detail}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ConnectionError("cannot reach the chat endpoint "
                                  f"{self.base_url} ({error}); is the "
                                  "server running, and is base_url the part "
                                  "before /chat/completions?") from error

    def check(self) -> list[str]:
        """The models the server lists (GET /models); raises ConnectionError at once when it cannot
        be reached. A server that answers /models with an error (`transformers serve` does for a
        model served from a folder) is reachable: the list is then empty."""
        try:
            return [m.get("id", "") for m in self._post("/models").get("data", [])]
        except RuntimeError:
            return []

    def _one(self, conversation: Conversation, max_new_tokens: int, seed: int) -> str:
        body = {"model": self.model, "messages": conversation, "max_tokens": max_new_tokens,
                "temperature": self.temperature, "seed": seed, **self.extra}
        choice = self._post("/chat/completions", body)["choices"][0]
        return (choice["message"].get("content") or "").strip()

    def reply(self, conversations: list[Conversation], max_new_tokens: int,
              seed: int = 0) -> list[str]:
        with ThreadPoolExecutor(self.parallel) as pool:
            futures = [
                pool.submit(self._one, c, max_new_tokens, seed + i)
                for i, c in enumerate(conversations)
            ]
            if self.on_replies is not None:
                for _ in as_completed(futures):
                    self.on_replies(1)
            return [f.result() for f in futures]
