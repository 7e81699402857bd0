"""The vllm backend on the CPU: everything around the engine, against a fake ``vllm.LLM``
(tests/llm/fake_vllm.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from humanllm.llm.backends import make_backend
from humanllm.llm.base import (
    ChatRequest,
    PermanentError,
    Sampling,
    Scorer,
    TransientError,
)
from humanllm.llm.config import LLMConfig, VLLMBackendConfig
from humanllm.llm.vllm_backend import VLLMBackend
from humanllm.llm.vllm_engine import api_from_module
from tests.llm.fake_vllm import (
    API,
    EngineDeadError,
    FakeLLM,
    FakeSamplingParams,
    FakeStructured,
    OutOfMemoryError,
    label_rows,
    token_logprob,
)


def backend(fake: FakeLLM, built: list[int] | None = None, **cfg: Any) -> VLLMBackend:
    def factory(c: VLLMBackendConfig) -> FakeLLM:
        if built is not None:
            built.append(1)
        return fake

    return VLLMBackend(
        VLLMBackendConfig(model="m", batch_window_s=0, **cfg), engine_factory=factory, api=API
    )


def req(text: str, seed: int = 1, schema: dict[str, Any] | None = None) -> ChatRequest:
    return ChatRequest(
        messages=(("system", "sys"), ("user", text)),
        sampling=Sampling(temperature=0.3, top_p=0.9, max_tokens=64, seed=seed),
        json_schema=schema,
    )


async def gather(b: VLLMBackend, *reqs: ChatRequest) -> list[Any]:
    return await asyncio.gather(*(b.chat(r) for r in reqs), return_exceptions=True)


def test_config_in_the_backend_union_and_factory() -> None:
    cfg = LLMConfig.model_validate(
        {"backends": {"big": {"kind": "vllm", "model": "x/y", "tensor_parallel_size": 4}}}
    )
    vc = cfg.backends["big"]
    assert isinstance(vc, VLLMBackendConfig)
    assert vc.engine_kwargs() == {
        "model": "x/y",
        "tensor_parallel_size": 4,
        "dtype": "auto",
        "gpu_memory_utilization": 0.9,
        "seed": 0,
    }
    b = make_backend(vc)
    assert isinstance(b, VLLMBackend) and isinstance(b, Scorer) and b.model_id == "vllm:x/y"
    more = VLLMBackendConfig(model="x", max_model_len=2048, engine_args={"enforce_eager": True})
    assert more.engine_kwargs()["max_model_len"] == 2048
    assert more.engine_kwargs()["enforce_eager"] is True


def test_structured_outputs_api_detected() -> None:
    new = SimpleNamespace(SamplingParams=FakeSamplingParams, StructuredOutputsParams=FakeStructured)
    old = SimpleNamespace(SamplingParams=FakeSamplingParams, GuidedDecodingParams=FakeStructured)
    assert api_from_module(new).structured_field == "structured_outputs"
    assert api_from_module(old).structured_field == "guided_decoding"
    with pytest.raises(PermanentError, match="StructuredOutputsParams"):
        api_from_module(SimpleNamespace(SamplingParams=FakeSamplingParams))


def test_requests_become_sampling_params_with_schema_and_seed() -> None:
    fake = FakeLLM()
    b = backend(fake)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    out = asyncio.run(gather(b, req("one", seed=11, schema=schema), req("two", seed=22)))
    assert [r.text for r in out] == ["one", "two"]
    p1, p2 = fake.chats[0]
    assert p1.kwargs["structured_outputs"] == FakeStructured(json=schema)
    assert "structured_outputs" not in p2.kwargs
    assert (p1.kwargs["seed"], p2.kwargs["seed"]) == (11, 22)
    assert p1.kwargs["temperature"] == 0.3 and p1.kwargs["top_p"] == 0.9
    assert p1.kwargs["max_tokens"] == 64 and p1.kwargs["n"] == 1
    assert fake.conversations[0][0] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "one"},
    ]
    off = FakeLLM()
    asyncio.run(gather(backend(off, structured_outputs=False), req("x", schema=schema)))
    assert "structured_outputs" not in off.chats[0][0].kwargs


def test_concurrent_requests_share_one_engine_call() -> None:
    fake = FakeLLM()
    b = backend(fake)
    out = asyncio.run(gather(b, *(req(f"r{i}", seed=i) for i in range(5))))
    assert [r.text for r in out] == [f"r{i}" for i in range(5)]
    assert [len(c) for c in fake.chats] == [5] and b.batch_sizes == [5]

    capped = FakeLLM()
    asyncio.run(gather(backend(capped, max_batch=2), *(req(f"r{i}") for i in range(5))))
    assert [len(c) for c in capped.chats] == [2, 2, 1]


def test_n_replies_and_usage_and_finish_reason() -> None:
    def reply(conv: list[dict[str, str]], p: FakeSamplingParams) -> Any:
        text = conv[-1]["content"]
        return (text, "length") if "long" in text else (text, None)

    fake = FakeLLM(reply)
    b = backend(fake)

    async def go() -> Any:
        return await asyncio.gather(
            b.chat_n(req("a b c"), 3), b.chat(req("very long reply")), b.chat(req("x"))
        )

    many, long, short = asyncio.run(go())
    assert [r.text for r in many] == ["a b c#0", "a b c#1", "a b c#2"]
    assert fake.chats[0][0].kwargs["n"] == 3 and len(fake.chats) == 1
    assert long.finish_reason == "length" and short.finish_reason == "stop"
    assert (long.prompt_tokens, long.completion_tokens) == (len("sysvery long reply"), 3)
    assert (many[0].prompt_tokens, many[0].completion_tokens) == (len("sysa b c"), 3)
    with pytest.raises(PermanentError):
        asyncio.run(b.chat_n(req("a"), 0))


def test_bad_request_in_a_batch_fails_alone() -> None:
    def reply(conv: list[dict[str, str]], p: FakeSamplingParams) -> Any:
        if "BAD" in conv[-1]["content"]:
            raise ValueError("prompt is longer than max_model_len")
        return conv[-1]["content"]

    fake = FakeLLM(reply)
    out = asyncio.run(gather(backend(fake), req("ok1"), req("BAD"), req("ok2")))
    assert out[0].text == "ok1" and out[2].text == "ok2"
    assert isinstance(out[1], PermanentError) and "max_model_len" in str(out[1])
    assert [len(c) for c in fake.chats] == [3, 1, 1, 1]


def test_engine_errors_are_transient() -> None:
    state: dict[str, Exception] = {"raise": OutOfMemoryError("CUDA out of memory")}

    def reply(conv: list[dict[str, str]], p: FakeSamplingParams) -> Any:
        exc = state.pop("raise", None)
        if exc is not None:
            raise exc
        return conv[-1]["content"]

    built: list[int] = []
    fake = FakeLLM(reply)
    b = backend(fake, built, max_batch=8)
    oom = asyncio.run(gather(b, req("a"), req("b")))
    assert all(isinstance(e, TransientError) for e in oom) and b.batch_cap == 4
    state["raise"] = EngineDeadError("engine core died")
    dead = asyncio.run(gather(b, req("c")))
    assert isinstance(dead[0], TransientError) and len(built) == 1
    again = asyncio.run(gather(b, req("d")))
    assert again[0].text == "d" and len(built) == 2  # a dead engine is built again
    state["raise"] = RuntimeError("something odd")
    assert isinstance(asyncio.run(gather(b, req("e")))[0], TransientError)

    def aborted(conv: list[dict[str, str]], p: FakeSamplingParams) -> Any:
        return ("x", "abort")

    assert isinstance(asyncio.run(gather(backend(FakeLLM(aborted)), req("f")))[0], TransientError)


def test_engine_that_cannot_be_built() -> None:
    def broken(c: VLLMBackendConfig) -> Any:
        raise RuntimeError("CUDA error: no device")

    b = VLLMBackend(VLLMBackendConfig(model="m"), engine_factory=broken, api=API)
    assert isinstance(asyncio.run(gather(b, req("a")))[0], TransientError)

    def bad_path(c: VLLMBackendConfig) -> Any:
        raise ValueError("no such model")

    b = VLLMBackend(VLLMBackendConfig(model="m"), engine_factory=bad_path, api=API)
    assert isinstance(asyncio.run(gather(b, req("a")))[0], PermanentError)


def test_loglikelihoods_from_prompt_logprobs() -> None:
    fake = FakeLLM()
    b = backend(fake)
    options = ["yes", "no", "maybe"]
    scores = b.loglikelihoods([("user", "Q?")], options)
    expected = [sum(token_logprob(ord(c)) for c in o) for o in options]
    assert scores == pytest.approx(expected)
    ((prompts, params),) = fake.generated
    assert params.kwargs["prompt_logprobs"] == 1 and params.kwargs["max_tokens"] == 1
    prefix = [ord(c) for c in "<user>Q?\n<assistant>"]
    assert [p["prompt_token_ids"] for p in prompts] == [
        prefix + [ord(c) for c in o] for o in options
    ]
    with pytest.raises(ValueError, match="no tokens"):
        b.loglikelihoods([("user", "Q?")], ["a", ""])


def test_through_the_runner(tmp_path: Path) -> None:
    def reply(conv: list[dict[str, str]], p: FakeSamplingParams) -> Any:
        text = conv[-1]["content"]
        if "cut" in text:
            return ('{"label": "unfini', "length")
        return json.dumps({"label": text.upper()})

    fake = FakeLLM(reply)
    b = backend(fake)
    rows = [{"id": f"r{i}", "text": f"item {i}"} for i in range(6)] + [{"id": "c", "text": "cut"}]

    out = label_rows(b, rows, tmp_path, Sampling(temperature=0.5, max_tokens=32))
    assert {k: v.label for k, v in out.results.items()} == {f"r{i}": f"ITEM {i}" for i in range(6)}
    assert [r.reason for r in out.rejects] == ["llm.truncated"]
    first = fake.chats[0]
    assert len(first) == 7  # the runner's concurrent requests went to the engine together
    seeds = [p.kwargs["seed"] for p in first]
    assert len(set(seeds)) == 7  # a seed of its own per record
    assert all(p.kwargs["structured_outputs"].json["type"] == "object" for p in first)
    assert "label" in first[0].kwargs["structured_outputs"].json["properties"]
