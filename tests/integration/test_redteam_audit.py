"""Red team of issue 22: the audit log "fully in words" names each actor: a user by user
name, the node itself ("system"...) and partner nodes by their names. A user name is any
``[a-z][a-z0-9._-]{2,63}``, so an account can be called ``system`` or ``vn.c02``; its reads
of a victim's file are then written, and shown to the auditor, as the node's own or the
partner's.

FAILS on the code as red-teamed: the finding of the report.
"""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest
from lxml import html

from gateway.access import users
from tests.conftest import example
from tests.integration.conftest import Desk
from tests.integration.test_console_work import PASSWORD, Browser

pytestmark = pytest.mark.anyio


async def test_no_account_reads_as_the_node_or_a_partner_in_the_audit_log(desk: Desk) -> None:
    receiver = desk.receiver
    assert (await receiver.post(receiver.world.message(
        "verification-request", example("verification-request")))).status_code == 202
    cw = receiver.app.state.cases
    refused = []
    for name in ("system", "vn.c02"):
        try:
            async with cw.node.engine.begin() as conn:
                await users.add_user.within(conn, cw, "admin", username=name,
                                            display_name="Someone", role="blo-officer",
                                            unit="kh.ahtjp", password=PASSWORD)
        except Exception:  # noqa: BLE001 - any refusal will do
            refused.append(name)
            continue
        desk.passwords[name] = PASSWORD
        await desk.login(name)
        [person] = (await desk.ok(name, "GET", "/api/cases/1"))["persons"][:1]
        await desk.ok(name, "GET", f"/api/cases/1/persons/{person['id']}",
                      params={"reason": "checking the file"})
    with sqlite3.connect(receiver.db) as conn:
        readers = [r[0] for r in conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'special.read'")]
    await desk.add_user("watch", "auditor", password=PASSWORD)
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
        auditor = Browser(receiver, client, lang="en")
        await auditor.login("watch")
        page = await auditor.get("/audit", params={"action": "special.read"})
    actors = [re.sub(r"\s+", " ", cell.text_content()).strip() for cell in
              html.fromstring(page.text).xpath("//table//tr/td[3]")]
    # FAILS: both accounts made; their reads of the victim's file are logged as "system" and
    # "vn.c02" and read, in words, as the node itself and as the partner agency
    assert refused == ["system", "vn.c02"], (readers, actors)
