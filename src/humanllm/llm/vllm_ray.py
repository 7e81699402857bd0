"""vLLM engines on a Ray cluster: one actor per engine, each holding one ``vllm.LLM``.

``backend: {kind: vllm, engines: 8, ray_address: auto}`` starts (or finds) eight actors on the
cluster, each reserving ``gpus_per_engine`` GPUs (default ``tensor_parallel_size``, so a 70B
model at ``tensor_parallel_size: 4`` takes four GPUs of one node per engine). The backend in
each unit's process keeps the batching of :class:`~humanllm.llm.vllm_backend.VLLMBackend`: the
requests the runner has in flight are collected into batches and each batch goes to an idle
engine. What crosses the wire is ``(ChatRequest, n)`` pairs one way and the runner's replies or
errors the other: sampling parameters, structured outputs and the error mapping are built inside
the actor by the same :class:`~humanllm.llm.vllm_engine.EngineWorker` as the in-process engine,
so a unit's process needs neither vLLM nor a GPU.

Why actors holding ``vllm.LLM`` and not Ray Data's LLM processor: the processor owns a dataset's
batching, retries and writing, so a stage's requests would bypass the request cache (a re-run
that finds every answer there asks nothing), the per-record seeds, the re-asks of invalid
replies and the rejects with reasons; with actors behind the backend interface every stage, the
evaluation's option scoring and the simulator use the cluster's engines unchanged.

Sharing: the actors are *named* after the engine settings (model, parallelism, dtype, length,
engine arguments) and detached, so every unit, pool worker and stage of a run that asks for the
same settings talks to the same engines, loaded once; :func:`release_engines` (called when a run
ends) kills them. An actor whose process dies is restarted by Ray (``engine_restarts``); the
requests it had in flight fail as transient errors and the runner asks them again, so nothing is
lost; an actor killed for good is looked up (or started) again by name on the next batch.

GPU-only: nothing here needs a GPU itself, but the engine an actor builds (``_make_engine``) does;
tests run the actors on a real local two-node cluster with a fake engine
(tests/llm/test_vllm_ray.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from humanllm.llm.base import ChatRequest, TransientError
from humanllm.llm.chat_tokens import Chat
from humanllm.llm.config import VLLMBackendConfig
from humanllm.llm.vllm_backend import VLLMBackend
from humanllm.llm.vllm_engine import Answer, EngineWorker, VLLMApi, _make_engine

#: Ray namespace of the engine actors; their names start with :data:`PREFIX`.
NAMESPACE = "humanllm"
PREFIX = "vllm-engine-"


class EngineActor:
    """The body of an engine actor (made a Ray actor class by :func:`_actor_class`)."""

    def __init__(
        self,
        cfg: dict[str, Any],
        engine_factory: Callable[[VLLMBackendConfig], Any],
        api: VLLMApi | None,
    ) -> None:
        self.worker = EngineWorker(
            VLLMBackendConfig.model_validate(cfg), engine_factory=engine_factory, api=api
        )

    def answer(self, jobs: list[tuple[ChatRequest, int]]) -> tuple[list[Answer], int]:
        return self.worker.answer(jobs), self.worker.batch_cap

    def loglikelihoods(self, messages: Chat, options: list[str]) -> list[float]:
        return self.worker.loglikelihoods(messages, options)

    def stats(self) -> dict[str, Any]:
        import ray

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "builds": self.worker.builds,
            "batches": list(self.worker.batch_sizes),
        }


def _actor_class() -> Any:
    import ray

    return ray.remote(EngineActor)


def engine_key(cfg: VLLMBackendConfig) -> str:
    """Names the engine settings: two configs with the same key can share engines."""
    fields = cfg.engine_kwargs() | {"gpus": gpus_per_engine(cfg)}
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()


def gpus_per_engine(cfg: VLLMBackendConfig) -> float:
    if cfg.gpus_per_engine is not None:
        return cfg.gpus_per_engine
    return float(cfg.tensor_parallel_size)


def engine_names(cfg: VLLMBackendConfig) -> list[str]:
    key = engine_key(cfg)
    return [f"{PREFIX}{key}-{i}" for i in range(cfg.engines)]


def connect(address: str | None) -> None:
    """Join the Ray cluster at ``address`` unless this process already has."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or "auto", namespace=NAMESPACE, logging_level=logging.WARNING)


