"""Bearer tokens: the in-memory replay cache of their ids, and ``nbf``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest

from gateway.protocol.bearer import MemoryReplayCache, verify_bearer
from gateway.protocol.envelope import new_message_id
from gateway.protocol.problems import Problem
from tests.conftest import NOW, World


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


def _token(world: World, **claims: Any) -> str:
    iat = int(world.now.timestamp())
    body = {"iss": "vn.c02", "sub": "vn.c02", "aud": "kh.ahtjp", "iat": iat, "exp": iat + 120,
            "jti": new_message_id(), **claims}
    return jwt.encode(body, world.sender_key.private_key, algorithm=world.sender_key.alg,
                      headers={"kid": world.sender_key.kid})


def test_a_token_is_refused_before_its_nbf_and_accepted_after(world: World) -> None:
    """PROTOCOL.md §4.1: ``nbf`` is honoured, with 60 s of skew."""
    stamp = int(world.now.timestamp())

    def check(token: str) -> None:
        verify_bearer(token, "kh.ahtjp", world.ctx.pinned, world.replay, world.clock)

    with pytest.raises(Problem, match="not valid yet"):
        check(_token(world, nbf=stamp + 120))
    check(_token(world, nbf=stamp + 30))  # within the skew
    check(_token(world, nbf=stamp - 10))
    with pytest.raises(Problem, match="nbf"):
        check(_token(world, nbf="soon"))
