"""The hand-over of accepted messages to the case work (:class:`gateway.runtime.node.Handover`):
an entry is taken once, only for the row that stores the same sealed bytes, and what exceeds
the budget is dropped oldest first (read from the database instead)."""

from __future__ import annotations

from gateway.protocol.envelope import Envelope, parse_body, parse_envelope
from gateway.runtime.node import Handover
from tests.conftest import World


def envelope(world: World) -> Envelope:
    return parse_envelope(parse_body(world.message()))


def test_an_entry_is_taken_once_for_the_same_sealed_bytes(world: World) -> None:
    handover, first = Handover(), envelope(world)
    handover.hold([(7, b"sealed-7", first)])
    assert handover.take(7, b"sealed-7") is first
    assert handover.take(7, b"sealed-7") is None  # taken already
    assert len(handover) == 0


def test_a_row_holding_other_bytes_gets_nothing(world: World) -> None:
    """A row id reused after a rolled-back batch names another message: its bytes differ."""
    handover = Handover()
    handover.hold([(7, b"sealed-of-a-rolled-back-message", envelope(world))])
    assert handover.take(7, b"sealed-of-the-stored-message") is None
    assert handover.take(8, b"anything") is None
    assert len(handover) == 0


def test_the_oldest_are_dropped_beyond_the_budget(world: World) -> None:
    handover, one = Handover(), envelope(world)
    handover.BUDGET = 10 * 64 * (len(one.document) + 100)  # room for about 600 of these
    sealed = b"s" * 100
    handover.hold([(pk, sealed, one) for pk in range(1000)])
    assert 500 < len(handover) < 1000
    assert handover.take(0, sealed) is None  # the oldest went first
    assert handover.take(999, sealed) is one


def test_a_large_message_is_not_held(world: World) -> None:
    handover, one = Handover(), envelope(world)
    handover.BUDGET = 64 * 1000
    handover.hold([(1, b"x" * 2000, one)])  # over a 64th of the budget
    assert handover.take(1, b"x" * 2000) is None
