"""RFC 3339 UTC times as BX/1 writes them (PROTOCOL.md §3): read by their fields where the
pattern placed them, written without strftime, and exactly what the library's own readers and
writers give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.envelope import format_rfc3339_utc, parse_rfc3339_utc

TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31),
                     timezones=st.just(UTC))


def _reference(text: str) -> datetime:
    """The reading the node had before: strptime on the seconds, the fraction by hand."""
    main, _, frac = text[:-1].partition(".")
    stamp = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return stamp.replace(microsecond=int(frac[:6].ljust(6, "0"))) if frac else stamp


@given(TIMES, st.integers(0, 9))
def test_a_time_reads_as_strptime_read_it(when: datetime, digits: int) -> None:
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{when.microsecond:06d}{when.microsecond % 1000:03d}"[:digits]
    text += "Z"
    assert parse_rfc3339_utc(text) == _reference(text)


@given(TIMES, st.sampled_from([UTC, __import__("datetime").timezone(timedelta(hours=7))]))
def test_a_time_is_written_as_strftime_wrote_it(when: datetime, zone: object) -> None:
    local = when.astimezone(zone)  # type: ignore[arg-type]
    expected = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        expected += f".{when.microsecond // 1000:03d}"
    assert format_rfc3339_utc(local) == expected + "Z"
    assert parse_rfc3339_utc(format_rfc3339_utc(local)) == when.replace(
        microsecond=when.microsecond // 1000 * 1000)


@pytest.mark.parametrize("text", [
    "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-07T24:00:00Z",
    "2026-12-07T23:60:00Z", "2026-12-07T23:59:60Z", "2026-12-07T23:59:59",
    "2026-12-07 23:59:59Z", "2026-12-07T23:59:59.Z", "2026-12-07T23:59:59+00:00",
    "٢٠٢٦-12-07T23:59:59Z"])
def test_what_is_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_utc(text)
