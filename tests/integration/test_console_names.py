"""Each node speaks its own language first, and names nodes and units in the reader's
language: the login page of a Cambodian, a Lao and a Vietnamese node without a cookie, the
partners page and the cases list in Khmer, and C02's national table of the units' reports,
all in-process over real SQLite files."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.documents.registry import SchemaRegistry
from gateway.settings import load_settings
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app
from tests.conftest import NOW, World, example, make_key
from tests.integration.conftest import Desk, Receiver, write_partner
from tests.integration.test_console_work import PASSWORD, Browser

pytestmark = pytest.mark.anyio


async def start_node(tmp_path: Path, world: World, *others: str
                     ) -> AsyncIterator[Receiver]:
    """``world.receiver`` running in-process, with ``world.sender`` (and ``others``) as its
    partners."""
    settings = load_settings(node_id=world.receiver, data_dir=tmp_path / world.receiver)
    world.receiver_key = KeyStore(settings.key_path, settings.node_id).generate(
        "EdDSA", "2026-11", NOW)
    write_partner(settings.partners_path, world.sender, world.sender_key)
    for other in others:
        write_partner(settings.partners_path, other, make_key(other))
    app = create_app(settings, clock=world.clock, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
            yield Receiver(app, client, settings, world)


def text_of(fragment: str) -> str:
    """What a reader sees of an HTML fragment: its text, tags removed, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def this_node(page: str) -> str:
    found = re.search(r'<p class="this-node" id="this-node">(.*?)</p>', page)
    assert found is not None, page[:500]
    return text_of(found[1])


@pytest.mark.parametrize(("node", "lang", "log_in", "node_words"), [
    ("kh.ahtjp", "km", "ចូល", "ថ្នាំងនេះ: នាយកដ្ឋានប្រឆាំងការជួញដូរមនុស្ស និងការពារអនីតិជន (kh.ahtjp)"),
    ("la.atd", "lo", "ເຂົ້າສູ່ລະບົບ",
     "ໂນດນີ້: ກົມຕ້ານການຄ້າມະນຸດ, ກະຊວງປ້ອງກັນຄວາມສະຫງົບ (la.atd)"),
    ("vn.c02", "vi", "Đăng nhập", "Nút này: Cục Cảnh sát hình sự, Bộ Công an (vn.c02)"),
])
async def test_the_login_page_speaks_the_nodes_language_and_says_which_node_it_is(
        tmp_path: Path, registry: SchemaRegistry, node: str, lang: str, log_in: str,
        node_words: str) -> None:
    partner = "vn.c02" if node != "vn.c02" else "kh.ahtjp"
    world = World(registry, receiver=node, sender=partner, sender_key=make_key(partner))
    async for running in start_node(tmp_path, world):
        page = await running.client.get("/login")  # a browser that never chose a language
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
        assert f"<h1>{log_in}</h1>" in page.text
        assert this_node(page.text) == node_words
        assert f"<title>{log_in} · " in page.text
        switch = re.findall(r'<a href="/lang/(\w+)" class="(on)?"', page.text)
        assert switch == [(code, "on" if code == lang else "")
                          for code in ("vi", "en", "km", "lo")]  # the switch stays
        refused = await running.client.post("/login", data={"username": "x", "password": "y"},
                                            headers={"Origin": "http://kh.test"})
        assert f'<html lang="{lang}">' in refused.text  # the answer too, not just the form
        # A choice wins over the node's language, and is kept.
        chosen = await running.client.get("/lang/en", headers={"referer": "http://kh.test/login"})
        assert chosen.headers["location"] == "http://kh.test/login"
        again = await running.client.get("/login")
        assert '<html lang="en">' in again.text
        assert this_node(again.text).startswith("This node: ")
        assert f"({node})" in this_node(again.text)


