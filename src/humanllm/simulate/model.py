"""Which model answers: the model flags of ``humanllm simulate`` and ``humanllm serve`` -> a
backend config (:func:`humanllm.llm.backends.make_backend` builds it).

One of, checked in this order:

- ``--model-path P``: an HF checkpoint folder (``config.json`` inside) -> ``transformers``;
  a ``.gguf`` file -> ``llamacpp``;
- ``--openai-url U --openai-model M``: any OpenAI-compatible server (vLLM, llama.cpp, Ollama);
  the key, if any, from ``$OPENAI_API_KEY``;
- ``--run-dir D --backend NAME``: backend NAME of the run's ``config.yaml`` (``llm.backends``);
- ``--run-dir D`` alone: the run's merged model (``D/merged``, the HumanLLM) when it exists;
- nothing: the embedded SmolLM2-135M-Instruct GGUF through llama.cpp.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from humanllm.llm.backends import UnknownBackendError, named_backend
from humanllm.llm.config import (
    BackendConfig,
    LlamaCppBackendConfig,
    LLMConfig,
    OpenAIBackendConfig,
    TransformersBackendConfig,
)

MERGED = "merged"  # the merge stage's folder in a run


class ModelChoiceError(ValueError):
    """The model flags do not name one usable model; the message says how to fix them."""


def _parallel(n_parallel: int | None) -> int:
    from humanllm.llm.llamacpp import available_cores

    return n_parallel or min(available_cores(), 4)


def _run_backend(run_dir: Path, name: str) -> BackendConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ModelChoiceError(f"--backend {name}: {path} is missing (is {run_dir} a run folder?)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        llm = LLMConfig.model_validate(data.get("llm") or {})
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as e:
        raise ModelChoiceError(f"{path}: cannot read its llm section ({e})") from e
    try:
        cfg = named_backend(llm.backends, name)
    except UnknownBackendError as e:
        known = ", ".join(sorted(e.known)) or "none"
        raise ModelChoiceError(
            f"--backend {name}: {path} has no such backend (it has: {known})"
        ) from e
    if cfg.kind == "scripted":
        raise ModelChoiceError(f"--backend {name}: the scripted backend is for tests only")
    return cfg


def choose_backend(
    *,
    model_path: str | Path | None = None,
    openai_url: str | None = None,
    openai_model: str | None = None,
    run_dir: str | Path | None = None,
    backend: str | None = None,
    n_parallel: int | None = None,
    n_ctx: int = 4096,
) -> BackendConfig:
    """The backend config the flags name (see the module docstring)."""
    given = [
        flag
        for flag, value in (
            ("--model-path", model_path),
            ("--openai-url/--openai-model", openai_url or openai_model),
            ("--backend", backend),
        )
        if value
    ]
    if len(given) > 1:
        raise ModelChoiceError(f"choose one model: {' and '.join(given)} were both given")
    if model_path:
        path = Path(model_path).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ModelChoiceError(
                    f"--model-path {path}: a folder must be an HF checkpoint (config.json, "
                    "safetensors, tokenizer); or pass a .gguf file"
                )
            return TransformersBackendConfig(model_path=str(path))
        if path.suffix.lower() == ".gguf" and path.is_file():
            return LlamaCppBackendConfig(
                model_path=str(path), n_parallel=_parallel(n_parallel), n_ctx=n_ctx
            )
        raise ModelChoiceError(
            f"--model-path {path}: not found, or neither an HF checkpoint folder nor a .gguf file"
        )
    if openai_url or openai_model:
        if not (openai_url and openai_model):
            raise ModelChoiceError("--openai-url and --openai-model go together: give both")
        key_env = "OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else None
        return OpenAIBackendConfig(base_url=openai_url, model=openai_model, api_key_env=key_env)
    if backend:
        if run_dir is None:
            raise ModelChoiceError("--backend NAME picks a backend of a run: give --run-dir too")
        return _run_backend(Path(run_dir), backend)
    if run_dir is not None:
        merged = Path(run_dir) / MERGED
        if (merged / "config.json").is_file():
            return TransformersBackendConfig(model_path=str(merged))
    return LlamaCppBackendConfig(n_parallel=_parallel(n_parallel), n_ctx=n_ctx)


def describe(cfg: BackendConfig) -> str:
    """One line naming the model, for logs."""
    if isinstance(cfg, LlamaCppBackendConfig):
        what = cfg.model_path or "the embedded SmolLM2-135M-Instruct GGUF"
        return f"llamacpp: {what} ({cfg.n_parallel} parallel)"
    if isinstance(cfg, TransformersBackendConfig):
        return f"transformers: {cfg.model_path}"
    if isinstance(cfg, OpenAIBackendConfig):
        return f"openai: {cfg.model} at {cfg.base_url}"
    return cfg.kind
