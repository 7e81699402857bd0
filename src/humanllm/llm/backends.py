"""Backend factory: a backend config -> a live backend (heavy imports happen only when used)."""

from __future__ import annotations

from collections.abc import Mapping

from humanllm.llm.base import Backend
from humanllm.llm.config import (
    BackendConfig,
    LlamaCppBackendConfig,
    OpenAIBackendConfig,
    ScriptedBackendConfig,
    TransformersBackendConfig,
    VLLMBackendConfig,
)


class UnknownBackendError(KeyError):
    """A backend name that ``llm.backends`` does not define; ``known`` lists the names it does."""

    def __init__(self, name: str, known: list[str], what: str) -> None:
        super().__init__(name)
        self.name, self.known, self.what = name, known, what

    def __str__(self) -> str:
        return (
            f"{self.what} uses backend {self.name!r}, which llm.backends does not define "
            f"(defined: {', '.join(self.known) or 'none'})"
        )


def named_backend(
    backends: Mapping[str, BackendConfig], name: str, what: str = "a stage"
) -> BackendConfig:
    """The config ``llm.backends`` names ``name``; :class:`UnknownBackendError` naming ``what``
    (the stage or option that asked) when there is none."""
    if name not in backends:
        raise UnknownBackendError(name, list(backends), what)
    return backends[name]


def make_backend(cfg: BackendConfig) -> Backend:
    if isinstance(cfg, OpenAIBackendConfig):
        from humanllm.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(cfg)
    if isinstance(cfg, LlamaCppBackendConfig):
        from humanllm.llm.llamacpp import LlamaCppBackend

        return LlamaCppBackend(cfg)
    if isinstance(cfg, TransformersBackendConfig):
        from humanllm.llm.hf import TransformersBackend

        return TransformersBackend(cfg)
    if isinstance(cfg, VLLMBackendConfig):
        if cfg.ray_address is not None:
            from humanllm.llm.vllm_ray import ray_backend

            return ray_backend(cfg)
        from humanllm.llm.vllm_backend import VLLMBackend

        return VLLMBackend(cfg)
    if isinstance(cfg, ScriptedBackendConfig):
        raise ValueError(
            "the scripted backend is for tests: build humanllm.llm.scripted.ScriptedBackend in code"
        )
    raise TypeError(f"unknown backend config {type(cfg).__name__}")
