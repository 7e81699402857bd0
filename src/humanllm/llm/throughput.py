"""Output tokens/s of the embedded model, one request at a time vs concurrent requests.

``benchmarks/llm_runner.py`` prints this so the quick start can pick the faster ``n_parallel``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.config import LlamaCppBackendConfig
from humanllm.llm.llamacpp import LlamaCppBackend

_TOPICS = (
    "a lighthouse keeper",
    "a lost umbrella",
    "a city garden",
    "a chess club",
    "a night train",
)


def embedded_throughput(
    n_requests: int, n_parallel: int, max_tokens: int = 128, model_path: str | None = None
) -> dict[str, Any]:
    """Send ``n_requests`` story requests at once to a backend with ``n_parallel`` instances.

    Returns the counts and ``tokens_per_s`` (completion tokens over wall time, after one warm-up
    request). ``n_requests=1, n_parallel=1`` is the one-request baseline.
    """
    if n_requests < 1 or n_parallel < 1 or max_tokens < 1:
        raise ValueError("n_requests, n_parallel and max_tokens must be >= 1")
    return asyncio.run(_measure(n_requests, n_parallel, max_tokens, model_path))


async def _measure(
    n_requests: int, n_parallel: int, max_tokens: int, model_path: str | None
) -> dict[str, Any]:
    backend = LlamaCppBackend(
        LlamaCppBackendConfig(model_path=model_path, n_parallel=n_parallel, n_ctx=1024)
    )
    try:
        warm = ChatRequest(
            messages=(("user", "Say hello."),), sampling=Sampling(max_tokens=4, seed=0)
        )
        await asyncio.gather(*(backend.chat(warm) for _ in range(n_parallel)))
        requests = [
            ChatRequest(
                messages=(("user", f"Write a long story about {_TOPICS[i % len(_TOPICS)]}."),),
                sampling=Sampling(temperature=0.7, max_tokens=max_tokens, seed=i),
            )
            for i in range(n_requests)
        ]
        start = time.perf_counter()
        replies = await asyncio.gather(*(backend.chat(r) for r in requests))
        wall = time.perf_counter() - start
    finally:
        await backend.aclose()
    tokens = sum(r.completion_tokens for r in replies)
    return {
        "n_requests": n_requests,
        "n_parallel": n_parallel,
        "threads_per_instance": backend.threads_per_instance,
        "max_tokens": max_tokens,
        "completion_tokens": tokens,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 1) if wall > 0 else 0.0,
        "requests_per_s": round(n_requests / wall, 2) if wall > 0 else 0.0,
    }
