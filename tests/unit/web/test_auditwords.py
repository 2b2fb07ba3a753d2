"""The audit log in words: every action and detail key the code can write has words in every
language (read from the source, so that a new one without words fails here), and each kind of
value reads as words: yes/no, languages, units, document types, states, reasons picked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.access.roles import PERMISSIONS
from gateway.cases.special import REASONS
from gateway.documents.catalog import LOCALES, Catalogs
from gateway.web.console import auditwords
from gateway.web.console.auditwords import DETAIL_KEYS, AuditWords
from gateway.web.console.vocabulary import AUDIT_ACTIONS
from tests.conftest import REPO
from tests.unit.web.audit_sources import Found, collect

BOOK = Catalogs(REPO / "translations")
#: Actions older versions wrote and the code writes no more: their entries keep their words.
FORMER_ACTIONS = {"user.locked"}
UNITS = {"kh.blo-bavet": {"vi": "Văn phòng liên lạc biên giới Bavet", "km": "ការិយាល័យ បាវិត",
                         "lo": "ຫ້ອງການປະສານງານຊາຍແດນ ບາວິດ", "en": "BLO Bavet"}}
#: What a code left in a rendered line looks like.
LEFTOVER = re.compile(r"\b(audit|detail|permission|value|reason|actor|best-interests):\S"
                      r"|\bTrue\b|\bFalse\b|\bNone\b|\[\"|\{")


def names(node_id: str, lang: str) -> str | None:
    return UNITS.get(node_id, {}).get(lang)


@pytest.fixture(scope="module")
def found() -> Found:
    return collect(REPO)


def test_the_source_spells_out_every_action_and_key(found: Found) -> None:
    assert found.problems == []
    assert {"document.viewed", "document.exported", "access.denied", "message.received",
            "message.rejected", "key.published-next"} <= set(found.actions)
    assert {"langs", "special", "reason", "claimed_from", "thumbprint"} <= set(found.keys)


def test_every_action_the_code_writes_has_words_in_every_language(found: Found) -> None:
    missing = {a: where for a, where in found.actions.items() if a not in AUDIT_ACTIONS}
    assert missing == {}, "add these actions to vocabulary.AUDIT_ACTIONS"
    assert set(AUDIT_ACTIONS) - set(found.actions) == FORMER_ACTIONS
    for lang in LOCALES:
        untranslated = [a for a in AUDIT_ACTIONS if BOOK.code(lang, f"audit:{a}") == f"audit:{a}"]
        assert untranslated == [], lang


def test_every_detail_key_has_words_and_a_way_to_read_its_value(found: Found) -> None:
    missing = {k: where for k, where in found.keys.items() if k not in DETAIL_KEYS}
    assert missing == {}, "add these keys to auditwords.DETAIL_KEYS"
    assert set(DETAIL_KEYS) - set(found.keys) == set()  # no words for keys nobody writes
    for lang in LOCALES:
        assert [k for k in DETAIL_KEYS
                if BOOK.code(lang, f"detail:{k}") == f"detail:{k}"] == [], lang
    assert {(a, k) for a, k in auditwords.BY_ACTION} <= found.pairs


def test_every_permission_reason_actor_and_word_has_words() -> None:
    codes = [*(f"permission:{p}" for p in PERMISSIONS), *(f"reason:{r}" for r in REASONS),
             *(f"actor:{a}" for a in auditwords.ACTORS), *auditwords.VALUE_WORDS]
    assert {c.removeprefix("permission:") for c in auditwords.PERMISSION_WORDS} == set(
        PERMISSIONS)
    for lang in LOCALES:
        assert [c for c in codes if BOOK.code(lang, c) == c] == [], lang


def test_the_reading_of_the_source_sees_new_actions_keys_and_wrappers(tmp_path: Path) -> None:
    """The check above can fail: a module with a new action, a new key, an action passed
    through a wrapper, and one computed at run time."""
    package = tmp_path / "gateway"
    package.mkdir()
    (package / "new.py").write_text(
        "from gateway.audit import log as audit\n"
        "async def f(conn, clock, node, kind):\n"
        "    await audit.append(conn, clock, 'me', 'thing.done', None, {'novel': 1})\n"
        "    await audit.record(node, 'me', 'thing.run', None, {'ran': 1})\n"
        "    await tell(conn, clock, 'thing.told', wanted=2)\n"
        "    await audit.append(conn, clock, 'me', f'thing.{kind}', None, {})\n"
        "async def tell(conn, clock, action, **detail):\n"
        "    await audit.append(conn, clock, 'me', action, None, detail)\n", encoding="utf-8")
    seen = collect(tmp_path)
    assert set(seen.actions) == {"thing.done", "thing.run", "thing.told"}
    assert set(seen.keys) == {"novel", "ran", "wanted"}
    assert len(seen.problems) == 1
    assert "new.py:6" in seen.problems[0]


def sample(kind: str) -> Any:
    """A value of each kind, as the code writes it."""
    return {auditwords.YES_NO: True, auditwords.LANGUAGES: ["vi", "km"],
            auditwords.UNIT: "kh.blo-bavet", auditwords.DOCUMENT: "verification-request",
            auditwords.CODE: "verified", auditwords.TEXT: "phone",
            auditwords.REASON: "identity-verification", auditwords.PERMISSION: "cases.read",
            auditwords.PROBLEM: "bad-signature", auditwords.COUNTRY: "KH",
            auditwords.DECISION: "return", auditwords.WORD: "console",
            auditwords.FORMAT: "pdf",
            auditwords.FILTERS: {"action": "search", "from": "2026-11-24"},
            }.get(kind, "VN-BLO-MOCBAI-2026-00001")


@pytest.mark.parametrize("lang", LOCALES)
def test_no_code_is_left_in_any_action_key_or_value(lang: str) -> None:
    words = AuditWords(BOOK, lang, names)
    for action in AUDIT_ACTIONS:
        assert not LEFTOVER.search(words.action(action)), (lang, action)
        for key, default in DETAIL_KEYS.items():
            kind = auditwords.BY_ACTION.get((action, key), default)
            label, value = words.details(action, {key: sample(kind)})[0]
            assert not LEFTOVER.search(label), (lang, action, key, label)
            assert not LEFTOVER.search(value), (lang, action, key, value)
            if lang != "en" and kind not in (auditwords.AS_IS, auditwords.FORMAT):
                assert value != str(sample(kind)), (lang, action, key)  # words, not the code


def test_values_read_as_words_in_vietnamese_and_khmer() -> None:
    vi, km = AuditWords(BOOK, "vi", names), AuditWords(BOOK, "km", names)
    detail = {"langs": ["vi", "km"], "special": False, "reason": "identity-verification",
              "type": "verification-request", "via": "console", "format": "pdf"}
    assert dict(vi.details("document.exported", detail)) == {
        "ngôn ngữ": "Tiếng Việt, Tiếng Khmer", "dữ liệu đặc biệt": "không",
        "lý do": "xác minh nhân thân", "loại": "Yêu cầu xác minh nhân thân, quốc tịch",
        "qua": "giao diện",
        "định dạng": "PDF"}
    assert vi.action("document.viewed") == "Xem văn bản trên màn hình"
    assert km.action("report.released") == "អនុម័តផ្ញើរបាយការណ៍"
    assert dict(km.details("document.viewed", {"langs": ["vi", "km"], "special": True})) == {
        "ភាសា": f"{BOOK.code('km', 'vi')}, {BOOK.code('km', 'km')}",
        "ទិន្នន័យពិសេស": BOOK.text("km", "yes")}
    moved = dict(vi.details("case.state", {"from": "detected", "to": "verified"}))
    assert moved == {"từ": BOOK.code("vi", "detected"), "đến": BOOK.code("vi", "verified")}
    assert vi.value("draft.saved", "to", "kh.blo-bavet") == "Văn phòng liên lạc biên giới Bavet"
    assert km.value("draft.saved", "to", "kh.blo-bavet") == "ការិយាល័យ បាវិត"
    assert vi.value("draft.saved", "to", "vn.hotline-111") == BOOK.code("vi", "vn.hotline-111")
    assert vi.value("login.failed", "reason", "credentials") == "sai tên đăng nhập hoặc mật khẩu"
    assert vi.value("special.opened", "reason", "to call the family") == "to call the family"
    assert vi.value("document.exported", "reason",
                    "viewed in the console: victim-support") == (
        "xem trên giao diện: hỗ trợ nạn nhân")  # a line of an older version
    assert vi.value("access.denied", "action", "cases.read") == "xem hồ sơ"
    assert vi.value("tip.recorded", "foreign", "KH") == "Campuchia"
    assert vi.value("request.rejected", "code", "rate-limited") == "Quá nhiều yêu cầu"
    assert vi.value("document.read", "reason", None) == "—"
    assert vi.value("audit.exported", "filters", {"action": "search", "to": "2026-11-24"}) == (
        "Hành động: Tìm kiếm; Đến ngày: 2026-11-24")
    assert vi.actor("system") == "hệ thống (tự động)"
    assert km.actor("machine") == "ស្វ័យប្រវត្តិកម្មលើម៉ាស៊ីនមេរបស់ថ្នាំង (សញ្ញាសម្គាល់ API)"
    assert vi.actor("kh.blo-bavet") == "Văn phòng liên lạc biên giới Bavet"
    assert vi.actor("sophea") == "sophea"
    assert vi.subject("admin") == "admin"  # a user's name is not a role's label
    assert vi.action("thing.unknown") == "thing.unknown"  # never hidden