class RayEngine:
    """One engine actor behind the backend's engine interface."""

    def __init__(
        self,
        name: str,
        cfg: VLLMBackendConfig,
        engine_factory: Callable[[VLLMBackendConfig], Any],
        api: VLLMApi | None,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self._factory = engine_factory
        self._api = api
        self._cap = cfg.max_batch
        self.actor: Any = None

    @property
    def batch_cap(self) -> int:
        return self._cap

    def handle(self) -> Any:
        """The actor, found by name or started (on a node with the GPUs it needs)."""
        if self.actor is None:
            gpus = gpus_per_engine(self.cfg)
            self.actor = (
                _actor_class()
                .options(
                    name=self.name,
                    namespace=NAMESPACE,
                    get_if_exists=True,
                    lifetime="detached",
                    num_gpus=gpus,
                    num_cpus=1,
                    max_restarts=self.cfg.engine_restarts,
                    max_task_retries=0,  # a batch in flight fails; the runner asks it again
                    max_concurrency=1,
                )
                .remote(self.cfg.model_dump(), self._factory, self._api)
            )
        return self.actor

    def _lost(self, exc: BaseException) -> TransientError:
        import ray

        if isinstance(exc, ray.exceptions.RayActorError):
            self.actor = None  # looked up (or started) again by name on the next batch
            return TransientError(f"vllm engine {self.name} is gone ({type(exc).__name__})")
        return TransientError(f"vllm engine {self.name}: {type(exc).__name__}: {exc}")

    async def answer(self, jobs: list[tuple[ChatRequest, int]]) -> list[Answer]:
        try:
            results, cap = await self.handle().answer.remote(jobs)
        except Exception as e:  # the actor's process died, or Ray could not reach it
            raise self._lost(e) from e
        self._cap = cap
        return list(results)

    def loglikelihoods(self, messages: Chat, options: list[str]) -> list[float]:
        import ray

        ref = self.handle().loglikelihoods.remote(messages, options)
        try:
            return list(ray.get(ref))
        except ray.exceptions.RayTaskError as e:  # raised in the actor: the same error here
            cause = e.cause if isinstance(e.cause, Exception) else e
            raise cause from None
        except ray.exceptions.RayActorError as e:
            raise self._lost(e) from e

    def stats(self) -> dict[str, Any]:
        import ray

        return dict(ray.get(self.handle().stats.remote()))

    async def aclose(self) -> None:  # shared: released when the run ends
        return None


def ray_backend(
    cfg: VLLMBackendConfig,
    *,
    engine_factory: Callable[[VLLMBackendConfig], Any] = _make_engine,
    api: VLLMApi | None = None,
) -> VLLMBackend:
    """A vllm backend whose batches go to ``cfg.engines`` engine actors on the Ray cluster."""
    connect(cfg.ray_address)
    engines = [RayEngine(n, cfg, engine_factory, api) for n in engine_names(cfg)]
    return VLLMBackend(cfg, engines=engines)


def release_engines(address: str | None = None, *, connect_first: bool = False) -> list[str]:
    """Kill the engine actors of this namespace; the names killed. Does nothing (and joins no
    cluster) unless this process is connected or ``connect_first``."""
    try:
        import ray
    except ImportError:
        return []
    if not ray.is_initialized():
        if not connect_first:
            return []
        connect(address)
    killed = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name, ns = entry["name"], entry["namespace"]
        if ns != NAMESPACE or not name.startswith(PREFIX):
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except ValueError:  # gone meanwhile
            continue
        killed.append(name)
    return sorted(killed)
