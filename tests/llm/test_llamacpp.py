"""The llama.cpp backend: grammars from JSON schemas, and real round trips with the embedded model."""

import asyncio
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling
from humanllm.llm.config import LlamaCppBackendConfig

pytest.importorskip("llama_cpp")

from humanllm.llm.llamacpp import LlamaCppBackend, schema_to_gbnf
from tests.llm.injection import INJECTION, fenced

pytestmark = pytest.mark.llamacpp


class Mood(BaseModel):
    mood: str = Field(max_length=40)
    score: int = Field(ge=1, le=10)
    tags: list[Literal["calm", "angry", "sad", "happy"]] = Field(min_length=1, max_length=3)
    note: str | None = Field(default=None, max_length=30)


def ask(text: str, seed: int = 0, **kw: object) -> ChatRequest:
    sampling = Sampling(**{"temperature": 0.8, "max_tokens": 200, "seed": seed, **kw})  # type: ignore[arg-type]
    return ChatRequest(messages=(("user", text),), sampling=sampling)


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    b = LlamaCppBackend(LlamaCppBackendConfig(n_parallel=2, n_ctx=1024))
    yield b
    asyncio.run(b.aclose())


def test_small_int_ranges_become_enums_and_strings_exclude_control_chars() -> None:
    g = schema_to_gbnf(Mood.model_json_schema())
    assert 'score ::= "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10"' in g
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in g
    wide = schema_to_gbnf(
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}
    )
    assert "integer" in wide
    excl = schema_to_gbnf({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3})
    assert 'root ::= "1" | "2"' in excl


def test_unknown_schema_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="grammar"):
        schema_to_gbnf({"type": "strin"})


def test_embedded_model_returns_schema_valid_json(backend: LlamaCppBackend) -> None:
    assert isinstance(backend, Backend)
    schema = Mood.model_json_schema()
    requests = [
        ChatRequest(
            messages=(("user", f"Describe the mood of someone who {what}, as JSON."),),
            sampling=Sampling(temperature=1.0, max_tokens=200, seed=seed),
            json_schema=schema,
        )
        for seed, what in enumerate(
            ["lost their keys", "won a prize", "missed the bus", "met a friend"]
        )
    ]

    async def all_of_them():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*(backend.chat(r) for r in requests))

    replies = asyncio.run(all_of_them())
    for r in replies:
        # the grammar bounds the reply well under max_tokens, so it always finishes
        assert r.finish_reason == "stop", r
        Mood.model_validate_json(r.text)
        assert r.prompt_tokens > 10 and r.completion_tokens > 5
        assert r.model == backend.model_id


def test_seed_reproduces_and_max_tokens_gives_length(backend: LlamaCppBackend) -> None:
    a = asyncio.run(backend.chat(ask("Tell me about cats.", seed=3, max_tokens=24)))
    b = asyncio.run(backend.chat(ask("Tell me about cats.", seed=3, max_tokens=24)))
    assert a.text == b.text
    assert a.finish_reason == "length" and a.completion_tokens == 24
    big_seed = asyncio.run(backend.chat(ask("Hi", seed=2**62, max_tokens=4)))
    assert big_seed.completion_tokens <= 4


def test_model_id_identifies_the_weights(backend: LlamaCppBackend) -> None:
    name, size, digest = backend.model_id.removeprefix("llamacpp:").split(":")
    assert name == backend.model_path.name and int(size) == backend.model_path.stat().st_size
    assert len(digest) == 12
    assert backend.threads_per_instance >= 1


def test_prompt_longer_than_context_is_permanent() -> None:
    b = LlamaCppBackend(LlamaCppBackendConfig(n_ctx=128))
    try:
        with pytest.raises(PermanentError, match="context window"):
            asyncio.run(b.chat(ask("word " * 400, max_tokens=8)))
    finally:
        asyncio.run(b.aclose())
    with pytest.raises(PermanentError, match="closed"):
        asyncio.run(b.chat(ask("hi")))


def test_missing_gguf_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermanentError, match="GGUF file not found"):
        LlamaCppBackend(LlamaCppBackendConfig(model_path=str(tmp_path / "nope.gguf")))


def test_throughput_helper_reports_tokens_per_second() -> None:
    from humanllm.llm.throughput import embedded_throughput

    out = embedded_throughput(n_requests=2, n_parallel=2, max_tokens=8)
    assert out["n_requests"] == 2 and out["n_parallel"] == 2
    assert 0 < out["completion_tokens"] <= 16 and out["tokens_per_s"] > 0


def test_control_tokens_in_user_text_stay_plain_text(backend: LlamaCppBackend) -> None:
    import llama_cpp

    vocab = backend._slots[0].llm._model.vocab
    control = {
        i
        for i in range(llama_cpp.llama_vocab_n_tokens(vocab))
        if llama_cpp.llama_vocab_get_attr(vocab, i) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    }
    seen: list[list[int]] = []
    for slot in backend._slots:  # record the prompt ids llama.cpp is given, whichever path
        original = slot.llm.create_completion

        def record(*args: object, _orig: Any = original, **kw: object) -> object:
            seen.append(list(kw["prompt"]))  # type: ignore[call-overload]
            return _orig(*args, **kw)

        slot.llm.create_completion = record  # type: ignore[method-assign,assignment]
    try:
        messages = fenced(INJECTION)
        backend.chat_blocking(ChatRequest(messages=messages, sampling=Sampling(max_tokens=1)))
    finally:
        for slot in backend._slots:
            del slot.llm.create_completion
    ids = seen[-1]
    start, end = (backend._slots[0].llm._model.token_get_text(i) for i in (1, 2))
    assert (start, end) == ("<|im_start|>", "<|im_end|>")
    # only the template's turn markers: system, user, and the assistant's generation prompt
    assert [i for i in ids if i in control] == [1, 2, 1, 2, 1]
    same, spans = backend._slots[0].prompt_tokens(messages)
    assert same == ids and len(spans) == 2
    for a, b in spans:  # the messages' own ids: no control token among them
        assert not control & set(ids[a:b])
    user = backend._slots[0].llm.detokenize(ids[spans[1][0] : spans[1][1]]).decode()
    assert INJECTION in user  # the post arrives whole, as text
    # the template's own markers are real control tokens: before the system message, and the
    # end of the user's turn and the assistant's turn after the post
    assert ids[0] == 1 and ids[spans[1][1] :].count(2) == 1 and ids[spans[1][1] :].count(1) == 1


def test_ordinary_prompts_tokenize_as_before(backend: LlamaCppBackend) -> None:
    slot = backend._slots[0]
    messages = fenced("A calm day at the beach with my dog, then pizza.")
    ids, _ = slot.prompt_tokens(messages)
    chat = [{"role": r, "content": c} for r, c in messages]
    whole = slot._chat_formatter()(messages=chat).prompt
    assert ids == slot.tokenize(whole, special=True)
