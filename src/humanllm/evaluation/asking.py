"""Free-text requests through the runner: letter answers, distractors and application outputs.

The runner validates every reply against a pydantic model. :class:`FreeText` is the model of a
plain-text reply: it sends no JSON schema (no guided decoding, so a model answers in its own
words, as the benchmarks' protocols expect) and accepts any text. Requests stay cached and
resumable like every other stage's. A reply cut off by ``max_tokens`` is a reject in the runner's
terms; here its raw text is still the model's answer, so :func:`texts` keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from humanllm.llm import replies
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.prompts import Messages
from humanllm.llm.runner import RunOutcome, arun_llm


class FreeText(BaseModel):
    """A reply taken as plain text: no JSON schema is sent and any text validates."""

    text: str

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return None  # type: ignore[return-value]  # no schema: the runner sends none

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> FreeText:  # type: ignore[override]
        raw = json_data.decode() if isinstance(json_data, bytes | bytearray) else json_data
        return cls(text=raw)


class Reply(BaseModel):
    """What came back for one request: the text (possibly cut off) or why there is none."""

    text: str = ""
    truncated: bool = False
    error: str | None = None


async def ask_texts(
    items: Iterable[Mapping[str, Any]],
    *,
    render: Callable[[Any], Messages],
    backend: Backend,
    cache: RequestCache,
    stage: str,
    prompt_version: str,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
    id_field: str = "id",
) -> dict[str, Reply]:
    """Ask once per item (no re-asking after a cut-off reply); ``{id: Reply}``."""
    rows = list(items)
    if not rows:
        return {}
    outcome = await arun_llm(
        rows,
        render=render,
        schema=FreeText,
        backend=backend,
        cache=cache,
        stage=stage,
        prompt_version=prompt_version,
        sampling=sampling,
        runner_cfg=runner_cfg.model_copy(update={"max_invalid_retries": 0}),
        id_field=id_field,
        progress=True,
    )
    return texts(outcome)


def texts(outcome: RunOutcome[FreeText]) -> dict[str, Reply]:
    out = {key: Reply(text=obj.text) for key, obj in outcome.results.items()}
    for r in outcome.rejects:
        if r.reason == replies.TRUNCATED:
            out[r.id] = Reply(text=r.raw_text, truncated=True)
        else:
            out[r.id] = Reply(text=r.raw_text, error=f"{r.reason}: {r.error}")
    return out


def trim_cut_off(text: str) -> str:
    """A cut-off answer back to its last full sentence, when that keeps at least half of it."""
    text = text.strip()
    end = max(text.rfind(c) for c in ".!?")
    return text[: end + 1] if end >= len(text) // 2 else text
