"""The :class:`Simulator`: one backend, loaded once, answering the six applications.

Usage::

    from humanllm.simulate import Simulator

    with Simulator.embedded() as sim:                 # the embedded GGUF through llama.cpp
        print(sim.profile("A retired teacher who restores old bikes.", n=2).texts)
        pick = sim.select(["Tea kettle", "Bike pump"], ["Chain oil"], persona="Cyclist.")
        print(pick.samples[0].item)

    async with Simulator(backend) as sim:             # any Backend, inside an event loop
        result = await sim.aexplain(scenario, question, profile=profile, n=4)

The prompts, sampling and selection checks are those of :mod:`humanllm.simulate.apps`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack

from humanllm.llm.base import Backend, ChatRequest, Sampling
from humanllm.llm.config import BackendConfig, LlamaCppBackendConfig
from humanllm.simulate.apps import Options, simulate
from humanllm.simulate.schemas import AppInput, Character, Result, Review, SelectResult, get_app
from humanllm.tasks.defs.item_selection import SelectInput
from humanllm.tasks.defs.personalized_commenting import CommentInput
from humanllm.tasks.defs.profile_generation import ProfileInput
from humanllm.tasks.defs.scenario_generation import ScenarioInput
from humanllm.tasks.defs.social_qa import ExplainInput
from humanllm.tasks.defs.writing_imitation import WriteInput

T = TypeVar("T")
A = ParamSpec("A")


def _blocking(
    method: Callable[Concatenate[Simulator, A], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Simulator, A], T]:
    """The blocking twin of an ``a``-method: the same signature, run on the private loop."""

    @functools.wraps(method)
    def run(self: Simulator, *args: A.args, **kwargs: A.kwargs) -> T:
        return self._sync(method(self, *args, **kwargs))

    run.__name__ = run.__qualname__ = method.__name__.removeprefix("a")
    return run


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

    async def aask(self, application: str, **fields: Any) -> Result | SelectResult:
        """Any application by name, its input given as fields (e.g. a registered task's)."""
        return await self.arun(get_app(application).input.model_validate(fields))

    run = _blocking(arun)
    ask = _blocking(aask)

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

    profile = _blocking(aprofile)
    explain = _blocking(aexplain)
    write = _blocking(awrite)
    comment = _blocking(acomment)
    select = _blocking(aselect)
    scenario = _blocking(ascenario)

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
