"""The evaluated models, distractor writers and judge as live backends.

A backend is named (``llm.backends``) or written in place; ``{run_dir}`` in a ``model_path`` is the
run folder, so ``{run_dir}/merged`` is the merged model of this run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from humanllm.llm.backends import UnknownBackendError, make_backend, named_backend
from humanllm.llm.base import Backend, LLMError
from humanllm.llm.config import BackendConfig, LLMConfig
from humanllm.llm.embedded import EmbeddedModelError
from humanllm.stage import StageError


def resolve(value: str | BackendConfig, llm: LLMConfig, run_dir: Path, what: str) -> Any:
    """The backend config ``value`` names (or is), with ``{run_dir}`` filled in."""
    if isinstance(value, str):
        try:
            cfg: Any = named_backend(llm.backends, value, what)
        except UnknownBackendError as e:
            raise StageError(str(e)) from e
    else:
        cfg = value
    path = getattr(cfg, "model_path", None)
    if isinstance(path, str) and "{run_dir}" in path:
        cfg = cfg.model_copy(update={"model_path": path.replace("{run_dir}", str(run_dir))})
    return cfg


def describe(cfg: Any) -> str:
    """A short human description: kind and weights (or served model)."""
    kind = getattr(cfg, "kind", "?")
    where = (
        getattr(cfg, "model_path", None)
        or getattr(cfg, "model", None)
        or getattr(cfg, "name", None)
    )
    return f"{kind}:{where or 'embedded'}"


def open_backend(cfg: Any, what: str) -> Backend:
    """A live backend; a model that cannot be loaded is a stage error naming ``what``."""
    try:
        return make_backend(cfg)
    except (LLMError, EmbeddedModelError, ValueError, OSError) as e:
        raise StageError(f"{what}: cannot open {describe(cfg)}: {e}") from e
