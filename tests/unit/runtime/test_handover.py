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
    sealed = b"s" * 100
    handover.BUDGET = 600 * handover._cost(sealed, one)  # room for 600 of these
    handover.hold([(pk, sealed, one) for pk in range(1000)])
    assert 500 < len(handover) < 1000
    assert handover.take(0, sealed) is None  # the oldest went first
    assert handover.take(999, sealed) is one


def test_a_large_message_is_not_held(world: World) -> None:
    handover, one = Handover(), envelope(world)
    handover.BUDGET = 64 * 1000
    handover.hold([(1, b"x" * 2000, one)])  # over a 64th of the budget
    assert handover.take(1, b"x" * 2000) is None


def test_a_row_id_held_again_is_counted_once(world: World) -> None:
    """A row id is held twice when a batch was rolled back and its messages written again
    alone (SQLite gives the same ids again): the first entry's bytes leave the count with it,
    or the count grows for good until nothing can be held any more."""
    handover, one = Handover(), envelope(world)
    sealed = b"s" * 100
    handover.BUDGET = 64 * handover._cost(sealed, one)  # room for 64
    for _ in range(100):  # the same row id, again and again
        handover.hold([(7, sealed, one)])
    assert handover.take(7, sealed) is one
    handover.hold([(8, sealed, one), (9, sealed, one)])
    assert handover.take(8, sealed) is one
    assert handover.take(9, sealed) is one


def test_the_budget_bounds_the_memory_held(world: World) -> None:
    """What the hand-over holds stays within its budget in memory, the envelope's members and
    Python's objects counted, not only the document and the sealed copy: small messages
    cost several times their documents (a partner sending many, or a replica holding what
    another replica attached, fills the budget)."""
    import gc  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415

    handover = Handover()
    handover.BUDGET = 2 * 1024 * 1024
    raws = [world.message(document=b"<x/>") for _ in range(4000)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for pk, raw in enumerate(raws):
            handover.hold([(pk, raw + b"-sealed", parse_envelope(parse_body(raw)))])
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(handover) > 100  # it holds messages...
    assert held <= handover.BUDGET * 1.25  # ... within its budget
