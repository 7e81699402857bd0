"""A fake ``vllm.LLM`` for the CPU, used by the vllm backend's tests in this process and in Ray
actors (tests/llm/test_vllm_ray.py pickles this module by value to the actors).

``FakeLLM`` has the part of ``vllm.LLM``'s interface the backend uses: ``chat(conversations,
sampling_params, use_tqdm=...)`` and ``generate(prompts, sampling_params, use_tqdm=...)``
returning request outputs (``prompt_token_ids``, ``outputs[i].text/.finish_reason/.token_ids``,
``prompt_logprobs``), and ``get_tokenizer()``. It records every call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from humanllm.llm.base import Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.runner import RunOutcome, arun_llm
from humanllm.llm.vllm_engine import VLLMApi


class FakeSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.n = kwargs.get("n", 1)


@dataclass
class FakeStructured:
    json: Any = None


@dataclass
class FakeLogprob:
    logprob: float


def token_logprob(token: int) -> float:
    return -0.25 * (token % 5) - 0.1


class FakeTokenizer:
    """One token per character (its code point); a template with turn markers."""

    def __call__(
        self, text: str, add_special_tokens: bool = False, split_special_tokens: bool = True
    ) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}

    def apply_chat_template(
        self, chat: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool
    ) -> str:
        body = "".join(f"<{m['role']}>{m['content']}\n" for m in chat)
        return body + ("<assistant>" if add_generation_prompt else "")


class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError's name
    pass


class EngineDeadError(RuntimeError):  # vllm.v1.engine.exceptions.EngineDeadError's name
    pass


Reply = Callable[[list[dict[str, str]], FakeSamplingParams], Any]


def echo(messages: list[dict[str, str]], params: FakeSamplingParams) -> Any:
    return messages[-1]["content"]


@dataclass
class FakeLLM:
    reply: Reply = echo
    chats: list[list[FakeSamplingParams]] = field(default_factory=list)
    conversations: list[list[list[dict[str, str]]]] = field(default_factory=list)
    generated: list[tuple[list[dict[str, list[int]]], FakeSamplingParams]] = field(
        default_factory=list
    )

    def chat(self, messages: list[Any], sampling_params: Any, use_tqdm: bool = True) -> list[Any]:
        assert isinstance(sampling_params, list) and len(sampling_params) == len(messages)
        self.chats.append(sampling_params)
        self.conversations.append(messages)
        outs = []
        for conv, p in zip(messages, sampling_params, strict=True):
            got = self.reply(conv, p)  # may raise
            text, reason = got if isinstance(got, tuple) else (got, "stop")
            prompt = "".join(m["content"] for m in conv)
            choices = [
                SimpleNamespace(
                    text=f"{text}#{i}" if p.n > 1 else text,
                    finish_reason=reason,
                    token_ids=list(range(len(text.split()))),
                )
                for i in range(p.n)
            ]
            outs.append(SimpleNamespace(prompt_token_ids=[0] * len(prompt), outputs=choices))
        return outs

    def generate(self, prompts: list[Any], sampling_params: Any, use_tqdm: bool = True) -> Any:
        self.generated.append((prompts, sampling_params))
        outs = []
        for p in prompts:
            ids = p["prompt_token_ids"]
            lps = [None] + [{t: FakeLogprob(token_logprob(t))} for t in ids[1:]]
            outs.append(SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=lps, outputs=[]))
        return outs

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()


API = VLLMApi(FakeSamplingParams, FakeStructured, "structured_outputs")


@dataclass
class FakeFactory:
    """Builds a :class:`FakeLLM` replying with ``reply`` (picklable: goes to Ray actors)."""

    reply: Reply = echo

    def __call__(self, cfg: Any) -> FakeLLM:
        return FakeLLM(self.reply)


@dataclass
class DieOnce:
    """Replies ``{"label": <the message>}``; the first time a message holds ``word``, the
    engine's process exits (a crash), leaving ``marker`` behind so the restarted one answers."""

    marker: str
    word: str = "die"

    def __call__(self, messages: list[dict[str, str]], params: FakeSamplingParams) -> Any:
        import os
        from pathlib import Path

        text = messages[-1]["content"]
        if self.word in text and not Path(self.marker).exists():
            Path(self.marker).touch()
            os._exit(1)
        return json.dumps({"label": text})


class Label(BaseModel):
    label: str


def label_rows(
    backend: Any,
    rows: list[dict[str, str]],
    run: Path,
    sampling: Sampling,
    runner_cfg: RunnerConfig | None = None,
) -> RunOutcome[Label]:
    """``rows`` (id, text) labelled through the runner with ``backend``, cached in ``run``."""

    async def go() -> RunOutcome[Label]:
        with RequestCache.in_run(run) as cache:
            out = await arun_llm(
                rows,
                render=lambda r: (("user", r["text"]),),
                schema=Label,
                backend=backend,
                cache=cache,
                stage="label",
                prompt_version="v1",
                sampling=sampling,
                runner_cfg=runner_cfg,
                progress=False,
            )
        await backend.aclose()
        return out

    return asyncio.run(go())
