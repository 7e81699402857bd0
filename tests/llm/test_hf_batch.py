"""The batch queue of the transformers backend, with a stand-in for the model (no torch needed)."""

import asyncio
import threading

import pytest

from humanllm.llm.hf_batch import MAX_BATCH_TOKENS, BatchQueue, Job


def _prepare(job: Job) -> None:
    if job.payload == "too long":
        raise ValueError("does not fit")
    job.size = MAX_BATCH_TOKENS // 2 if job.payload == "half" else 100


def _run(jobs: list[Job]) -> None:
    for job in jobs:
        job.future.set_result(f"{job.payload}!")


def test_requests_of_one_event_loop_turn_form_one_batch() -> None:
    q = BatchQueue(_prepare, _run, max_batch=3)

    async def main() -> list[object]:
        return list(
            await asyncio.gather(
                *(q.submit(f"r{i}") for i in range(5)), q.submit("too long"), return_exceptions=True
            )
        )

    try:
        out = asyncio.run(main())
    finally:
        q.close()
    assert out[:5] == [f"r{i}!" for i in range(5)]
    assert isinstance(out[5], ValueError)  # that request alone fails
    assert q.batch_sizes == [3, 2]  # max_batch rows at most, in submission order


def test_a_batch_holds_no_more_padded_prompt_tokens_than_allowed() -> None:
    q = BatchQueue(_prepare, _run, max_batch=8)

    async def main() -> list[str]:
        return list(await asyncio.gather(*(q.submit(p) for p in ("a", "half", "b", "c"))))

    try:
        assert asyncio.run(main()) == ["a!", "half!", "b!", "c!"]
    finally:
        q.close()
    # rows x longest prompt: a + half fill the cap exactly; a third row would pass it
    assert q.batch_sizes == [2, 2]


def test_a_failing_batch_fails_its_jobs_and_the_worker_goes_on() -> None:
    calls: list[int] = []

    def run(jobs: list[Job]) -> None:
        calls.append(len(jobs))
        if len(calls) == 1:
            raise RuntimeError("boom")
        _run(jobs)

    q = BatchQueue(_prepare, run, max_batch=4)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            q.submit_blocking("x")
        assert q.submit_blocking("y") == "y!"
    finally:
        q.close()
    assert not any(t.name == "hf-batch" for t in threading.enumerate())