async def test_a_khmer_reader_sees_partners_cases_and_units_by_name(
        desk: Desk) -> None:
    """At kh.ahtjp, with nothing chosen: the partners page, the cases list and the user's own
    unit in Khmer names, the id beside the name only where an administrator needs it."""
    await desk.add_user("admin", "admin", password=PASSWORD)
    await desk.add_user("sok", "blo-officer", password=PASSWORD)
    transport = httpx.ASGITransport(app=desk.receiver.app)
    async with (httpx.AsyncClient(transport=transport, base_url="http://kh.test") as one,
                httpx.AsyncClient(transport=transport, base_url="http://kh.test") as two):
        admin, officer = Browser(desk.receiver, one, lang=None), Browser(desk.receiver, two,
                                                                       lang=None)
        await admin.login("admin")
        await officer.login("sok")
        partners = await admin.get("/partners")
        assert '<html lang="km">' in partners.text
        row = re.search(r"<tr><td><strong>(.*?)</strong><br><small>vn\.c02</small>",
                        partners.text)
        assert row is not None
        assert row[1] == "នាយកដ្ឋាននគរបាលព្រហ្មទណ្ឌ ក្រសួងសន្តិសុខសាធារណៈ វៀតណាម"
        who = re.search(r'<span class="who">(.*?)</span>', partners.text)
        assert who is not None
        assert who[1].endswith("នាយកដ្ឋានប្រឆាំងការជួញដូរមនុស្ស និងការពារអនីតិជន")

        opened = await officer.post("/cases/new", {"kind": "repatriation", "partner": "vn.c02"})
        assert opened.status_code == 303
        listing = await officer.get("/cases")
        table = listing.text.split("<table", 1)[-1]
        cells = [text_of(c) for c in re.findall(r"<td>(.*?)</td>", table)]
        assert "នាយកដ្ឋាននគរបាលព្រហ្មទណ្ឌ ក្រសួងសន្តិសុខសាធារណៈ វៀតណាម" in cells  # the partner
        assert "នាយកដ្ឋានប្រឆាំងការជួញដូរមនុស្ស និងការពារអនីតិជន" in cells  # the owning unit
        assert "vn.c02" not in cells
        assert "kh.ahtjp" not in cells
        options = re.findall(r'<option value="vn\.c02"[^>]*>(.*?)</option>', listing.text)
        assert options
        assert set(options) == {"នាយកដ្ឋាននគរបាលព្រហ្មទណ្ឌ ក្រសួងសន្តិសុខសាធារណៈ វៀតណាម"}


async def test_c02s_national_table_names_the_units_and_partners(
        tmp_path: Path, registry: SchemaRegistry) -> None:
    """Moc Bai's signed six-month report reaches C02; the collection and the national table
    name Moc Bai and its partner Bavet in the reader's language, the ids only beside."""
    world = World(registry, receiver="vn.c02", sender="vn.blo-mocbai",
                  sender_key=make_key("vn.blo-mocbai"))
    async for running in start_node(tmp_path, world, "vn.blo-laobao"):
        report = example("periodic-report", 1)
        assert b'node="vn.blo-mocbai"' in report
        sent = await running.post(world.message("periodic-report", report))
        assert sent.status_code == 202, sent.text
        desk = Desk(running)
        await desk.add_user("chief", "supervisor", unit="vn.c02", password=PASSWORD)
        transport = httpx.ASGITransport(app=running.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
            chief = Browser(running, client, lang=None)
            await chief.login("chief")
            for lang, mocbai, bavet, laobao in (
                    ("vi", "Văn phòng liên lạc biên giới Mộc Bài (Tây Ninh)",
                     "Văn phòng liên lạc biên giới Bavet (Svay Rieng), Campuchia",
                     "Văn phòng liên lạc biên giới Lao Bảo (Quảng Trị)"),
                    ("km", "ការិយាល័យទំនាក់ទំនងព្រំដែនម៉ុកបៃ (ខេត្តតៃនិញ) វៀតណាម",
                     "ការិយាល័យទំនាក់ទំនងព្រំដែនបាវិត (ខេត្តស្វាយរៀង)",
                     "ការិយាល័យទំនាក់ទំនងព្រំដែនឡាវបាវ (ខេត្តក្វាងទ្រី) វៀតណាម")):
                if lang != "vi":  # C02 reads Vietnamese first; then a Khmer-speaking reader
                    client.cookies.set("bx_lang", lang)
                page = await chief.get("/reports", params={"period": "2026-H1"})
                assert page.status_code == 200, page.text
                assert f'<html lang="{lang}">' in page.text
                reported = re.findall(r'<tr class="reported"><td>(.*?)</td>', page.text)
                assert [text_of(r) for r in reported] == [f"{mocbai} vn.blo-mocbai"]
                missing = [text_of(r) for r in
                           re.findall(r'<tr class="missing"><td>(.*?)</td>', page.text)]
                assert f"{laobao} vn.blo-laobao" in missing
                national = page.text.split('id="national"', 1)[1].split("</table>", 1)[0]
                rows = [[text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
                        for r in re.findall(r"<tr>(.*?)</tr>", national)]
                partners = {r[1] for r in rows if r}
                assert f"{bavet} kh.blo-bavet" in partners, partners
                assert "kh.blo-bavet" not in partners  # never the bare id
                sent_rows = [r for r in rows if r and r[1].startswith(bavet) and r[-1] == "21"]
                assert sent_rows, rows  # Moc Bai's 21 verification requests to Bavet
