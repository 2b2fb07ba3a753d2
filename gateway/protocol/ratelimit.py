"""Per-partner rate limits (PROTOCOL.md §4.2, ``rate-limited`` with ``Retry-After``).

A token bucket per caller: ``rate_per_minute`` tokens refill evenly, with a burst of the same
size. Pure: time comes from the injected clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime

from gateway.protocol.problems import Problem


class RateLimiter:
    """Token buckets keyed by caller node id."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # node -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, caller: str, rate_per_minute: int) -> None:
        """Spend one token of ``caller``; raise ``rate-limited`` with ``retry_after`` if none."""
        now = self._clock().timestamp()
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.get(caller, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - at) * per_second)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / per_second)
                raise Problem("rate-limited",
                              f"{caller} sent more than {rate_per_minute} requests a minute",
                              retry_after=max(wait, 1))
            self._buckets[caller] = (tokens - 1.0, now)
