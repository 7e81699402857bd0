"""The six applications as a Python API: a person's inputs -> simulated answers.

Every prompt comes from :mod:`humanllm.tasks.prompts`, the functions the training data was built
with, so the model is asked exactly what it learned to answer. ``n`` answers are sampled at once
(temperature 0.7 by default, as the paper), with distinct seeds ``seed, seed + 1, ...``.

The :class:`humanllm.simulate.simulator.Simulator` wraps them for scripts, the CLI and the
service.

Item selection is validated: a reply must name one of the candidates (by its letter, as the task
is trained, or failing that by its exact title); a reply that names none is re-asked with another
seed up to ``select_attempts`` times, then :class:`SelectionError` says so.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypedDict, TypeVar

from humanllm.llm.base import Backend, ChatRequest, ChatResponse, Sampling, TransientError
from humanllm.simulate.schemas import (
    DEFAULT_MAX_TOKENS,
    AppInput,
    CommentInput,
    ExplainInput,
    ProfileInput,
    PromptText,
    Result,
    Review,
    Sample,
    SampleOptions,
    ScenarioInput,
    SelectInput,
    Selection,
    SelectResult,
    WriteInput,
)
from humanllm.tasks import prompts as P
from humanllm.text import fold

T = TypeVar("T")
TRANSIENT_RETRIES = 3  # a 429/5xx/time-out is retried this often, with backoff


class SimulationError(RuntimeError):
    """The model could not produce a usable answer (the input itself was fine)."""


class SelectionError(SimulationError):
    """No reply named one of the candidates."""


class Options(TypedDict, total=False):
    """Sampling options every application takes (see :class:`SampleOptions`)."""

    n: int
    temperature: float
    max_tokens: int | None
    seed: int | None


# --- prompts ----------------------------------------------------------------------------------


def _history(reviews: Sequence[Review], default_item: str) -> list[P.Review]:
    return [P.Review(r.item.strip() or default_item, r.text, r.rating) for r in reviews]


def build_prompt(inp: AppInput) -> P.Prompt:
    """The training prompt of the application ``inp`` is for, filled with ``inp``."""
    if isinstance(inp, ProfileInput):
        return P.profile_generation(inp.persona)
    if isinstance(inp, ExplainInput):
        return P.social_qa(inp.scenario, inp.question, persona=inp.persona, profile=inp.profile)
    if isinstance(inp, WriteInput):
        return P.writing_imitation(
            inp.topic, inp.kind, history=inp.samples, writing_style=inp.style
        )
    if isinstance(inp, CommentInput):
        default = "an item" if inp.kind == "review" else "a post"
        return P.personalized_commenting(inp.post, _history(inp.history, default), kind=inp.kind)
    if isinstance(inp, SelectInput):
        bought = [P.Review(r.item.strip(), rating=r.rating) for r in inp.history if r.item.strip()]
        return P.item_selection(inp.candidates, bought, persona=inp.persona, profile=inp.profile)
    if isinstance(inp, ScenarioInput):
        cast = [(c.name, c.description) for c in inp.characters]
        return P.scenario_generation(cast, inp.time, inp.place)
    raise TypeError(f"not an application input: {type(inp).__name__}")


def application_of(inp: AppInput) -> str:
    names = {
        ProfileInput: "profile",
        ExplainInput: "explain",
        WriteInput: "write",
        CommentInput: "comment",
        SelectInput: "select",
        ScenarioInput: "scenario",
    }
    return names[type(inp)]


def parse_selection(reply: str, candidates: Sequence[str]) -> int | None:
    """The candidate a reply names: by its leading letter (:func:`~humanllm.tasks.prompts.parse_choice`,
    the trained answer format), else by the one title it contains (the longest when titles nest)."""
    index = P.parse_choice(reply, len(candidates))
    if index is not None:
        return index
    text = fold(reply)
    hits = [i for i, c in enumerate(candidates) if fold(c) and fold(c) in text]
    if not hits:
        return None
    best = max(hits, key=lambda i: len(candidates[i]))
    if all(fold(candidates[i]) in fold(candidates[best]) for i in hits):
        return best
    return None


# --- sampling ---------------------------------------------------------------------------------


async def _chat(backend: Backend, request: ChatRequest) -> ChatResponse:
    for retry in range(TRANSIENT_RETRIES + 1):
        try:
            return await backend.chat(request)
        except TransientError as e:
            if retry == TRANSIENT_RETRIES:
                raise
            wait = e.retry_after if e.retry_after is not None else 0.5 * 2**retry
            await asyncio.sleep(min(wait, 30.0) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


def _request(prompt: P.Prompt, opts: SampleOptions, max_tokens: int, seed: int) -> ChatRequest:
    sampling = Sampling(temperature=opts.temperature, max_tokens=max_tokens, seed=seed)
    return ChatRequest(
        messages=(("system", prompt.system), ("user", prompt.human)), sampling=sampling
    )


async def _gather(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """All results in order; the first failure cancels the samples still running."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        raise


async def simulate(
    backend: Backend, inp: AppInput, *, select_attempts: int = 4
) -> Result | SelectResult:
    """Answer one application input with ``inp.n`` samples drawn concurrently."""
    app = application_of(inp)
    prompt = build_prompt(inp)
    max_tokens = inp.max_tokens or DEFAULT_MAX_TOKENS[app]
    base = inp.seed if inp.seed is not None else random.getrandbits(31)
    start = time.perf_counter()
    shown = PromptText(system=prompt.system, human=prompt.human)
    if isinstance(inp, SelectInput):
        picks = await _gather(
            _select_one(backend, prompt, inp, max_tokens, base, i, select_attempts)
            for i in range(inp.n)
        )
        return SelectResult(
            application="select",
            model=backend.model_id,
            prompt=shown,
            elapsed_s=round(time.perf_counter() - start, 4),
            candidates=list(inp.candidates),
            samples=list(picks),
        )
    replies = await _gather(
        _chat(backend, _request(prompt, inp, max_tokens, base + i)) for i in range(inp.n)
    )
    samples = [
        Sample(text=r.text.strip(), seed=base + i, finish_reason=r.finish_reason)
        for i, r in enumerate(replies)
    ]
    return Result(
        application=app,  # type: ignore[arg-type]
        model=backend.model_id,
        prompt=shown,
        elapsed_s=round(time.perf_counter() - start, 4),
        samples=samples,
    )


async def _select_one(
    backend: Backend,
    prompt: P.Prompt,
    inp: SelectInput,
    max_tokens: int,
    base: int,
    i: int,
    attempts: int,
) -> Selection:
    replies = []
    for attempt in range(attempts):
        seed = base + i + attempt * inp.n  # sample i's re-asks never reuse another sample's seed
        reply = await _chat(backend, _request(prompt, inp, max_tokens, seed))
        choice = parse_selection(reply.text, inp.candidates)
        if choice is not None:
            return Selection(
                text=reply.text.strip(),
                seed=seed,
                finish_reason=reply.finish_reason,
                choice=choice,
                item=inp.candidates[choice],
                attempts=attempt + 1,
            )
        replies.append(reply.text.strip())
    shown = "; ".join(repr(r[:80]) for r in replies[-2:])
    raise SelectionError(
        f"the model named none of the {len(inp.candidates)} candidates in {attempts} replies "
        f"(last: {shown}); try another model, a lower temperature or fewer candidates"
    )
