"""A pool of servers of one model: where the ``openai`` backend sends each request.

- **Least outstanding requests.** A request goes to the server with the fewest requests in flight
  (ties in turn), never past ``max_concurrency_per_endpoint`` on any one; when every server is at
  its cap the request waits for a free one.
- **Failing servers are taken out.** A connection error, or ``endpoint_max_failures`` 5xx replies
  or time-outs in a row, takes a server out for a back-off (``endpoint_backoff_s``, doubled each
  time it fails again, at most ``endpoint_backoff_max_s``); the request is then sent to another
  server, so a dead server costs no retry of the runner while another one answers. When its
  back-off ends the server is on probation: one request at a time until one is answered, then it
  is back in full. Both events are logged (``humanllm.llm.pool``, warnings on stderr).
- **Every server out.** The request fails with a :class:`TransientError` naming every server and
  its error, with ``retry_after`` set to the end of the earliest back-off: the runner waits that
  long, asks again (one of its retries), and its outage rule stops the stage if it lasts.
- A pool of one server is never taken out: there is nowhere else to go, so the runner's own
  retries and back-off apply exactly as they did before pools existed.

The pool only schedules; HTTP is the backend's (:mod:`humanllm.llm.openai_backend`). It is used
from one thread; several event loops may use it in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from humanllm.llm.base import TransientError

log = logging.getLogger(__name__)

Outcome = Literal["answered", "failed", "unreachable", "cancelled"]


@dataclass
class Endpoint:
    url: str
    outstanding: int = 0  # requests in flight
    failures: int = 0  # 5xx / time-outs in a row since the last answer
    ejections: int = 0  # back-offs in a row (the exponent of the next one)
    out_until: float | None = None  # time.monotonic() when the back-off ends; None: in the pool
    probation: bool = False  # back from a back-off, not yet answered
    epoch: int = 0  # bumped when taken out: failures of requests sent before do not count
    last_error: str = ""
    answered: int = 0


@dataclass(frozen=True)
class Lease:
    """One request's hold on one endpoint (give it back with :meth:`EndpointPool.release`)."""

    endpoint: Endpoint
    epoch: int


class EndpointPool:
    def __init__(
        self,
        urls: list[str],
        *,
        cap: int,
        max_failures: int,
        backoff_s: float,
        backoff_max_s: float,
    ) -> None:
        if not urls:
            raise ValueError("a pool needs at least one server URL")
        self.endpoints = [Endpoint(u) for u in urls]
        self.cap, self.max_failures = cap, max_failures
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self._turn = 0  # where ties start: spreads requests when nothing is in flight
        self._waiters: list[asyncio.Future[None]] = []

    def __len__(self) -> int:
        return len(self.endpoints)

    def describe(self) -> str:
        if len(self.endpoints) == 1:
            return self.endpoints[0].url
        return f"a pool of {len(self.endpoints)} servers: " + ", ".join(self.urls)

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints]

    # --- choosing ---------------------------------------------------------------------------
    async def acquire(self, tried: Collection[str] = ()) -> Lease:
        """The least busy server not in ``tried`` that is in the pool, waiting while every such
        server is at its cap; :class:`TransientError` when all of them are out (or tried)."""
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            left = [e for e in self.endpoints if e.url not in tried]
            for e in left:
                if e.out_until is not None and now >= e.out_until:
                    e.out_until, e.probation = None, True  # back, on probation
            free = [e for e in left if e.out_until is None and e.outstanding < self._cap(e)]
            if free:
                n = len(self.endpoints)
                index = {id(e): i for i, e in enumerate(self.endpoints)}
                best = min(free, key=lambda e: (e.outstanding, (index[id(e)] - self._turn) % n))
                self._turn = (index[id(best)] + 1) % n
                best.outstanding += 1
                return Lease(best, best.epoch)
            out = [e.out_until for e in left if e.out_until is not None]
            if len(out) == len(left):
                raise self._all_out(left, now)
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:  # until a server is released or taken out, or the earliest back-off ends
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fut, min(out) - now if out else None)
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def _cap(self, e: Endpoint) -> int:
        return 1 if e.probation else self.cap

    def _all_out(self, left: list[Endpoint], now: float) -> TransientError:
        if not left:
            return TransientError("every server of the pool failed this request")
        back = min(e.out_until or now for e in left) - now
        detail = "; ".join(
            f"{e.url} (out for {max(0.0, (e.out_until or now) - now):.1f}s more): "
            f"{e.last_error or 'no answer'}"
            for e in left
        )
        return TransientError(
            f"every server of the pool is out: {detail}", retry_after=max(0.0, back)
        )

    # --- outcomes ---------------------------------------------------------------------------
    def release(self, lease: Lease, outcome: Outcome, error: str = "") -> None:
        """Give ``lease`` back: the server ``answered`` (any HTTP reply but a 5xx), ``failed``
        (5xx, time-out), was ``unreachable`` (connection error) or the request was cancelled."""
        e = lease.endpoint
        e.outstanding -= 1
        current = lease.epoch == e.epoch and e.out_until is None
        if outcome == "answered":
            e.answered += 1
            if current:
                if e.probation:
                    log.warning("model server %s answers again: back in the pool", e.url)
                e.failures, e.ejections, e.probation = 0, 0, False
        elif outcome in ("failed", "unreachable"):
            e.last_error = error
            if current:
                e.failures += 1
                if outcome == "unreachable" or e.probation or e.failures >= self.max_failures:
                    self.take_out(e, error)
        self._wake()

    def take_out(self, e: Endpoint, error: str) -> None:
        """Out for the next back-off (a pool of one keeps its server: there is no other)."""
        e.last_error = error
        if len(self.endpoints) == 1 or e.out_until is not None:
            return
        delay = min(self.backoff_max_s, self.backoff_s * 2**e.ejections)
        e.ejections += 1
        e.epoch += 1
        e.failures, e.probation = 0, False
        e.out_until = time.monotonic() + delay
        log.warning("model server %s taken out of the pool for %.1fs: %s", e.url, delay, error)
        self._wake()

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
