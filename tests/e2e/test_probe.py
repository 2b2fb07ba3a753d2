"""``gateway probe`` against a real ``gateway serve``: every check passes, the three reports
are written and read back, and what the probe sent (test messages, PROTOCOL.md §3.1) shows up
nowhere in the partner's casework or reports. One pair of nodes for the module: ``vn.c02``
probes ``kh.ahtjp``, which holds ``vn.c02``'s mail (pull) and whose checkpoints ``vn.c02``
witnesses from bundles, so that the pull (§4.4), bundle (§4.6) and history (§4.8) checks
have something to look at."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from gateway.exchange.probe.results import CHECKS
from tests.e2e.federation import NodeProcess, wait_for

pytestmark = pytest.mark.e2e


def query(node: NodeProcess, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(node.data_dir / "gateway.db") as conn:
        return [tuple(r) for r in conn.execute(sql, args)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, NodeProcess,
                                                                      Path]]:
    root = tmp_path_factory.mktemp("probe")
    vn, kh = NodeProcess("vn.c02", root / "vn.c02"), NodeProcess("kh.ahtjp", root / "kh.ahtjp")
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda n: n.generate_key(), (vn, kh)))
            for node in (vn, kh):
                node.launch()
            list(pool.map(lambda n: n.wait_healthy(), (vn, kh)))
            vn_thumbs, kh_thumbs = pool.map(lambda n: n.published_thumbprints(), (vn, kh))
            list(pool.map(lambda job: job(), (
                lambda: vn.enrol(kh, thumbprints=kh_thumbs),  # pushes; never polls kh.ahtjp
                lambda: kh.enrol(vn, thumbprints=vn_thumbs))))
        reload(vn)
        reload(kh)
        # kh.ahtjp's first checkpoint goes to its witness vn.c02 by push, and the
        # cosignature comes back; then kh.ahtjp keeps vn.c02's mail (pull): its second
        # checkpoint, with the proof from the first, waits there and goes on a bundle
        kh.cli("audit", "checkpoint", "--new")
        wait_for(lambda: query(kh, "SELECT cosigned_size FROM checkpoint_witnesses WHERE "
                                   "partner = 'vn.c02' AND cosigned_size > 0"),
                 "vn.c02 to cosign kh.ahtjp's checkpoint")
        entry = kh.data_dir / "partners" / "vn.c02.toml"
        entry.write_text(tomli_w.dumps({**tomllib.loads(entry.read_text(encoding="utf-8")),
                                        "delivery": "pull"}), encoding="utf-8")
        reload(kh)
        kh.cli("audit", "checkpoint", "--new")
        bundle = root / "from-kh.zip"
        kh.cli("bundle", "export", "--to", "vn.c02", str(bundle))
        vn.cli("bundle", "import", str(bundle))
        yield vn, kh, bundle
    finally:
        for node in (vn, kh):
            node.stop()


def reload(node: NodeProcess) -> None:
    with node.api() as api:
        assert api.post("/admin/partners/reload").status_code == 200


def test_a_conforming_node_passes_every_check_and_files_the_tests_apart(
        pair: tuple[NodeProcess, NodeProcess, Path], tmp_path: Path) -> None:
    vn, kh, bundle = pair
    reports = tmp_path / "reports"
    probed = vn.cli("probe", "--partner", "kh.ahtjp", "--as", "vn.c02", "--report",
                    str(reports), "--bundle", str(bundle), check=False, timeout=300)
    assert probed.returncode == 0, probed.stdout + probed.stderr

    results = json.loads((reports / "probe.json").read_text(encoding="utf-8"))
    statuses = {r["id"]: r["status"] for r in results["results"]}
    assert set(CHECKS) <= set(statuses)
    skipped = {i for i, s in statuses.items() if s == "SKIP"}
    # a periodic report goes from a Vietnamese unit to vn.c02 only: kh.ahtjp refuses it
    assert skipped == {"4.2-accept:periodic-report"}, results
    assert set(statuses.values()) == {"PASS", "SKIP"}
    assert results["probe"]["passed"] is True

    suite = ET.parse(reports / "probe.xml").getroot()
    cases = suite.findall("./testsuite/testcase")
    assert len(cases) == len(statuses)
    assert suite.findall(".//failure") == []
    assert len(suite.findall(".//skipped")) == len(skipped)
    page = (reports / "probe.html").read_text(encoding="utf-8")
    assert "4.2-refused-not-stored" in page
    assert "Bearer" in page
    assert "<signature cut>" in page.replace("&lt;", "<").replace("&gt;", ">")

    # the partner keeps the tests marked, apart from casework
    tests = query(kh, "SELECT count(*) FROM messages WHERE direction = 'in' AND test")[0][0]
    assert tests > 30
    assert {t for (t,) in query(kh, "SELECT doc_type FROM messages WHERE direction = 'in' "
                                    "AND NOT test")} <= {"cosignature"}  # vn.c02's own
    assert query(kh, "SELECT count(*) FROM messages WHERE attach_pending") == [(0,)]
    assert query(kh, "SELECT count(*) FROM cases") == [(0,)]
    assert query(kh, "SELECT count(*) FROM tasks") == [(0,)]
    assert query(kh, "SELECT count(*) FROM notifications") == [(0,)]
    listed = kh.cli("messages", "--test").stdout.splitlines()
    assert len(listed) == tests
    assert all("TEST" in line for line in listed)
    report = kh.cli("report", "--period", "2027-H1", "--format", "csv", "--lang", "en")
    rows = list(csv.reader(io.StringIO(report.stdout.lstrip("\ufeff"))))[1:]
    counts = [cell for row in rows for cell in row[1:] if cell.strip().isdigit()]
    assert counts, report.stdout
    assert set(counts) == {"0"}, "a test message was counted in a report"
    # the run is in the prober's audit log
    assert [a for (a,) in query(vn, "SELECT action FROM audit_log WHERE action LIKE "
                                    "'probe.%' ORDER BY seq")] == ["probe.started",
                                                                   "probe.finished"]


def test_read_only_pushes_nothing_and_usage_errors_exit_2(
        pair: tuple[NodeProcess, NodeProcess, Path]) -> None:
    vn, kh, _ = pair
    before = query(kh, "SELECT count(*) FROM messages")
    probed = vn.cli("probe", "--partner", "kh.ahtjp", "--as", "vn.c02", "--read-only",
                    check=False)
    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert query(kh, "SELECT count(*) FROM messages") == before
    lines = probed.stdout.splitlines()
    assert any(line.startswith("PASS") and "4.1-replayed" in line for line in lines)
    assert any(line.startswith("SKIP") and "4.2-wrong-recipient" in line for line in lines)
    wrong = (["--as", "vn.c02"], ["--partner", "kh.ahtjp"],
             ["--partner", "kh.ahtjp", "--as", "kh.ahtjp"],
             ["--partner", "la.atd", "--as", "vn.c02"],
             ["ftp://example.org/bx/v1", "--as", "vn.c02"])
    with ThreadPoolExecutor(len(wrong)) as pool:
        refused = list(pool.map(lambda args: vn.cli("probe", *args, check=False), wrong))
    assert [r.returncode for r in refused] == [2] * len(wrong), [r.stderr for r in refused]
