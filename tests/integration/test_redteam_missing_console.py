"""Red team on the console's missing-person form: a hostile "last seen" time (a year the
node's zone cannot move to UTC) is refused beside its input, never a server error, and
nothing is stored."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_console_work import JPEG, Browser, people, rows

__all__ = ["people"]
pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("seen", ["0001-01-01T00:00", "0001-01-01T06:59+07:00",
                                  "9999-12-31T23:59-05:00"])
async def test_a_last_seen_time_out_of_range_is_refused_beside_its_input(
        people: dict[str, Browser], seen: str) -> None:
    line = people["line"]
    await line.get("/missing")
    answer = await line.post("/missing", data={
        "person.name_latin": "NGUYEN Thi Hoa", "person.sex": "female",
        "reporter_relation": "parent", "last_seen.time": seen})
    assert answer.status_code == 422, answer.text[:300]
    assert 'name="last_seen.time"' in answer.text
    assert rows(line.receiver, "SELECT count(*) FROM missing_persons") == [(0,)]


async def test_a_home_place_longer_than_matching_keeps_is_refused_beside_its_input(
        people: dict[str, Browser]) -> None:
    """The contract's 120 characters of a home's place (what matching compares) are the
    form's: a longer one comes back beside its input with what was typed, nothing stored."""
    line = people["line"]
    await line.get("/missing")
    answer = await line.post("/missing", data={
        "person.name_latin": "NGUYEN Thi Hoa", "person.sex": "female",
        "reporter_relation": "parent", "person.home.province": "x" * 121})
    assert answer.status_code == 422, answer.text[:300]
    assert re.search(r'class="has-error"><label for="mp-home-province"', answer.text)
    assert 'value="' + "x" * 121 + '"' in answer.text
    assert rows(line.receiver, "SELECT count(*) FROM missing_persons") == [(0,)]


@pytest.mark.parametrize("path", ["/missing/99999999999999999999",
                                  "/missing/99999999999999999999/photo"])
async def test_a_report_number_beyond_any_row_is_refused_not_a_server_error(
        people: dict[str, Browser], path: str) -> None:
    answer = await people["line"].get(path)
    assert answer.status_code in (404, 422)


async def test_closing_a_report_number_beyond_any_row_is_refused_not_a_server_error(
        people: dict[str, Browser]) -> None:
    line = people["line"]
    await line.get("/missing")
    answer = await line.post("/missing/99999999999999999999/close",
                             data={"reason": "found", "confirm": "yes"})
    assert answer.status_code in (404, 422)


@pytest.mark.parametrize("path", ["/cases/99999999999999999999",
                                  "/cases/99999999999999999999/compose",
                                  "/drafts/99999999999999999999"])
async def test_a_case_or_draft_number_beyond_any_row_is_refused_not_a_server_error(
        people: dict[str, Browser], path: str) -> None:
    """The same for every numbered page of the console (cases, drafts, tasks, tips)."""
    answer = await people["line"].get(path)
    assert answer.status_code in (404, 422), answer.status_code


@pytest.mark.parametrize("path", ["/cases/99999999999999999999/matches",
                                  "/missing/99999999999999999999/matches",
                                  "/cases/99999999999999999999/matches/1/photo",
                                  "/cases/1/matches/99999999999999999999/photo"])
async def test_a_matches_page_number_beyond_any_row_is_refused_not_a_server_error(
        people: dict[str, Browser], path: str) -> None:
    """Issue 25's pages of suggestions and photos, as every numbered page of the console."""
    answer = await people["sophea"].get(path)
    assert answer.status_code in (403, 404, 422), answer.status_code


@pytest.mark.parametrize("path", ["/cases/99999999999999999999/matches/1",
                                  "/cases/1/matches/99999999999999999999"])
async def test_deciding_a_suggestion_number_beyond_any_row_is_refused_not_a_server_error(
        people: dict[str, Browser], path: str) -> None:
    officer = people["sophea"]
    await officer.get("/cases")
    answer = await officer.post(path, data={"decision": "confirm", "confirmed": "yes"})
    assert answer.status_code in (403, 404, 422), answer.status_code


@pytest.mark.parametrize(("data", "field", "said"), [
    ({"person.sex": "female", "reporter_relation": "parent"}, "mp-name-latin", "bắt buộc"),
    ({"person.name_latin": "NGUYEN Thi Hoa", "person.sex": "female",
      "reporter_relation": "parent", "birth_date": "2011-02-30"}, "mp-birth-date",
     "một ngày (năm-tháng-ngày)")])
async def test_a_refusal_beside_its_input_says_the_problem_not_the_inputs_path(
        people: dict[str, Browser], data: dict[str, str], field: str, said: str) -> None:
    """The walk of issue 25 (a hotline operator's first report): beside the name left empty
    the page said "person.name_latin: bắt buộc", the API's path of the input in the words of
    the operator; beside the input the problem alone is said, in her language."""
    line = people["line"]
    await line.get("/missing")
    answer = await line.post("/missing", data=data)
    assert answer.status_code == 422, answer.text[:300]
    beside = re.search(rf'<label for="{field}"[^>]*>.*?<span class="field-error" '
                       r'role="alert">(.*?)</span>', answer.text, re.S)
    assert beside is not None, answer.text[:2000]
    assert beside.group(1) == said
    assert "person." not in beside.group(1)
    assert rows(line.receiver, "SELECT count(*) FROM missing_persons") == [(0,)]


async def test_closing_a_report_without_a_reason_says_so_beside_the_reason(
        people: dict[str, Browser]) -> None:
    line = people["line"]
    await line.get("/missing")
    made = await line.post("/missing", data={
        "person.name_latin": "NGUYEN Thi Hoa", "person.sex": "female",
        "reporter_relation": "parent"})
    assert made.status_code == 303
    report = made.headers["location"].split("/")[2].split("?")[0]
    await line.get(f"/missing/{report}")
    answer = await line.post(f"/missing/{report}/close", data={"confirm": "yes"})
    assert answer.status_code == 422
    said = re.findall(r'<span class="field-error" role="alert">(.*?)</span>', answer.text)
    assert said == ["bắt buộc"], said


async def test_a_photo_chosen_before_a_refusal_is_asked_for_again(
        people: dict[str, Browser]) -> None:
    """The walk of issue 25: a form sent back for another field came back with its photo
    section folded, and a browser never fills a file input again: the operator saved without
    the photo she had chosen. The section now opens and asks for the photo again."""
    line = people["line"]
    await line.get("/missing")
    answer = await line.post("/missing", data={
        "person.name_latin": "", "person.sex": "female", "reporter_relation": "parent"},
        files=[("photo", ("lan.jpg", JPEG, "image/jpeg"))])
    assert answer.status_code == 422, answer.text[:300]
    assert 'id="photo-again"' in answer.text
    assert re.search(r'<details open><summary id="fold-photo">', answer.text)
    without = await line.post("/missing", data={
        "person.name_latin": "", "person.sex": "female", "reporter_relation": "parent"})
    assert 'id="photo-again"' not in without.text
    assert rows(line.receiver, "SELECT count(*) FROM missing_persons") == [(0,)]
