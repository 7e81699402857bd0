"""Backend factory: a backend config -> a live backend (heavy imports happen only when used)."""

from __future__ import annotations

from humanllm.llm.base import Backend
from humanllm.llm.config import (
    BackendConfig,
    LlamaCppBackendConfig,
    OpenAIBackendConfig,
    ScriptedBackendConfig,
    TransformersBackendConfig,
    VLLMBackendConfig,
)


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
        from humanllm.llm.vllm_backend import VLLMBackend

        return VLLMBackend(cfg)
    if isinstance(cfg, ScriptedBackendConfig):
        raise ValueError(
            "the scripted backend is for tests: build humanllm.llm.scripted.ScriptedBackend in code"
        )
    raise TypeError(f"unknown backend config {type(cfg).__name__}")
