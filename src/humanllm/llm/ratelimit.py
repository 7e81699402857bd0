"""Bounded concurrency plus requests-per-minute and tokens-per-minute limits (async token buckets).

Token counts are not known before a reply, so a request reserves an estimate (prompt characters / 4
plus ``max_tokens``) and settles the difference once the server reports its usage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


class TokenBucket:
    """Refills ``rate_per_s`` units a second up to ``capacity``. A take larger than the capacity
    waits for a full bucket and leaves it in debt, so huge requests are slowed, never stuck."""

    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._level = capacity
        self._stamp = clock()
        self._lock = asyncio.Lock()  # first come, first served

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, n: float) -> float:
        """Seconds until ``n`` units (at most a full bucket) are available; 0 when they are now."""
        self._refill()
        need = min(n, self.capacity)
        return 0.0 if self._level >= need else (need - self._level) / self.rate

    async def take(self, n: float) -> None:
        async with self._lock:
            while (wait := self.wait_time(n)) > 0:
                await asyncio.sleep(wait)
            self._level -= n

    def give(self, n: float) -> None:
        """Return ``n`` units (negative: take more, e.g. when a reply used more than reserved)."""
        self._refill()
        self._level = min(self.capacity, self._level + n)


@dataclass
class Slot:
    reserved: int
    _tokens: TokenBucket | None

    def settle(self, used_tokens: int) -> None:
        """Correct the token reservation with what the reply actually used."""
        if self._tokens is not None and used_tokens > 0:
            self._tokens.give(self.reserved - used_tokens)


class RateLimiter:
    """``async with limiter.slot(est_tokens) as slot: ...`` holds one of ``max_concurrency``
    slots and has passed both rate limits. Bursts are limited to ~1 s worth of each rate."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> None:
        self._sem = asyncio.Semaphore(max_concurrency)
        self._requests = (
            TokenBucket(requests_per_minute / 60, max(1.0, requests_per_minute / 60))
            if requests_per_minute
            else None
        )
        self._tokens = (
            TokenBucket(tokens_per_minute / 60, max(1.0, tokens_per_minute / 60))
            if tokens_per_minute
            else None
        )

    @property
    def limits_tokens(self) -> bool:
        return self._tokens is not None

    def slot(self, est_tokens: int = 0) -> _SlotContext:
        return _SlotContext(self, est_tokens)


class _SlotContext:
    """A plain async context manager (cheaper than ``@asynccontextmanager`` on the hot path)."""

    __slots__ = ("_est", "_limiter")

    def __init__(self, limiter: RateLimiter, est_tokens: int) -> None:
        self._limiter, self._est = limiter, est_tokens

    async def __aenter__(self) -> Slot:
        lim = self._limiter
        await lim._sem.acquire()
        try:
            if lim._requests is not None:
                await lim._requests.take(1)
            if lim._tokens is not None and self._est > 0:
                await lim._tokens.take(self._est)
        except BaseException:
            lim._sem.release()
            raise
        return Slot(self._est, lim._tokens)

    async def __aexit__(self, *exc: object) -> None:
        self._limiter._sem.release()
