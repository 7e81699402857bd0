"""Batched decoding for the transformers backend: several requests advance in one forward pass.

:func:`decode` takes rows (one per request: prompt ids, token budget, sampling, an optional
grammar guide) and decodes them together. Prompts are left-padded to one width with an attention
mask, and position ids count real tokens only, so each row sees what it would see alone; a row
that ends (end-of-turn token or budget) leaves the batch at once -- its KV-cache row is dropped
and ``on_done`` is called, so its caller need not wait for the longest reply of the batch.
Each row samples with its own seeded ``torch.Generator``; greedy rows take the argmax.

:class:`BatchQueue` feeds it: requests submitted in the same event-loop turn (``asyncio.gather``,
or the runner's concurrent requests) reach the worker thread together, and every batch takes
what is queued, up to ``max_batch`` rows and :data:`MAX_BATCH_TOKENS` padded prompt tokens.
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Padded prompt tokens (rows x longest prompt) one batch may prefill at once.
MAX_BATCH_TOKENS = 16384


class Guide(Protocol):
    """Grammar state of one row (see :mod:`humanllm.llm.constrained`)."""

    def mask(self, logits: Any) -> None:
        """Set the logits of tokens the grammar forbids next to -inf (in place, one row)."""
        ...

    def accept(self, token: int) -> None: ...


@dataclass
class Row:
    prompt: list[int]
    budget: int
    temperature: float
    top_p: float
    generator: Any  # torch.Generator
    guide: Guide | None = None
    on_done: Callable[[Row], None] | None = None
    out: list[int] = field(default_factory=list)
    finish: str | None = None


#: ``forward(input_ids, attention_mask, position_ids, cache)`` -> (logits of the last position
#: [rows, vocab], new cache); the cache must support ``batch_select_indices``.
Forward = Callable[[Any, Any, Any, Any], tuple[Any, Any]]


def sample(logits: Any, temperature: float, top_p: float, gen: Any) -> int:
    """One token from one row of logits: argmax at temperature 0, else nucleus sampling."""
    import torch

    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        drop = sorted_p.cumsum(0) - sorted_p > top_p  # keep the smallest set reaching top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1, generator=gen))


def decode(forward: Forward, rows: list[Row], eos: set[int], pad_id: int, device: str) -> None:
    """Decode ``rows`` together until each has stopped; fills ``out`` and ``finish`` of each."""
    import torch

    width = max(len(r.prompt) for r in rows)
    ids = [[pad_id] * (width - len(r.prompt)) + r.prompt for r in rows]
    mask = torch.tensor(
        [[0] * (width - len(r.prompt)) + [1] * len(r.prompt) for r in rows], device=device
    )
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits, cache = forward(torch.tensor(ids, device=device), mask, positions, None)
    position = positions[:, -1:] + 1
    live = list(range(len(rows)))
    while True:
        logits = logits.float()
        for j, k in enumerate(live):
            guide = rows[k].guide
            if guide is not None:
                guide.mask(logits[j])
        greedy = logits.argmax(-1).tolist()
        keep: list[int] = []
        for j, k in enumerate(live):
            r = rows[k]
            token = (
                greedy[j]
                if r.temperature <= 0
                else sample(logits[j], r.temperature, r.top_p, r.generator)
            )
            if token in eos:
                r.finish = "stop"
            else:
                r.out.append(token)
                if r.guide is not None:
                    r.guide.accept(token)
                if len(r.out) >= r.budget:
                    r.finish = "length"
            if r.finish is None:
                keep.append(j)
            elif r.on_done is not None:
                r.on_done(r)
        if not keep:
            return
        if len(keep) < len(live):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, position = mask[index], position[index]
            live = [live[j] for j in keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        step = torch.tensor([[rows[k].out[-1]] for k in live], device=device)
        logits, cache = forward(step, mask, position, cache)
        position = position + 1


@dataclass
class Job:
    """One submitted request: the caller's payload and the future its result goes to."""

    payload: Any
    future: Future[Any] = field(default_factory=Future)
    size: int = 0  # prompt tokens, set by the worker's ``prepare``


class BatchQueue:
    """Hands submitted jobs to one worker thread, which runs them in batches.

    ``prepare(job)`` runs in the worker for each new job (tokenize; raise to fail that job
    alone); ``run(batch)`` runs a batch and sets each job's future; it is called with at most
    ``max_batch`` jobs whose padded prompt tokens fit :data:`MAX_BATCH_TOKENS` (a longer single
    job runs alone). ``batch_sizes`` records the size of every batch run (for tests and stats).
    """

    def __init__(
        self,
        prepare: Callable[[Job], None],
        run: Callable[[list[Job]], None],
        max_batch: int,
        name: str = "hf-batch",
    ) -> None:
        self._prepare, self._run, self.max_batch, self._name = prepare, run, max_batch, name
        self._inbox: queue.SimpleQueue[list[Job] | None] = queue.SimpleQueue()
        self._turn: list[Job] = []  # submitted in the current event-loop turn
        self._turn_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batch_sizes: list[int] = []

    async def submit(self, payload: Any) -> Any:
        """Queue ``payload`` with the others of this event-loop turn; await its result."""
        job = Job(payload)
        with self._turn_lock:
            self._turn.append(job)
            first = len(self._turn) == 1
        if first:
            asyncio.get_running_loop().call_soon(self._flush_turn)
        return await asyncio.wrap_future(job.future)

    def submit_blocking(self, payload: Any) -> Any:
        job = Job(payload)
        self._send([job])
        return job.future.result()

    def _flush_turn(self) -> None:
        with self._turn_lock:
            jobs, self._turn = self._turn, []
        if jobs:
            self._send(jobs)

    def _send(self, jobs: list[Job]) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
            atexit.register(_close_at_exit, weakref.ref(self))
        self._inbox.put(jobs)

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._inbox.put(None)
            self._thread.join()
        self._thread = None

    def _work(self) -> None:
        pending: deque[Job] = deque()
        stopping = False
        while True:
            if not pending:
                if stopping:
                    return
                got = self._inbox.get()
                if got is None:
                    return
                self._accept(got, pending)
            while not stopping:  # everything already queued joins the choice
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True  # finish what is pending first
                else:
                    self._accept(more, pending)
            if not pending:
                continue
            batch = [pending.popleft()]
            width = batch[0].size
            while pending and len(batch) < self.max_batch:
                wider = max(width, pending[0].size)
                if wider * (len(batch) + 1) > MAX_BATCH_TOKENS:
                    break
                batch.append(pending.popleft())
                width = wider
            self.batch_sizes.append(len(batch))
            try:
                self._run(batch)
            except BaseException as e:  # a failing batch fails its unfinished jobs, not the worker
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(e)

    def _accept(self, jobs: list[Job], pending: deque[Job]) -> None:
        for job in jobs:
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up before it ran
            try:
                self._prepare(job)
            except BaseException as e:  # that request alone fails (e.g. too long)
                job.future.set_exception(e)
            else:
                pending.append(job)


def _close_at_exit(ref: weakref.ref[BatchQueue]) -> None:
    """Stop a worker left running at interpreter exit (its model state must not outlive it)."""
    q = ref()
    if q is not None:
        q.close()
