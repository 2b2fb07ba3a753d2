"""Red team on matching (issue 25): a found person's matches name no person of a case the
caller may not see (another unit's case is no case for them: neither its id nor its victim's
name, birth or home said in the reasons), and a record that does not open (sealed bytes
altered, a person that is not JSON) stops no other record's matching nor any search."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from gateway.cases import matcher, matching
from tests.integration.conftest import Desk
from tests.integration.test_casework import only_case, receive
from tests.integration.test_matches import GIRL, OTHER, people, report, rows

__all__ = ["people"]
pytestmark = pytest.mark.anyio

#: What the verification request's example says of the girl's home, beyond the province.
HOME = "Hảo Đước"


async def test_a_match_query_names_no_person_of_another_units_case(people: Desk) -> None:
    await receive(people, "verification-request")  # a case of kh.ahtjp
    case = await only_case(people)
    await matcher.run_once(people.receiver.app.state.cases)
    await people.add_user("c02", "investigator", unit="kh.c02")
    query = {"person": {**GIRL, "birth": None, "estimated_age": 15}, "limit": 50}
    assert (await people.call("other.officer", "GET", f"/api/cases/{case['id']}")
            ).status_code == 404
    asked = await people.call("other.officer", "POST", "/api/matches", json=query,
                              headers={"Accept-Language": "en"})
    assert asked.status_code == 200
    assert [m for m in asked.json()["matches"] if m["kind"] == "case-person"] == []
    assert HOME not in asked.text
    assert "NGUYEN" not in asked.text
    # the case's own unit, and C02 (who sees every case), still find the girl
    for who in ("officer", "c02"):
        found = await people.ok(who, "POST", "/api/matches", json=query,
                                headers={"Accept-Language": "en"})
        assert [m["case_id"] for m in found["matches"]] == [case["id"]], who


async def test_a_case_page_of_matches_lists_no_person_of_another_units_case(
        people: Desk) -> None:
    await receive(people, "verification-request")
    cw = people.receiver.app.state.cases
    theirs = await only_case(people)
    made = await people.ok("other.officer", "POST", "/api/cases", json={
        "kind": "verification", "summary": "a girl found at the market"})
    await people.ok("other.officer", "POST", f"/api/cases/{made['id']}/persons", json={
        "role": "victim", "name_latin": "Nguyen Thi Hoa", "sex": "female",
        "nationality": "VN", "birth_year": 2011})
    await matcher.run_once(cw)
    found = await people.ok("other.officer", "GET", f"/api/cases/{made['id']}/matches",
                            headers={"Accept-Language": "en"})
    listed = [m for p in found["persons"] for m in p["matches"]]
    assert all(m["case_id"] != theirs["id"] for m in listed), listed


def _corrupt(desk: Desk, report_id: int, sealed: bytes) -> None:
    with sqlite3.connect(desk.receiver.db) as conn:
        conn.execute("UPDATE missing_persons SET person_sealed = ? WHERE id = ?",
                     (sealed, report_id))
        conn.execute("UPDATE match_queue SET queued_at = '2000-01-01' WHERE record_id = ? "
                     "AND kind = 'missing-person'", (report_id,))


@pytest.mark.parametrize("poison", ["altered", "not-json"])
async def test_a_record_that_does_not_open_stops_no_other_matching(
        people: Desk, poison: str, caplog: pytest.LogCaptureFixture) -> None:
    cw = people.receiver.app.state.cases
    bad = await report(people, GIRL)  # the same girl: a candidate of every look for her
    sealed: Any = (b"\x00" * 40 if poison == "altered"
                   else cw.sealer.seal_text("{not json", "missing_persons.person"))
    _corrupt(people, bad, sealed)
    girl = await report(people, GIRL)
    await report(people, OTHER)
    await receive(people, "verification-request")
    assert await matcher.run_once(cw) == 1  # the girl and the victim, the poison aside
    assert [r for r, in rows(people, "SELECT report_id FROM match_suggestions")] == [girl]
    assert rows(people, "SELECT kind, record_id FROM match_queue") == [
        ("missing-person", bad)]  # kept for later, behind the others
    asked = await people.ok("officer", "POST", "/api/matches", json={"person": GIRL})
    assert ("missing-person", girl) in [(m["kind"], m["id"]) for m in asked["matches"]]
    assert all(m["id"] != bad for m in asked["matches"] if m["kind"] == "missing-person")
    assert "Nguyen" not in caplog.text
    assert "Hoa" not in caplog.text


@pytest.mark.parametrize("poison", ["altered", "not-json", "not-a-person"])
async def test_the_index_is_rebuilt_around_a_record_that_does_not_open(
        people: Desk, poison: str, caplog: pytest.LogCaptureFixture) -> None:
    """``gateway serve`` rebuilds an empty index at start: one report or case person that
    does not open is left out (a log line with its id), the others are indexed, and the
    node starts."""
    cw = people.receiver.app.state.cases
    bad = await report(people, GIRL)
    sealed: Any = {"altered": b"\x00" * 40,
                   "not-json": cw.sealer.seal_text("{not json", "missing_persons.person"),
                   "not-a-person": cw.sealer.seal_text('{"name_latin": 5}',
                                                       "missing_persons.person")}[poison]
    _corrupt(people, bad, sealed)
    girl = await report(people, GIRL)
    await receive(people, "verification-request")
    await matcher.run_once(cw)
    with sqlite3.connect(people.receiver.db) as conn:  # a victim whose details were altered
        (victim,) = conn.execute("SELECT id FROM persons WHERE role = 'victim'").fetchone()
        conn.execute("UPDATE persons SET details_sealed = ? WHERE id = ?",
                     (b"\x00" * 40, victim))
        conn.execute("DELETE FROM match_keys")
    indexed = await matching.ensure_index(cw)
    assert indexed == 1 + 1  # the good report and the relative; the poison and the victim out
    kept = rows(people, "SELECT DISTINCT kind, record_id FROM match_keys")
    assert ("missing-person", girl) in kept
    assert ("missing-person", bad) not in kept
    assert ("case-person", victim) not in kept
    assert "Nguyen" not in caplog.text
    assert "Hoa" not in caplog.text
