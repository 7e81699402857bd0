"""Transformers backend on the embedded model: batched vs one-at-a-time, constrained vs not.

    python benchmarks/hf_generate.py            # 16 requests, 32 tokens each (a few minutes on 2 cores)
    python benchmarks/hf_generate.py --quick    # 8 requests, 8 tokens; 4 schema requests (< 1 minute)
    python benchmarks/hf_generate.py --json     # the figures as one JSON object

Throughput: the same greedy requests sent at once (``asyncio.gather``; the backend decodes them
in one batch) and one after the other, output tokens per second of each and their ratio; the
replies of both are compared. Schema: requests whose reply must fit a JSON schema, decoded with
the grammar (xgrammar) and without it (the schema only described in the system message), and
the share of replies that validate. ``--threads`` sets torch's intra-op threads (default: its
own choice); on a CPU shared with other processes one thread is often faster for batches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.config import TransformersBackendConfig
from humanllm.llm.hf import TransformersBackend

TOPICS = (
    "rain", "a bicycle", "coffee", "the sea", "a library", "winter", "a garden", "music",
    "a train", "bread", "the moon", "a market", "friendship", "a river", "snow", "a city",
)  # fmt: skip


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=24)
    age: int = Field(ge=0, le=120)
    mood: str = Field(min_length=1, max_length=16)


def _requests(n: int, max_tokens: int, schema: dict[str, Any] | None) -> list[ChatRequest]:
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        text = (
            f"Invent a person who loves {topic}; give their name, age and mood."
            if schema
            else f"Write one sentence about {topic}."
        )
        out.append(
            ChatRequest(
                messages=(("user", text),),
                sampling=Sampling(temperature=0.0, max_tokens=max_tokens, seed=i),
                json_schema=schema,
            )
        )
    return out


async def _together(b: TransformersBackend, reqs: list[ChatRequest]) -> list[Any]:
    return list(await asyncio.gather(*(b.chat(r) for r in reqs)))


def _timed(fn: Any) -> tuple[list[Any], float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _valid(text: str) -> bool:
    try:
        Person.model_validate_json(text)
    except ValidationError:
        return False
    return True


def run(quick: bool, threads: int | None = None) -> dict[str, Any]:
    import torch

    n, tokens, n_schema = (8, 8, 4) if quick else (16, 32, 16)
    cfg = TransformersBackendConfig(model_path="embedded", device="cpu")
    b = TransformersBackend(cfg, constrained=False, threads=threads)
    asyncio.run(b.chat(_requests(1, 2, None)[0]))  # load and warm up
    reqs = _requests(n, tokens, None)
    batched, t_batch = _timed(lambda: asyncio.run(_together(b, reqs)))
    sizes = list(b.batch_sizes[1:])
    single, t_single = _timed(lambda: [asyncio.run(b.chat(r)) for r in reqs])
    out_b = sum(r.completion_tokens for r in batched)
    out_s = sum(r.completion_tokens for r in single)
    schema = Person.model_json_schema()
    sreqs = _requests(n_schema, 40, schema)
    loose, t_loose = _timed(lambda: asyncio.run(_together(b, sreqs)))
    b.constrained = True
    asyncio.run(b.chat(_requests(1, 2, schema)[0]))  # compile the grammar
    strict, t_strict = _timed(lambda: asyncio.run(_together(b, sreqs)))
    asyncio.run(b.aclose())
    return {
        "requests": n,
        "max_tokens": tokens,
        "torch_threads": torch.get_num_threads(),
        "batch_sizes": sizes,
        "batched_tokens_per_s": out_b / t_batch,
        "single_tokens_per_s": out_s / t_single,
        "speedup": (out_b / t_batch) / (out_s / t_single),
        "same_replies": sum(a.text == b.text for a, b in zip(batched, single, strict=True)),
        "schema_requests": n_schema,
        "valid_unconstrained": sum(_valid(r.text) for r in loose) / n_schema,
        "valid_constrained": sum(_valid(r.text) for r in strict) / n_schema,
        "unconstrained_s": t_loose,
        "constrained_s": t_strict,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter requests (< 1 minute)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = ap.parse_args()
    r = run(args.quick, args.threads)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(
        f"{r['requests']} requests x {r['max_tokens']} tokens, greedy, torch threads "
        f"{r['torch_threads']}, batches {r['batch_sizes']}"
    )
    print(f"{'mode':<28}{'tokens/s':>10}")
    print(f"{'one at a time':<28}{r['single_tokens_per_s']:>10.1f}")
    print(f"{'batched':<28}{r['batched_tokens_per_s']:>10.1f}")
    print(f"{'speedup':<28}{r['speedup']:>9.2f}x")
    print(f"same replies: {r['same_replies']}/{r['requests']}")
    print(f"\n{r['schema_requests']} schema requests{'':<7}{'valid':>8}{'seconds':>10}")
    print(f"{'without grammar':<28}{r['valid_unconstrained']:>8.0%}{r['unconstrained_s']:>10.1f}")
    print(
        f"{'with grammar (xgrammar)':<28}{r['valid_constrained']:>8.0%}{r['constrained_s']:>10.1f}"
    )


if __name__ == "__main__":
    main()
