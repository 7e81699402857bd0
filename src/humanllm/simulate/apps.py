"""The applications as a Python API: a person's inputs -> simulated answers.

Each task owns its application (:class:`SimApp`, ``Task.app``), whose prompt is the function the
task's training data was built with, so the model is asked exactly what it learned to answer. ``n`` answers are sampled at once
(temperature 0.7 by default, as the paper), with distinct seeds ``seed, seed + 1, ...``.

The :class:`humanllm.simulate.simulator.Simulator` wraps them for scripts, the CLI and the
service.

Item selection is validated: a reply must name one of the candidates (by its letter, as the task
is trained, or failing that by its exact title); a reply that names none is re-asked with another
seed up to ``select_attempts`` times, then :class:`SelectionError` says so.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
import typing
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from humanllm.llm.base import Backend, ChatRequest, ChatResponse, Sampling, TransientError
from humanllm.simulate.schemas import (
    AppInput,
    PromptText,
    Result,
    Review,
    Sample,
    SampleOptions,
    Selection,
    SelectResult,
    apps,
)
from humanllm.tasks import prompts as P
from humanllm.text import fold

if TYPE_CHECKING:
    from humanllm.simulate.people import History, Person

T = TypeVar("T")
R = TypeVar("R", Result, SelectResult)
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


# --- the applications -------------------------------------------------------------------------


def _nothing(person: Person, history: History) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class SimApp:
    """One application: the options model a person's inputs are checked against, the training
    prompt they fill, and how it is answered. Owned by its task (``Task.app``); the CLI command,
    the HTTP endpoint and the page's form are made from it."""

    name: str  # the command (``humanllm simulate <name>``) and the endpoint (``/api/<name>``)
    input: type[SampleOptions]  # its options model
    prompt: Callable[[Any], P.Prompt]  # an ``input`` -> the training prompt of the task
    max_tokens: int  # reply budget when the input gives none
    help: str  # one line: what goes in and what comes out
    # the fields it takes from a genome user (others come from the caller)
    from_person: Callable[[Person, History], dict[str, Any]] = _nothing
    # a choice application: the options a reply must name (by letter or title), re-asked until
    # it names one; None: the replies are the answers
    candidates: Callable[[Any], Sequence[str]] | None = None
    # its place in the list of applications (commands, endpoints, the page's tabs); None: after
    # the placed ones, in the registry's order
    position: int | None = None

    @classmethod
    def of(
        cls,
        name: str,
        prompt: Callable[[Any], P.Prompt],
        *,
        max_tokens: int,
        position: int | None = None,
        from_person: Callable[[Person, History], dict[str, Any]] = _nothing,
        candidates: Callable[[Any], Sequence[str]] | None = None,
    ) -> SimApp:
        """The application of ``prompt``, a function of one options model: ``input`` is the
        annotation of its argument, ``help`` its docstring (white space folded)."""
        arg = next(iter(inspect.signature(prompt).parameters))
        model = typing.get_type_hints(prompt)[arg]
        text = " ".join((inspect.getdoc(prompt) or "").split())
        if not text:
            raise ValueError(f"{prompt.__qualname__}: its docstring is the application's help")
        return cls(name, model, prompt, max_tokens, text, from_person, candidates, position)


def history_of(reviews: Sequence[Review], default_item: str) -> list[P.Review]:
    """Earlier reviews or comments of an input as the prompts take them."""
    return [P.Review(r.item.strip() or default_item, r.text, r.rating) for r in reviews]


def app_of(inp: AppInput) -> SimApp:
    """The application whose options model ``inp`` is."""
    for app in apps():
        if type(inp) is app.input:
            return app
    raise TypeError(f"not an application input: {type(inp).__name__}")


def build_prompt(inp: AppInput) -> P.Prompt:
    """The training prompt of the application ``inp`` is for, filled with ``inp``."""
    return app_of(inp).prompt(inp)


def application_of(inp: AppInput) -> str:
    return app_of(inp).name


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
    app = app_of(inp)
    prompt = app.prompt(inp)
    max_tokens = inp.max_tokens or app.max_tokens
    base = inp.seed if inp.seed is not None else random.getrandbits(31)
    start = time.perf_counter()
    shown = PromptText(system=prompt.system, human=prompt.human)

    def result(kind: type[R], **fields: Any) -> R:
        return kind(
            application=app.name,
            model=backend.model_id,
            prompt=shown,
            elapsed_s=round(time.perf_counter() - start, 4),
            **fields,
        )

    if app.candidates is not None:
        candidates = list(app.candidates(inp))
        picks = await _gather(
            _select_one(backend, prompt, inp, candidates, max_tokens, base, i, select_attempts)
            for i in range(inp.n)
        )
        return result(SelectResult, candidates=candidates, samples=list(picks))
    replies = await _gather(
        _chat(backend, _request(prompt, inp, max_tokens, base + i)) for i in range(inp.n)
    )
    samples = [
        Sample(text=r.text.strip(), seed=base + i, finish_reason=r.finish_reason)
        for i, r in enumerate(replies)
    ]
    return result(Result, samples=samples)


async def _select_one(
    backend: Backend,
    prompt: P.Prompt,
    inp: SampleOptions,
    candidates: Sequence[str],
    max_tokens: int,
    base: int,
    i: int,
    attempts: int,
) -> Selection:
    replies = []
    for attempt in range(attempts):
        seed = base + i + attempt * inp.n  # sample i's re-asks never reuse another sample's seed
        reply = await _chat(backend, _request(prompt, inp, max_tokens, seed))
        choice = parse_selection(reply.text, candidates)
        if choice is not None:
            return Selection(
                text=reply.text.strip(),
                seed=seed,
                finish_reason=reply.finish_reason,
                choice=choice,
                item=candidates[choice],
                attempts=attempt + 1,
            )
        replies.append(reply.text.strip())
    shown = "; ".join(repr(r[:80]) for r in replies[-2:])
    raise SelectionError(
        f"the model named none of the {len(candidates)} candidates in {attempts} replies "
        f"(last: {shown}); try another model, a lower temperature or fewer candidates"
    )
