"""The witnessing alarm of the partners page: a partner that says our checkpoint is
inconsistent, or stale while it holds more than our latest (our log rolled back)."""

from __future__ import annotations

from gateway.exchange.health import refuses_our_log


def test_a_partner_refusing_our_log_raises_the_alarm_only_when_it_means_a_rewrite() -> None:
    assert refuses_our_log({"refusal": "inconsistent", "held_size": 3}, 10)
    assert refuses_our_log({"refusal": "stale", "held_size": 12}, 10)    # rolled back
    assert not refuses_our_log({"refusal": "stale", "held_size": 10}, 10)  # just behind
    assert not refuses_our_log({"refusal": "stale", "held_size": None}, 10)
    assert not refuses_our_log({"refusal": "stale", "held_size": 12}, None)
    assert not refuses_our_log({"refusal": None, "cosigned_size": 10}, 10)
    assert not refuses_our_log(None, 10)
    assert not refuses_our_log({}, 10)
