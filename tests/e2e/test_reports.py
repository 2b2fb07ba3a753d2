"""The periodic report as units send it: ``gateway report --send vn.c02`` at a BLO, signed and
delivered over BX/1 to C02, which gathers it for the period (who reported, who has not, the
national sums) and attaches it to no case; a partner abroad is never sent one."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from gateway.documents.catalog import catalogs
from gateway.protocol.bearer import issue_bearer
from gateway.protocol.encoding import b64url_decode
from gateway.protocol.envelope import MessageDraft, compose_message
from gateway.reports.labels import label
from gateway.settings import REPOSITORY
from gateway.trust.keys import KeyStore
from tests.e2e.federation import NodeProcess, make_federation, wait_for
from tests.e2e.screenshots import keep
from tests.e2e.test_console import PASSWORD, Desk

pytestmark = pytest.mark.e2e
WORDS = catalogs(REPOSITORY / "translations")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    running = make_federation(tmp_path_factory.mktemp("reports"), {
        "vn.blo-mocbai": "push", "vn.blo-xamat": "push", "vn.blo-laobao": "push",
        "vn.c02": "push", "kh.blo-bavet": "push"})
    accounts = [("vn.c02", "c02.chief", "supervisor", None),
                ("vn.blo-xamat", "xamat.chief", "supervisor", None),
                ("vn.blo-xamat", "xamat.deputy", "supervisor", None),
                ("vn.blo-laobao", "laobao.chief", "supervisor", PASSWORD),
                ("vn.blo-laobao", "laobao.deputy", "supervisor", PASSWORD),
                ("vn.c02", "c02.investigator", "investigator", PASSWORD),
                ("vn.blo-laobao", "laobao.hotline", "hotline-operator", None)]
    with ThreadPoolExecutor(4) as pool:  # accounts made side by side (each a CLI run)
        list(pool.map(lambda a: running[a[0]].add_user(
            a[1], a[2], **({"password": a[3]} if a[3] else {})), accounts))
    yield running
    for node in running.values():
        node.stop()


def query(node: NodeProcess, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        return conn.execute(sql, args).fetchall()


def test_a_unit_sends_its_report_and_c02_counts_it(nodes: dict[str, NodeProcess]) -> None:
    mocbai, c02, bavet = nodes["vn.blo-mocbai"], nodes["vn.c02"], nodes["kh.blo-bavet"]
    abroad = mocbai.cli("report", "--period", "2027-H1", "--send", "kh.blo-bavet", check=False)
    assert abroad.returncode == 1
    assert "vn.c02" in abroad.stderr
    sideways = mocbai.cli("report", "--period", "2027-H1", "--send", "vn.blo-xamat",
                          check=False)
    assert sideways.returncode == 1
    sent = mocbai.cli("report", "--period", "2027-H1", "--send", "vn.c02")
    message_id = sent.stdout.strip().splitlines()[-1]
    assert query(mocbai, "SELECT count(*) FROM messages WHERE direction = 'out'") == [(1,)]
    wait_for(lambda: query(c02, "SELECT attach_pending FROM messages WHERE message_id = ?",
                           message_id) == [(0,)], "C02 to receive and settle the report")
    assert query(c02, "SELECT count(*) FROM case_conversations") == [(0,)]  # no case
    assert query(c02, "SELECT count(*) FROM cases") == [(0,)]
    assert query(c02, "SELECT count(*) FROM audit_log WHERE action = 'message.received' "
                      "AND subject = ?", message_id) == [(1,)]
    assert query(bavet, "SELECT count(*) FROM messages") == [(0,)]  # nothing went abroad
    with c02.session("c02.chief") as api:
        answer = api.get("/reports", params={"period": "2027-H1"})
    assert answer.status_code == 200, answer.text
    collection = answer.json()["collection"]
    assert [r["unit"] for r in collection["reported"]] == ["vn.blo-mocbai"]
    assert collection["reported"][0]["late"] is False
    # the other Vietnamese units; Bavet never reports
    assert collection["missing"] == ["vn.blo-laobao", "vn.blo-xamat"]
    national = {(c["indicator"], c["measure"], c.get("partner")): c["value"]
                for c in collection["national"]}
    assert national["tips", "received", None] == "0"
    assert all(v not in {"1", "2", "3", "4"} for (i, _, _), v in national.items()
               if i in ("victims-received", "victims-referred", "foreign-cases"))
    refused = mocbai.cli("report", "--period", "2027-H1", "--national", "--format", "csv",
                         check=False)
    assert refused.returncode == 1
    assert "vn.c02" in refused.stderr
    table = c02.cli("report", "--period", "2027-H1", "--national", "--format", "csv",
                    "--lang", "en", "--reason", "national table for the committee")
    lines = list(csv.reader(io.StringIO(table.stdout.lstrip("\ufeff"))))
    assert [row[0] for row in lines if row[-1:] == ["reported"]] == ["vn.blo-mocbai"]
    assert any(row[:2] == ["vn.blo-xamat", ""] for row in lines)  # not reported yet
    assert ["Indicator", "Partner", "Month", "Sex and age", "Measure",
            "Sum of the units"] in lines  # zero everywhere: no row below it yet
    assert query(c02, "SELECT actor FROM audit_log WHERE action = 'report.exported'") == [
        ("operator",)]


def test_c02_refuses_a_report_from_a_partner_abroad(nodes: dict[str, NodeProcess],
                                                     tmp_path: Path) -> None:
    bavet = nodes["kh.blo-bavet"]
    refused = bavet.cli("report", "--period", "2027-H1", "--send", "vn.c02", check=False)
    assert refused.returncode == 1  # no collector for KH units: the outbound rule says so
    assert "periodic report" in refused.stderr


def test_a_report_with_a_small_count_of_persons_never_travels(
        nodes: dict[str, NodeProcess]) -> None:
    """MESSAGES.md: a count of 1 to 4 persons never travels as a number. The unit's node will
    not queue such a report; signed by hand with the unit's own key and pushed on the wire,
    C02 refuses it at the door, says which cell, audits the refusal and stores nothing."""
    xamat, c02 = nodes["vn.blo-xamat"], nodes["vn.c02"]
    example = (REPOSITORY / "schemas" / "periodic-report" / "examples"
               / "vn-mocbai-six-month.xml").read_text(encoding="utf-8")
    cell = ('<cell indicator="victims-received" measure="persons" partner="kh.blo-bavet" '
            'sex="male" age="adult" count="9"/>')
    assert cell in example
    document = example.replace("vn.blo-mocbai", "vn.blo-xamat").replace(
        cell, cell.replace('count="9"', 'count="3"'))
    with xamat.api() as api:
        queued = api.post("/messages", json={"to": "vn.c02", "type": "periodic-report",
                                             "document": document})
    assert queued.status_code == 422, queued.text
    assert "count of 3 persons" in queued.text
    assert query(xamat, "SELECT count(*) FROM messages WHERE doc_type = 'periodic-report'") \
        == [(0,)]
    key = KeyStore(xamat.data_dir / "keys" / "signing.pem", "vn.blo-xamat").signing_key()
    now = datetime.now(UTC)
    raw = compose_message(key, "vn.blo-xamat", MessageDraft(
        type="periodic-report", version="1.0", to="vn.c02"), document.encode(), created=now)
    response = httpx.post(f"{c02.url}/messages", content=raw, timeout=30, headers={
        "Authorization": f"Bearer {issue_bearer(key, 'vn.blo-xamat', 'vn.c02', now)}",
        "Content-Type": "application/jose+json"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:bx:problem:schema-invalid"
    [error] = problem["errors"]
    assert error["line"] == document.splitlines().index(
        next(line for line in document.splitlines() if 'count="3"' in line)) + 1
    assert "count of 3 persons" in error["message"]
    message_id = json.loads(b64url_decode(json.loads(raw)["protected"]))["bx"]["id"]
    assert query(c02, "SELECT count(*) FROM messages WHERE message_id = ?", message_id) \
        == [(0,)]
    assert query(c02, "SELECT count(*) FROM audit_log WHERE action = 'message.rejected' "
                      "AND subject = ?", message_id) == [(1,)]


def test_a_report_released_by_a_second_supervisor_reaches_c02(
        nodes: dict[str, NodeProcess]) -> None:
    xamat, c02 = nodes["vn.blo-xamat"], nodes["vn.c02"]
    with xamat.session("xamat.chief") as chief, xamat.session("xamat.deputy") as deputy:
        bad = chief.post("/reports/submissions", json={"period": "2027-H3"})
        assert bad.status_code == 422
        assert "2027-H3" in bad.json()["detail"]
        submitted = chief.post("/reports/submissions", json={"period": "2027-H1"})
        assert submitted.status_code == 201, submitted.text
        assert submitted.json()["to"] == "vn.c02"
        release_id = submitted.json()["id"]
        alone = chief.post(f"/reports/submissions/{release_id}/release")
        assert alone.status_code == 403  # four eyes: not the one who submitted
        assert query(xamat, "SELECT count(*) FROM messages WHERE direction = 'out'") == [(0,)]
        released = deputy.post(f"/reports/submissions/{release_id}/release")
        assert released.status_code == 200, released.text
        message_id = released.json()["message_id"]
        again = deputy.post(f"/reports/submissions/{release_id}/release")
        assert again.status_code == 409
    assert [a for (a,) in query(xamat, "SELECT action FROM audit_log WHERE action LIKE "
                                       "'report.%' ORDER BY seq")] == [
        "report.submitted", "report.released"]
    wait_for(lambda: query(c02, "SELECT attach_pending FROM messages WHERE message_id = ?",
                           message_id) == [(0,)], "C02 to receive the released report")
    with c02.session("c02.chief") as api:
        collection = api.get("/reports", params={"period": "2027-H1"}).json()["collection"]
    assert "vn.blo-xamat" in [r["unit"] for r in collection["reported"]]
    assert "vn.blo-xamat" not in collection["missing"]


def test_in_the_browser_two_supervisors_send_the_report_and_c02_sees_it(
        nodes: dict[str, NodeProcess], browser: Any, tmp_path: Path) -> None:
    laobao, c02 = nodes["vn.blo-laobao"], nodes["vn.c02"]
    with laobao.session("laobao.hotline") as hotline:  # something to count: two tips
        for _ in range(2):
            taken = hotline.post("/tips", json={
                "channel": "phone", "reporter_relation": "neighbour", "danger": "unknown",
                "narrative": "Hai thanh niên được hứa việc làm bên kia biên giới.",
                "foreign_country": "LA"})
            assert taken.status_code == 201, taken.text
    chief = Desk(browser, laobao, "laobao.chief", tmp_path)
    chief.go("/reports?period=2027-H1")
    assert chief.page.locator("#range-form label").all_inner_texts()[:2] == [
        "Từ ngày", "Đến ngày"]  # a range of days, not a sender and a recipient
    chief.page.click("#submit-form button")
    chief.page.wait_for_url("**done=report-submitted")
    assert chief.page.inner_text("#flash").startswith("Đã trình báo cáo")  # in words
    submissions = chief.page.locator("#submissions").inner_text()
    assert "Laobao.Chief" in submissions  # by name (the CLI's --name), not by login
    assert "laobao.chief" not in submissions
    chief.go("/release")
    assert chief.page.locator(".release-report").count() == 1
    assert chief.page.locator("button[id^=release-report-]").count() == 0  # not one's own
    chief.close()
    for lang in ("km", "vi"):  # the other supervisor finds it where she looks
        deputy = Desk(browser, laobao, "laobao.deputy", tmp_path, lang=lang)
        assert "2027-H1" in deputy.page.inner_text("#my-release")  # her home page
        keep(deputy.shot(f"home-supervisor-{lang}"), f"home-supervisor-{lang}.png")
        deputy.page.click("#my-release a[href^='/release#report-']")
        preview = deputy.page.frame_locator(".release-report iframe.preview")
        shown = preview.locator("body").inner_text()
        assert label(WORDS.get(lang), "tips") in shown  # in her language
        assert "Hotline tips" in shown  # and English beneath
        cells = preview.locator("#preview-tips td").all_inner_texts()
        assert cells[0] == "2"  # the two tips received, as they will be signed
        keep(deputy.shot(f"release-report-{lang}"), f"release-report-{lang}.png")
        if lang == "km":
            deputy.close()
    deputy.page.click("button[id^=release-report-]")
    deputy.page.wait_for_url("**done=report-released")
    assert deputy.page.inner_text("#flash").startswith("Đã duyệt báo cáo")
    assert deputy.page.locator(".release-report").count() == 0
    deputy.close()
    wait_for(lambda: query(c02, "SELECT count(*) FROM messages WHERE sender = 'vn.blo-laobao'"
                                " AND doc_type = 'periodic-report' AND NOT attach_pending")
             == [(1,)], "C02 to receive Lao Bao's report")
    investigator = Desk(browser, c02, "c02.investigator", tmp_path)
    investigator.go("/reports?period=2027-H1")
    reported = investigator.page.locator("#collection tr.reported").all_inner_texts()
    assert any("vn.blo-laobao" in row for row in reported), reported
    national = investigator.page.locator("#national tr").all_inner_texts()
    tips = [row for row in national if "đã nhận" in row and "Tin báo qua" in row]
    assert tips, national
    assert tips[0].split()[-1] == "2"  # Lao Bao's two tips (tips are not persons: shown)
    counts = investigator.page.locator("#national td.num").all_inner_texts()
    persons = [row for row in national if "Nạn nhân" in row or "Vụ việc" in row]
    assert not any(row.split()[-1] in {"1", "2", "3", "4"} for row in persons)
    assert counts
    keep(investigator.shot("reports-c02-vi"), "reports-c02-vi.png")
    page = investigator.page  # the national table, exported like any report
    page.select_option("#scope", "national")
    page.select_option("#format", "xlsx")
    page.fill("#reason", "Báo cáo quốc gia 6 tháng")
    with page.expect_download() as downloading:
        page.click("#export-form button")
    saved = tmp_path / "national.xlsx"
    downloading.value.save_as(saved)
    book = load_workbook(saved)
    table = list(book["national"].iter_rows(values_only=True))
    assert any(row[0] == "Tin báo qua đường dây nóng" and row[4] == "đã nhận" and row[5] == 2
               for row in table), table  # the sum as a number
    assert not any(row[5] in (1, 2, 3, 4) for row in table[2:]
                   if row[0] and ("Nạn nhân" in row[0] or "Vụ việc" in row[0]))
    units = list(book["units"].iter_rows(values_only=True))
    assert any(row[0] == "vn.blo-laobao" for row in units), units
    exported = query(c02, "SELECT actor, subject, detail FROM audit_log WHERE action = "
                          "'report.exported'")
    assert [(a, s, json.loads(d)["scope"], json.loads(d)["reason"]) for a, s, d in exported
            if a == "c02.investigator"] == [
        ("c02.investigator", "2027-H1", "national", "Báo cáo quốc gia 6 tháng")]
    investigator.close()
