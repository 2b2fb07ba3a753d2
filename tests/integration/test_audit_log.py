"""The audit log where it lands, in-process over a real SQLite file: a document shown on the
screen is logged as a view and its PDF as an export; the auditor's page reads every line in
words (Vietnamese, Khmer) with no code left; the CSV export is in the reader's words with the
stored entry beside them for machines."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import example
from tests.integration.conftest import Desk
from tests.integration.test_console_work import PASSWORD, Browser, audit_lines, rows

pytestmark = pytest.mark.anyio
#: A code left in the rendered table: a catalog key, a Python literal, a JSON list or dict.
LEFTOVER = re.compile(r"\b(audit|detail|permission|value|reason|actor|best-interests):\S"
                      r"|\bTrue\b|\bFalse\b|\bNone\b|\[\"|\{")
WORD_COLUMNS = 6


@pytest.fixture
async def people(desk: Desk) -> AsyncIterator[dict[str, Browser]]:
    """An officer of kh.ahtjp with a received verification request (case 1), and an auditor."""
    raw = desk.receiver.world.message("verification-request", example("verification-request"),
                                      handling="H1")
    assert (await desk.receiver.post(raw)).status_code == 202
    await desk.add_user("sophea", "blo-officer", password=PASSWORD)
    await desk.add_user("watch", "auditor", password=PASSWORD)
    transport = httpx.ASGITransport(app=desk.receiver.app)
    browsers: dict[str, Browser] = {}
    clients = [httpx.AsyncClient(transport=transport, base_url="http://kh.test")
               for _ in range(2)]
    for name, client in zip(("sophea", "watch"), clients, strict=True):
        browsers[name] = Browser(desk.receiver, client)
        await browsers[name].login(name)
    yield browsers
    for client in clients:
        await client.aclose()


def message_of(desk: Desk) -> str:
    ((message_id,),) = rows(desk.receiver, "SELECT message_id FROM messages")
    return str(message_id)


async def read_and_print(sophea: Browser, base: str) -> None:
    """The officer reads the document, opens its special data with a reason picked from the
    list, reads it again and prints it."""
    assert (await sophea.get(f"{base}/document")).status_code == 200
    opened = await sophea.post(f"{base}/special", {"reason": "identity-verification"})
    assert opened.status_code == 303
    assert (await sophea.get(f"{base}/document")).status_code == 200
    printed = await sophea.get(f"{base}/pdf")
    assert printed.status_code == 200
    assert printed.content.startswith(b"%PDF-")


def table_text(page: str) -> str:
    """The audit table of the page as the reader sees it (tags dropped, entities read)."""
    found = re.search(r'<table class="audit" id="audit-log">(.*?)</table>', page, re.S)
    assert found is not None
    text = re.sub(r"<[^>]+>", " ", re.sub(r"</?b>", "", found[1]))
    return re.sub(r"\s+", " ", html.unescape(text))


async def test_a_document_on_screen_is_a_view_and_its_pdf_an_export(
        people: dict[str, Browser], desk: Desk) -> None:
    message_id = message_of(desk)
    await read_and_print(people["sophea"], f"/cases/1/messages/{message_id}")
    viewed = rows(desk.receiver, "SELECT actor, subject, detail FROM audit_log WHERE action = "
                                 "'document.viewed' ORDER BY seq")
    assert [(a, s, json.loads(d)) for a, s, d in viewed] == [
        ("sophea", message_id, {"type": "verification-request", "langs": ["km", "vi"],
                                "special": False, "reason": None}),
        ("sophea", message_id, {"type": "verification-request", "langs": ["km", "vi"],
                                "special": True, "reason": "identity-verification"})]
    assert audit_lines(desk.receiver, "document.exported") == [
        {"type": "verification-request", "langs": ["km", "vi"], "special": True,
         "reason": "identity-verification", "via": "console", "format": "pdf"}]


async def test_the_auditor_reads_every_line_in_words_in_vietnamese_and_khmer(
        people: dict[str, Browser], desk: Desk) -> None:
    sophea, auditor = people["sophea"], people["watch"]
    await read_and_print(sophea, f"/cases/1/messages/{message_of(desk)}")
    assert (await sophea.get("/audit")).status_code == 403  # access.denied, with its permission
    await sophea.post("/cases/search", {"q": "Nguyen"})
    await desk.client.post("/login", data={"username": "sophea", "password": "wrong one"},
                           headers={"Origin": "http://kh.test"})
    page = (await auditor.get("/audit")).text
    shown = table_text(page)
    assert not LEFTOVER.search(shown), LEFTOVER.search(shown)
    for words in ("Xem văn bản trên màn hình",  # the view, as a view
                  "In hoặc xuất văn bản", "định dạng: PDF", "qua: giao diện",
                  "ngôn ngữ: Tiếng Khmer, Tiếng Việt", "dữ liệu đặc biệt: có",
                  "dữ liệu đặc biệt: không",
                  "lý do: xác minh nhân thân",  # the reason picked, in words
                  "Từ chối truy cập", "thao tác: xem nhật ký kiểm tra", "vai trò: ",
                  "sai tên đăng nhập hoặc mật khẩu", "Nhận thông điệp",
                  "Cục Cảnh sát hình sự, Bộ Công an",  # vn.c02, the sender, by its name
                  "loại: Yêu cầu xác minh nhân thân, quốc tịch", "Tìm kiếm"):
        assert words in shown, words
    assert "verification-request" not in shown
    assert "identity-verification" not in shown
    assert "<label>Từ ngày<input" in page  # the date range says from/to
    assert "Đến ngày" in page
    assert "Bên gửi" not in page
    assert "Bên nhận" not in page
    assert '<option value="document.viewed" >Xem văn bản trên màn hình</option>' in page

    await auditor.client.get("/lang/km", headers={"referer": "http://kh.test/"})
    page = (await auditor.get("/audit")).text
    shown = table_text(page)
    assert not LEFTOVER.search(shown), LEFTOVER.search(shown)
    for words in ("មើលឯកសារលើអេក្រង់", "ការផ្ទៀងផ្ទាត់អត្តសញ្ញាណ", "បដិសេធការចូលប្រើ",
                  "ឈ្មោះអ្នកប្រើ ឬពាក្យសម្ងាត់ខុស", "ទទួលសារ", "កុងសូល"):
        assert words in shown, words
    assert "ពីថ្ងៃ" in page
    assert "ដល់ថ្ងៃ" in page


async def test_the_export_is_in_the_readers_words_beside_the_stored_entry(
        people: dict[str, Browser], desk: Desk) -> None:
    sophea, auditor = people["sophea"], people["watch"]
    await read_and_print(sophea, f"/cases/1/messages/{message_of(desk)}")
    exported = await auditor.post("/audit/export", {"reason": "quarterly review",
                                                    "action": "document.viewed"})
    assert exported.status_code == 200
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0] == ["#", "Thời gian (UTC+7)", "Người thực hiện", "Hành động", "Đối tượng",
                        "Chi tiết", "seq", "at", "actor", "action", "subject", "detail"]
    stored = rows(desk.receiver, "SELECT seq, at, actor, action, subject, detail FROM "
                                 "audit_log WHERE action = 'document.viewed' ORDER BY seq")
    assert len(table) == 1 + len(stored) == 3
    for row, entry in zip(table[1:], stored, strict=True):
        assert row[WORD_COLUMNS:] == [str(entry[0]), *entry[1:]]  # the entry as stored
        assert row[3] == "Xem văn bản trên màn hình"
        assert not LEFTOVER.search(" ".join(row[:WORD_COLUMNS])), row
    assert "lý do: xác minh nhân thân" in table[2][5]
    assert "ngôn ngữ: Tiếng Khmer, Tiếng Việt" in table[2][5]
    assert "lý do: —" in table[1][5]

    await auditor.client.get("/lang/km", headers={"referer": "http://kh.test/"})
    await auditor.get("/audit")
    khmer = await auditor.post("/audit/export", {"reason": "quarterly review",
                                                 "action": "audit.exported"})
    table = list(csv.reader(io.StringIO(khmer.content.decode("utf-8-sig"))))
    assert table[0][:WORD_COLUMNS] == ["#", "ពេលវេលា (UTC+7)", "អ្នកធ្វើ", "សកម្មភាព",
                                       "កម្មវត្ថុ", "ព័ត៌មានលម្អិត"]
    assert table[0][WORD_COLUMNS:] == ["seq", "at", "actor", "action", "subject", "detail"]
    (line,) = table[1:]  # the first export (the second is written with its own rows)
    assert line[3] == "នាំចេញកំណត់ហេតុសវនកម្ម"
    assert line[9] == "audit.exported"
    assert json.loads(line[11]) == {"entries": 2, "filters": {"action": "document.viewed"},
                                    "reason": "quarterly review"}
    assert "សកម្មភាព: មើលឯកសារលើអេក្រង់" in line[5]  # the filter, in words
    assert not LEFTOVER.search(" ".join(line[:WORD_COLUMNS])), line
