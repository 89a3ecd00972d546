"""A request and byte budget per token: one token cannot flood the server or the study database.

Two token buckets per token id (requests, and request-body bytes), refilled continuously
(Turner's token-bucket / GCRA shaping, as in RFC 2697's single-rate meter). A request
that would overdraw either is refused with 429 and a Retry-After header saying how many
whole seconds until it would fit; nothing it carried is done.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """Sustained rates and bursts per token. `requests_per_s` ≤ 0 turns the budget off."""

    requests_per_s: float = 20.0
    request_burst: float = 400.0
    bytes_per_s: float = 256 * 1024
    byte_burst: float = 4 * 1024 * 1024


class _Bucket:
    __slots__ = ("level", "stamp")

    def __init__(self, level: float, stamp: float) -> None:
        self.level, self.stamp = level, stamp


class TokenBudgets:
    """The buckets of every token seen so far (in memory: a restart refills them)."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._mutex = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _take(self, key: tuple[str, str], amount: float, rate: float, burst: float, now: float) -> float:
        """Seconds to wait before `amount` fits (0.0: taken now)."""
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(burst, now)
        b.level = min(burst, b.level + (now - b.stamp) * rate)
        b.stamp = now
        if amount > burst:  # can never fit: as long as a full refill
            return burst / rate
        if b.level >= amount:
            b.level -= amount
            return 0.0
        return (amount - b.level) / rate

    def charge(self, token_id: str, body_bytes: int) -> int:
        """Charge one request of `body_bytes` to a token. Returns 0 when allowed, else Retry-After in seconds (≥ 1)."""
        bud = self.budget
        if bud.requests_per_s <= 0:
            return 0
        with self._mutex:
            now = self._clock()
            wait_req = self._take((token_id, "req"), 1.0, bud.requests_per_s, bud.request_burst, now)
            if wait_req:
                return max(1, math.ceil(wait_req))
            wait_bytes = self._take((token_id, "bytes"), float(body_bytes), bud.bytes_per_s, bud.byte_burst, now)
            if wait_bytes:  # give the request back: it is not done
                self._buckets[(token_id, "req")].level += 1.0
                return max(1, math.ceil(wait_bytes))
            return 0
