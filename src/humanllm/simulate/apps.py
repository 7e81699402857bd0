"""The six applications as a Python API: a person's inputs -> simulated answers.

Every prompt comes from :mod:`humanllm.tasks.prompts`, the functions the training data was built
with, so the model is asked exactly what it learned to answer. ``n`` answers are sampled at once
(temperature 0.7 by default, as the paper), with distinct seeds ``seed, seed + 1, ...``.

Usage::

    from humanllm.simulate import Simulator

    with Simulator.embedded() as sim:                 # the embedded GGUF through llama.cpp
        print(sim.profile("A retired teacher who restores old bikes.", n=2).texts)
        pick = sim.select(["Tea kettle", "Bike pump"], ["Chain oil"], persona="Cyclist.")
        print(pick.samples[0].item)

    async with Simulator(backend) as sim:             # any Backend, inside an event loop
        result = await sim.aexplain(scenario, question, profile=profile, n=4)

Item selection is validated: a reply must name one of the candidates (by its letter, as the task
is trained, or failing that by its exact title); a reply that names none is re-asked with another
seed up to ``select_attempts`` times, then :class:`SelectionError` says so.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any, TypedDict, TypeVar, Unpack

from humanllm.llm.base import Backend, ChatRequest, ChatResponse, Sampling, TransientError
from humanllm.llm.config import BackendConfig, LlamaCppBackendConfig
from humanllm.simulate.schemas import (
    DEFAULT_MAX_TOKENS,
    AppInput,
    Character,
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


def _norm(value: str) -> str:
    return " ".join(value.lower().split())


def parse_selection(reply: str, candidates: Sequence[str]) -> int | None:
    """The candidate a reply names: by its leading letter (:func:`~humanllm.tasks.prompts.parse_choice`,
    the trained answer format), else by the one title it contains (the longest when titles nest)."""
    index = P.parse_choice(reply, len(candidates))
    if index is not None:
        return index
    text = _norm(reply)
    hits = [i for i, c in enumerate(candidates) if _norm(c) and _norm(c) in text]
    if not hits:
        return None
    best = max(hits, key=lambda i: len(candidates[i]))
    if all(_norm(candidates[i]) in _norm(candidates[best]) for i in hits):
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


# --- the simulator ----------------------------------------------------------------------------


class Simulator:
    """One backend, loaded once, answering the six applications.

    ``aprofile`` / ``aexplain`` / ... are coroutines for use inside an event loop (the service);
    ``profile`` / ``explain`` / ... are their blocking twins (scripts, notebooks without a loop,
    the CLI), all run on one private event loop: call them from one thread at a time.
    """

    def __init__(self, backend: Backend, *, select_attempts: int = 4) -> None:
        if select_attempts < 1:
            raise ValueError("select_attempts must be at least 1")
        self.backend = backend
        self.select_attempts = select_attempts
        self._runner: asyncio.Runner | None = None

    @classmethod
    def from_config(cls, cfg: BackendConfig, **kwargs: Any) -> Simulator:
        from humanllm.llm.backends import make_backend

        return cls(make_backend(cfg), **kwargs)

    @classmethod
    def embedded(cls, **kwargs: Any) -> Simulator:
        """The embedded SmolLM2 GGUF through llama.cpp (CPU)."""
        return cls.from_config(LlamaCppBackendConfig(), **kwargs)

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    # -- generic ---------------------------------------------------------------------------------

    async def arun(self, inp: AppInput) -> Result | SelectResult:
        return await simulate(self.backend, inp, select_attempts=self.select_attempts)

    def run(self, inp: AppInput) -> Result | SelectResult:
        return self._sync(self.arun(inp))

    async def _text(self, inp: AppInput) -> Result:
        out = await self.arun(inp)
        assert isinstance(out, Result)
        return out

    # -- the six applications ------------------------------------------------------------------

    async def aprofile(self, persona: str, **opts: Unpack[Options]) -> Result:
        return await self._text(ProfileInput(persona=persona, **opts))

    async def aexplain(
        self,
        scenario: str,
        question: str,
        *,
        persona: str | None = None,
        profile: str | None = None,
        **opts: Unpack[Options],
    ) -> Result:
        inp = ExplainInput(
            scenario=scenario, question=question, persona=persona, profile=profile, **opts
        )
        return await self._text(inp)

    async def awrite(
        self,
        topic: str,
        kind: str = "social-media post",
        *,
        samples: Sequence[str] = (),
        style: str | None = None,
        **opts: Unpack[Options],
    ) -> Result:
        inp = WriteInput(topic=topic, kind=kind, samples=list(samples), style=style, **opts)
        return await self._text(inp)

    async def acomment(
        self,
        post: str,
        history: Sequence[str | Review],
        *,
        kind: str = "comment",
        **opts: Unpack[Options],
    ) -> Result:
        inp = CommentInput.model_validate(
            {"post": post, "history": list(history), "kind": kind, **opts}
        )
        return await self._text(inp)

    async def aselect(
        self,
        candidates: Sequence[str],
        history: Sequence[str | Review] = (),
        *,
        persona: str | None = None,
        profile: str | None = None,
        **opts: Unpack[Options],
    ) -> SelectResult:
        inp = SelectInput.model_validate(
            {
                "candidates": list(candidates),
                "history": list(history),
                "persona": persona,
                "profile": profile,
                **opts,
            }
        )
        out = await self.arun(inp)
        assert isinstance(out, SelectResult)
        return out

    async def ascenario(
        self,
        characters: Sequence[str | Character | tuple[str, str]],
        time: str = "",
        place: str = "",
        **opts: Unpack[Options],
    ) -> Result:
        cast = [
            {"name": c[0], "description": c[1]} if isinstance(c, tuple) else c for c in characters
        ]
        inp = ScenarioInput.model_validate(
            {"characters": cast, "time": time, "place": place, **opts}
        )
        return await self._text(inp)

    def profile(self, persona: str, **opts: Unpack[Options]) -> Result:
        return self._sync(self.aprofile(persona, **opts))

    def explain(
        self,
        scenario: str,
        question: str,
        *,
        persona: str | None = None,
        profile: str | None = None,
        **opts: Unpack[Options],
    ) -> Result:
        return self._sync(
            self.aexplain(scenario, question, persona=persona, profile=profile, **opts)
        )

    def write(
        self,
        topic: str,
        kind: str = "social-media post",
        *,
        samples: Sequence[str] = (),
        style: str | None = None,
        **opts: Unpack[Options],
    ) -> Result:
        return self._sync(self.awrite(topic, kind, samples=samples, style=style, **opts))

    def comment(
        self,
        post: str,
        history: Sequence[str | Review],
        *,
        kind: str = "comment",
        **opts: Unpack[Options],
    ) -> Result:
        return self._sync(self.acomment(post, history, kind=kind, **opts))

    def select(
        self,
        candidates: Sequence[str],
        history: Sequence[str | Review] = (),
        *,
        persona: str | None = None,
        profile: str | None = None,
        **opts: Unpack[Options],
    ) -> SelectResult:
        return self._sync(
            self.aselect(candidates, history, persona=persona, profile=profile, **opts)
        )

    def scenario(
        self,
        characters: Sequence[str | Character | tuple[str, str]],
        time: str = "",
        place: str = "",
        **opts: Unpack[Options],
    ) -> Result:
        return self._sync(self.ascenario(characters, time, place, **opts))

    # -- lifetime ------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """One tiny request: loads a lazily loaded model now and fails early on a bad one."""
        request = ChatRequest(
            messages=(("user", "Hello"),), sampling=Sampling(temperature=0.0, max_tokens=1, seed=0)
        )
        self._sync(self.backend.chat(request))

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "a blocking Simulator method was called inside a running event loop: "
                "await its a-twin instead (e.g. await sim.aprofile(...))"
            )
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(coro)

    async def aclose(self) -> None:
        await self.backend.aclose()

    def close(self) -> None:
        if self._runner is None:
            asyncio.run(self.backend.aclose())
            return
        self._runner.run(self.backend.aclose())
        self._runner.close()
        self._runner = None

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Simulator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
