"""The periodic report as units send it: ``gateway report --send vn.c02`` at a BLO, signed and
delivered over BX/1 to C02, which gathers it for the period (who reported, who has not, the
national sums) and attaches it to no case; a partner abroad is never sent one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.federation import NodeProcess, make_federation, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    running = make_federation(tmp_path_factory.mktemp("reports"), {
        "vn.blo-mocbai": "push", "vn.blo-xamat": "push", "vn.c02": "push",
        "kh.blo-bavet": "push"})
    running["vn.c02"].add_user("c02.chief", "supervisor")
    running["vn.blo-xamat"].add_user("xamat.chief", "supervisor")
    running["vn.blo-xamat"].add_user("xamat.deputy", "supervisor")
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
    assert collection["missing"] == ["vn.blo-xamat"]  # a Vietnamese unit; Bavet never reports
    national = {(c["indicator"], c["measure"], c.get("partner")): c["value"]
                for c in collection["national"]}
    assert national["tips", "received", None] == "0"
    assert all(v not in {"1", "2", "3", "4"} for (i, _, _), v in national.items()
               if i in ("victims-received", "victims-referred", "foreign-cases"))


def test_c02_refuses_a_report_from_a_partner_abroad(nodes: dict[str, NodeProcess],
                                                     tmp_path: Path) -> None:
    bavet = nodes["kh.blo-bavet"]
    refused = bavet.cli("report", "--period", "2027-H1", "--send", "vn.c02", check=False)
    assert refused.returncode == 1  # no collector for KH units: the outbound rule says so
    assert "periodic report" in refused.stderr


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
