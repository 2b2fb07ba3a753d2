"""Red team of issue 22 on a real PostgreSQL (127.0.0.1:5432), which enforces the columns'
lengths that SQLite ignores: a partner's valid, signed, receipted message whose case work
writes a value longer than its column.

Each test has its own database (``bx_redteam_<random>``, dropped after), so it never meets
another test's. It FAILS on the code as red-teamed: the finding of the report.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from gateway.documents.convert import DocumentForms
from gateway.settings import load_settings
from gateway.store.tables import messages
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app
from tests.conftest import NOW, World, example
from tests.integration.conftest import write_partner

pytestmark = pytest.mark.anyio
SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pg_app(tmp_path: Path, world: World) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """kh.ahtjp in-process on its own PostgreSQL database; ``world`` signs as vn.c02."""
    try:
        admin = await asyncpg.connect(f"{SERVER}/test")
    except (OSError, asyncpg.PostgresError):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"bx_redteam_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = load_settings(
            node_id="kh.ahtjp", data_dir=tmp_path / "kh.ahtjp",
            database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        world.receiver_key = KeyStore(settings.key_path, settings.node_id).generate(
            "EdDSA", "2026-11", NOW)
        write_partner(settings.partners_path, "vn.c02", world.sender_key)
        app = create_app(settings, clock=world.clock, run_worker=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://kh.test") as client:
                yield app, client
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def pending(app: Any) -> list[str]:
    engine = app.state.cases.node.engine
    async with engine.connect() as conn:
        return [str(m) for m in (await conn.execute(
            sa.select(messages.c.message_id).where(messages.c.attach_pending))).scalars()]


async def test_one_partner_message_cannot_stop_the_case_work_for_good(
        pg_app: tuple[Any, httpx.AsyncClient], world: World, registry: Any) -> None:
    """A verification request whose person has the longest person-id the schema allows (40
    characters) and a relative: the case work stores the relative as
    ``<person-id>.relative-1`` (51 characters) in ``persons.person_ref`` VARCHAR(40).
    PostgreSQL refuses it with a DataError, which attach.py takes for "the database, not
    the message": nothing is cleared, the message is retried every round, oldest first, for
    ever, and no message accepted after it is ever attached to a case (no case, no task, no
    notice), while every partner gets its receipt."""
    app, client = pg_app
    forms = DocumentForms(registry)
    poison = forms.read("verification-request", "1.0", example("verification-request"))
    poison["person"] = {**poison["person"], "@person-id": "P" * 40}
    assert poison["person"]["relative"]  # the example's mother
    bodies = [forms.build("verification-request", "1.0", poison),
              example("verification-request", 1)]  # then an ordinary request
    for body in bodies:
        raw = world.message("verification-request", body)
        answer = await client.post("/bx/v1/messages", content=raw, headers={
            "Content-Type": "application/jose+json",
            "Authorization": f"Bearer {world.bearer()}"})
        assert answer.status_code == 202, answer.text  # receipted: the partner is done
    for _ in range(40):  # the attacher wakes on each message and every second
        if not await pending(app):
            break
        await asyncio.sleep(0.25)
    # FAILS: both messages still wait after 10 s (and would for ever)
    assert await pending(app) == []


async def test_two_supervisors_releasing_one_draft_at_once_send_it_once(
        pg_app: tuple[Any, httpx.AsyncClient], world: World, registry: Any) -> None:
    """Four eyes on PostgreSQL, where use cases run side by side (replicas, or one process
    serving two requests): two supervisors press "release" on the same submitted draft at
    the same moment. ``release_draft`` reads ``state == 'submitted'`` and later writes
    ``state = 'sent'`` with no lock and no condition, so both may sign and queue it: the
    partner receives the same document twice under two message ids, and the case takes the
    document's effects twice."""
    app, client = pg_app
    cw = app.state.cases
    from gateway.access import users  # noqa: PLC0415 - only this test makes accounts

    headers = {}
    for name, role in (("officer", "blo-officer"), ("chief", "supervisor"),
                       ("deputy", "supervisor")):
        async with cw.node.engine.begin() as conn:
            await users.add_user.within(conn, cw, "test", username=name, display_name=name,
                                        role=role, unit="kh.ahtjp",
                                        password="a long enough password")
        session = await client.post("/api/session", json={
            "username": name, "password": "a long enough password"})
        client.cookies.clear()
        headers[name] = {"Authorization": f"Bearer {session.json()['token']}"}
    case = (await client.post("/api/cases", headers=headers["officer"], json={
        "kind": "repatriation", "partner": "vn.c02"})).json()
    forms = DocumentForms(registry)
    request = forms.read("verification-request", "1.0", example("verification-request"))
    sent_ids = []
    for _ in range(5):  # a race: a few tries
        draft = (await client.post(f"/api/cases/{case['id']}/drafts", headers=headers[
            "officer"], json={"type": "verification-request", "to": "vn.c02",
                              "handling": "H1", "document": request})).json()
        submitted = await client.post(f"/api/drafts/{draft['id']}/submit",
                                      headers=headers["officer"])
        assert submitted.json()["state"] == "submitted", submitted.text
        answers = await asyncio.gather(*(
            client.post(f"/api/drafts/{draft['id']}/release", headers=headers[who])
            for who in ("chief", "deputy")))
        sent_ids.append([a.json().get("message_id") for a in answers if a.status_code < 300])
        # the case's move is checked before each release: let the next try start again
        async with cw.node.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE cases SET state = 'detected' WHERE id = :i"),
                               {"i": case["id"]})
    async with cw.node.engine.connect() as conn:
        queued = (await conn.execute(sa.select(sa.func.count()).select_from(messages).where(
            messages.c.direction == "out"))).scalar()
    # FAILS if the race is won: some draft released twice, more messages queued than drafts
    assert all(len(ids) == 1 for ids in sent_ids), sent_ids
    assert queued == len(sent_ids)
