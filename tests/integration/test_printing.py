"""Printing: every example of every type to PDF in vi+km, vi+lo and vi+en, checked with
poppler (both languages in the text, Khmer and Lao fonts embedded, no fallback font); the
``gateway render`` command without a node; and printing a case's message through the API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.documents.catalog import catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.documents.render import Renderer, html_to_pdf
from tests.conftest import ALL_TYPES, REPO, SCHEMAS, example
from tests.integration.conftest import Desk

GATEWAY = str(Path(sys.executable).with_name("gateway"))
#: The fonts a page may embed: Noto Sans for Latin and Vietnamese, Noto Sans Khmer and Lao.
ALLOWED_FONTS = ("Noto-Sans", "Noto-Sans-Bold", "Noto-Sans-Khmer", "Noto-Sans-Khmer-Bold",
                 "Noto-Sans-Lao", "Noto-Sans-Lao-Bold")
SCRIPT_FONT = {"km": "Noto-Sans-Khmer", "lo": "Noto-Sans-Lao"}


def fonts_of(pdf: Path) -> list[tuple[str, str]]:
    """(font name, embedded yes/no) of every font in a PDF, by pdffonts."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[2:]
    return [(line.split()[0].split("+")[-1], line.split()[-5]) for line in out]


def common_ratio(expected: str, found: str) -> float:
    """How much of ``expected`` appears in ``found`` in order (longest common subsequence),
    spaces ignored."""
    a, b = expected.replace(" ", ""), found.replace(" ", "")
    previous = [0] * (len(b) + 1)
    for char in a:
        current = [0]
        for index, other in enumerate(b):
            current.append(previous[index] + 1 if char == other
                           else max(previous[index + 1], current[-1]))
        previous = current
    return previous[-1] / len(a)


def contains_label(text: str, label: str, lang: str) -> bool:
    """Whether a label is in the extracted text. Khmer and Lao are compared loosely: WeasyPrint
    maps each glyph to text (no ActualText), so pdftotext drops letters inside stacked Khmer
    clusters (the ផ្ទា of ផ្ទាត់) and swaps Lao vowel and tone marks, though the page shows
    them right (see docs/samples/)."""
    label = " ".join(label.split())
    if lang not in ("km", "lo"):
        return label in text
    window = len(label) * 3
    return any(common_ratio(label, text[start:start + window]) >= 0.7
               for start in range(0, max(1, len(text) - len(label) // 2), 8))


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.parametrize("doc_type", sorted(ALL_TYPES))
def test_every_example_prints_in_both_languages_with_real_fonts(doc_type: str,
                                                                tmp_path: Path) -> None:
    books = catalogs(REPO / "translations")
    renderer = Renderer(DocumentForms(SchemaRegistry.load(SCHEMAS)), books)
    for path in sorted((SCHEMAS / doc_type / "examples").glob("*.xml")):
        for partner in ("km", "lo", "en"):
            html = renderer.html(doc_type, "1.0", path.read_bytes(), ("vi", partner),
                                 show_special=True)
            pdf = tmp_path / f"{path.stem}-{partner}.pdf"
            pdf.write_bytes(html_to_pdf(html))
            text = " ".join(text_of(pdf).split())
            # a periodic report names no case (MESSAGES.md): its unit stands where a case would
            anchor = {"periodic-report": "reporting-unit", "checkpoint": "origin",
                      "cosignature": "origin"}.get(doc_type, "case-reference")
            for lang in ("vi", partner):  # the title and a label in each language
                for label in (books.field(lang, doc_type), books.field(lang, anchor)):
                    assert contains_label(text, label, lang), (path.name, lang, label)
            fonts = fonts_of(pdf)
            assert fonts, pdf
            for name, embedded in fonts:
                assert name in ALLOWED_FONTS, f"{path.name} {partner}: fallback font {name}"
                assert embedded == "yes"
            if partner in SCRIPT_FONT:
                assert SCRIPT_FONT[partner] in {name for name, _ in fonts}


def test_gateway_render_prints_a_file_without_any_node(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BX_")}
    source = sorted((SCHEMAS / "handover-record" / "examples").glob("*.xml"))[0]
    pdf, html = tmp_path / "record.pdf", tmp_path / "record.html"
    done = subprocess.run([GATEWAY, "render", str(source), "--lang", "vi,lo", "--pdf", str(pdf),
                           "--html", str(html), "--special"], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert "ບົດບັນທຶກການມອບ-ຮັບ" in " ".join(text_of(pdf).split())
    assert "Biên bản bàn giao" in html.read_text(encoding="utf-8")
    bad = subprocess.run([GATEWAY, "render", str(source), "--lang", "vi,fr"], cwd=tmp_path,
                         env=environment, capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode == 1
    assert "--lang" in bad.stderr
    not_bx = tmp_path / "other.xml"
    not_bx.write_text("<note>hello</note>", encoding="utf-8")
    refused = subprocess.run([GATEWAY, "render", str(not_bx)], cwd=tmp_path, env=environment,
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1
    assert "not a BX document" in refused.stderr


def test_printing_a_stored_message_needs_a_reason(tmp_path: Path) -> None:
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("BX_")},
                   "BX_NODE_ID": "vn.c02", "BX_DATA_DIR": str(tmp_path / "data")}
    refused = subprocess.run([GATEWAY, "render", "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11"],
                             cwd=tmp_path, env=environment, capture_output=True, text=True,
                             timeout=60, check=False)
    assert refused.returncode == 1
    assert "--reason" in refused.stderr


@pytest.mark.anyio
async def test_a_case_message_prints_as_pdf_and_the_export_is_audited(desk: Desk,
                                                                       registry: Any) -> None:
    raw = desk.receiver.world.message("verification-request", example("verification-request"),
                                      handling="H1")
    assert (await desk.receiver.post(raw)).status_code == 202
    case = (await desk.ok("officer", "GET", "/api/cases"))["cases"][0]
    detail = await desk.ok("officer", "GET", f"/api/cases/{case['id']}")
    message_id = detail["messages"][0]["id"]
    path = f"/api/cases/{case['id']}/messages/{message_id}/print"
    assert (await desk.call("officer", "GET", path)).status_code == 422  # no reason
    page = await desk.call("officer", "GET", path, params={"reason": "for the interview",
                                                           "format": "html"})
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Không hiển thị: dữ liệu thuộc loại đặc biệt" in page.text  # special withheld
    assert "Không được sử dụng làm chứng cứ" in page.text  # H1 in the partner's Vietnamese
    assert "មិនត្រូវប្រើជាភស្តុតាង" in page.text  # beside Khmer, the language of this node
    pdf = await desk.call("officer", "GET", path, params={
        "reason": "for the handover", "special": "true", "lang": "km"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.content.startswith(b"%PDF-")
    auditor = await desk.add_user("auditor", "auditor")
    log = (await desk.client.get("/api/audit", headers=auditor,
                                 params={"action": "document.exported"})).json()["entries"]
    assert [(e["actor"], e["detail"]["reason"], e["detail"]["special"]) for e in log] == [
        ("officer", "for the handover", True), ("officer", "for the interview", False)]


def test_the_command_line_speaks_the_users_language(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BX_", "LC_"))}
    for language, expected in (("vi", "Dựng văn bản thành trang song ngữ"),
                               ("lo", "ສະແດງເອກະສານເປັນໜ້າສອງພາສາ"),
                               ("en", "Render a document as its bilingual page")):
        shown = subprocess.run([GATEWAY, "--help"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60, check=True,
                               env={**environment, "LANGUAGE": language, "COLUMNS": "200"})
        assert expected in shown.stdout, language
