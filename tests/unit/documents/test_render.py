"""Bilingual HTML: both languages' labels, values as written, locale formats, handling marks,
signature blocks, and special data withheld unless allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.documents.catalog import catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.documents.render import MessageHeader, Renderer
from tests.conftest import ALL_TYPES, REPO, SCHEMAS, example

PAIRS = (("vi", "km"), ("vi", "lo"), ("vi", "en"))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(DocumentForms(SchemaRegistry.load(SCHEMAS)),
                    catalogs(REPO / "translations"))


def header(handling: str = "H1") -> MessageHeader:
    return MessageHeader("4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11", "vn.blo-mocbai",
                         "kh.blo-bavet", "9a0e3f5c-1d2b-4e6f-8a7b-0c1d2e3f4a5b",
                         datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "urgent", handling,
                         receipt=datetime(2026, 11, 24, 8, 0, 2, tzinfo=UTC),
                         attachments=(("p1-photo.jpg", "image/jpeg", 48213, "ab" * 32),))


@pytest.mark.parametrize("doc_type", sorted(ALL_TYPES))
@pytest.mark.parametrize("langs", PAIRS)
def test_every_example_renders_with_both_languages(renderer: Renderer, doc_type: str,
                                                   langs: tuple[str, str]) -> None:
    books = renderer.catalogs
    for path in sorted((SCHEMAS / doc_type / "examples").glob("*.xml")):
        html = renderer.html(doc_type, "1.0", path.read_bytes(), langs, header(),
                             show_special=True)
        # a periodic report names no case (MESSAGES.md): its unit stands where a case would
        # and a system document names the log it is about
        anchor = {"periodic-report": "reporting-unit", "checkpoint": "origin",
                  "cosignature": "origin"}.get(doc_type, "case-reference")
        for lang in langs:
            assert books.field(lang, doc_type) in html
            assert books.field(lang, anchor) in html
        assert "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11" in html


def test_values_are_as_written_and_formats_follow_each_locale(renderer: Renderer) -> None:
    html = renderer.html("verification-request", "1.0", example("verification-request"),
                         ("vi", "km"), header(), show_special=True)
    assert "Nguyễn Thị Hoa" in html
    assert "NGUYEN Thi Hoa" in html
    assert "1 tháng 12, 2026" in html  # response-wanted-by, Vietnamese
    assert "1 ធ្នូ 2026" in html  # the same date, Khmer
    assert "Hồi hương" in html  # the code list value "repatriation", translated
    assert "ការបញ្ជូនមកវិញ" in html
    assert "ab" * 32 in html  # the attachment's digest


def test_special_data_is_withheld_unless_allowed(renderer: Renderer) -> None:
    hidden = renderer.html("verification-request", "1.0", example("verification-request"),
                           ("vi", "km"), header())
    assert "Nguyễn Thị Hoa" not in hidden
    assert "Không hiển thị: dữ liệu thuộc loại đặc biệt" in hidden
    assert "KH-BAVET-2026-0112" in hidden  # operational data stays


@pytest.mark.parametrize(("handling", "vi", "km"), [
    ("H1", "Không được sử dụng làm chứng cứ khi chưa có sự đồng ý của bên gửi",
     "មិនត្រូវប្រើជាភស្តុតាងដោយគ្មានការយល់ព្រមពីអ្នកផ្ញើ"),
    ("H2", "Không được phổ biến", "ហាមផ្សព្វផ្សាយ"),
])
def test_handling_marks_print_in_both_languages(renderer: Renderer, handling: str, vi: str,
                                                km: str) -> None:
    html = renderer.html("alert", "1.0", example("alert"), ("vi", "km"), header(handling))
    assert 'class="mark"' in html
    assert vi in html
    assert km in html
    plain = renderer.html("alert", "1.0", example("alert"), ("vi", "km"), header("H0"))
    assert 'class="mark"' not in plain


def test_a_handover_record_has_signature_blocks_for_both_sides(renderer: Renderer) -> None:
    html = renderer.html("handover-record", "1.0", example("handover-record"), ("vi", "km"),
                         header(), show_special=True)
    assert html.count('class="line"') >= 2
    assert "Bên giao" in html
    assert "Bên nhận" in html
    assert "Ký, ghi rõ họ tên, cấp bậc và ngày" in html
