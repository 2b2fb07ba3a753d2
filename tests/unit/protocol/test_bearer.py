"""The in-memory replay cache of bearer token ids."""

from __future__ import annotations

from datetime import timedelta

from gateway.protocol.bearer import MemoryReplayCache
from tests.conftest import NOW


def test_memory_replay_cache_forgets_expired_ids_only() -> None:
    now = [NOW]
    cache = MemoryReplayCache(lambda: now[0])
    stamp = int(NOW.timestamp())
    assert cache.remember("vn.c02", "a", stamp + 100)
    assert not cache.remember("vn.c02", "a", stamp + 100)
    assert cache.remember("la.atd", "a", stamp + 100)  # per issuer
    now[0] = NOW + timedelta(seconds=101)
    assert cache.remember("vn.c02", "a", stamp + 400)  # expired, so it may be seen again
    assert not cache.remember("vn.c02", "a", stamp + 400)
