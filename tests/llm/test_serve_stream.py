"""serve-model streaming and ``n`` > 1, driven by the official ``openai`` client over HTTP against a
real uvicorn server on 127.0.0.1 (scripted backends: fast, no model)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from openai import APIError, BadRequestError, OpenAI

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError
from humanllm.llm.scripted import ScriptedBackend
from humanllm.llm.serve_model import StreamingBackend, create_app
from humanllm.simulate.service import running


class Pet(BaseModel):
    name: str
    age: int


def pet_reply(request: ChatRequest) -> str | BaseException:
    """A pet named after the request's seed, so the choices of one request differ."""
    text = request.messages[-1][1]
    if text == "permanent":
        return PermanentError("cannot build a grammar")
    return json.dumps({"name": f"pet-{request.sampling.seed}", "age": 3})


class WordStreamer:
    """A backend that decodes word by word (the :class:`StreamingBackend` protocol)."""

    def __init__(self, words: list[str], fail_after: int | None = None) -> None:
        self.words = words
        self.fail_after = fail_after

    @property
    def model_id(self) -> str:
        return "word-streamer"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return ChatResponse(
            text="".join(self.words), prompt_tokens=4, completion_tokens=len(self.words)
        )

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        for i, word in enumerate(self.words):
            if self.fail_after is not None and i == self.fail_after:
                raise PermanentError("the model fell over mid-reply")
            yield word
        yield ChatResponse(text="", prompt_tokens=4, completion_tokens=len(self.words))

    async def aclose(self) -> None:
        return None


@contextmanager
def serve(backend: Any, max_n: int = 4) -> Iterator[OpenAI]:
    with running(create_app(backend, "tiny", default_max_tokens=50, max_n=max_n)) as url:
        yield OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)


@pytest.fixture
def client() -> Iterator[OpenAI]:
    with serve(ScriptedBackend(pet_reply, model_id="scripted-id")) as c:
        yield c


PET_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "pet", "schema": Pet.model_json_schema()},
}


def test_stream_sends_openai_chunks_and_usage_last(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "a pet"}],
        stream=True,
        stream_options={"include_usage": True},
        response_format=PET_FORMAT,
        seed=7,
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == "tiny" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    *body, last = chunks
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in body)
    assert body[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in body)
    assert Pet.model_validate_json(text) == Pet(name="pet-7", age=3)
    assert [c.choices[0].finish_reason for c in body][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in body[:-1])


def test_stream_without_usage_ends_with_done(client: OpenAI) -> None:
    base = str(client.base_url).rstrip("/")
    body = {"messages": [{"role": "user", "content": "x"}], "stream": True, "seed": 1}
    with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert chunks and all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_n_choices_differ_by_seed_streamed_or_not(client: OpenAI) -> None:
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "two pets"}], n=2, seed=10
    )
    assert [c.index for c in r.choices] == [0, 1]
    names = [Pet.model_validate_json(c.message.content or "").name for c in r.choices]
    assert names == ["pet-10", "pet-11"]
    words = sum(len((c.message.content or "").split()) for c in r.choices)
    assert r.usage is not None and r.usage.completion_tokens == words  # scripted: words

    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "two pets"}],
        n=2,
        seed=10,
        stream=True,
        response_format=PET_FORMAT,
    )
    texts = {0: "", 1: ""}
    finished = set()
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert finished == {0, 1}
    assert [Pet.model_validate_json(texts[i]).name for i in (0, 1)] == ["pet-10", "pet-11"]


def test_n_above_the_limit_is_a_clear_400(client: OpenAI) -> None:
    with pytest.raises(BadRequestError, match="limit of 4"):
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "x"}], n=5
        )
    with pytest.raises(BadRequestError, match="limit of 4"):
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "x"}], n=5, stream=True
        )


def test_a_failure_before_the_first_chunk_is_a_400(client: OpenAI) -> None:
    with pytest.raises(BadRequestError, match="grammar"):
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "permanent"}], stream=True
        )


def test_a_streaming_backend_sends_piece_by_piece() -> None:
    words = ["The ", "cat ", "sleeps."]
    assert isinstance(WordStreamer(words), StreamingBackend)
    with serve(WordStreamer(words)) as client:
        stream = client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        contents = [c.choices[0].delta.content for c in chunks if c.choices]
        assert [c for c in contents if c] == words
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_an_error_mid_stream_reaches_the_client() -> None:
    with serve(WordStreamer(["a ", "b ", "c "], fail_after=2)) as client:
        stream = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "x"}], stream=True
        )
        got: list[str] = []
        with pytest.raises(APIError, match="fell over"):
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
        assert "".join(got) == "a b "
