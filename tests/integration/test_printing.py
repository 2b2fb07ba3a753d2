"""Printing: every example of every type to PDF in every language pair a node prints (vi+km,
vi+lo, vi+en on a Vietnamese node; km+en, lo+en on a Cambodian or Lao one) under a long message
header, checked with poppler: both languages in the text, every text box and every dot of ink
inside the page's printable width, Khmer and Lao fonts embedded, no fallback font and no
synthetic italic; the ``gateway render`` command without a node; and printing a case's message
through the API."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.documents.catalog import catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.documents.render import MessageHeader, Renderer, html_to_pdf
from tests.conftest import ALL_TYPES, REPO, SCHEMAS, example
from tests.integration.conftest import Desk

GATEWAY = str(Path(sys.executable).with_name("gateway"))
#: The fonts a page may embed: Noto Sans for Latin and Vietnamese (its real italic face
#: included), Noto Sans Khmer and Lao upright: they have no italic face, so an italic one
#: embedded for them is a slant Pango made up.
ALLOWED_FONTS = ("Noto-Sans", "Noto-Sans-Bold", "Noto-Sans-Italic", "Noto-Sans-Khmer",
                 "Noto-Sans-Khmer-Bold", "Noto-Sans-Lao", "Noto-Sans-Lao-Bold")
SCRIPT_FONT = {"km": "Noto-Sans-Khmer", "lo": "Noto-Sans-Lao"}
#: Every pair a page prints in: a Vietnamese node beside its partner's language or English,
#: a Cambodian or Lao node beside English.
PAIRS = (("vi", "km"), ("vi", "lo"), ("vi", "en"), ("km", "en"), ("lo", "en"))
POINTS_PER_MM = 72 / 25.4
#: How far (in points) a text box may reach past the margin: rounding in pdftotext's boxes.
SLACK = 0.5


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


# -- what lands on the page ---------------------------------------------------------------

#: Long names of the units: longer than the profiles' own, and with no space in the Khmer and
#: Lao ones (those scripts write none between words), which can then only break between
#: letter clusters.
NAMES = {
    "vn.blo-mocbai": {
        "vi": "Đồn Biên phòng Cửa khẩu Quốc tế Mộc Bài, Bộ Chỉ huy Bộ đội Biên phòng tỉnh "
              "Tây Ninh",
        "en": "Moc Bai International Border Gate Border Guard Station, Tay Ninh Provincial "
              "Border Guard Command"},
    "kh.blo-trapeangphlong": {
        "km": "ការិយាល័យទំនាក់ទំនងព្រំដែនត្រពាំងផ្លុងនៃស្នងការដ្ឋាននគរបាលខេត្តត្បូងឃ្មុំ",
        "en": "Border Liaison Office Trapeang Phlong (Tbong Khmum), Cambodia"},
    "la.blo-dansavanh": {
        "lo": "ຫ້ອງການປະສານງານຊາຍແດນແດນສະຫວັນກອງບັນຊາການປ້ອງກັນຄວາມສະຫງົບແຂວງສະຫວັນນະເຂດ",
        "en": "Border Liaison Office Dansavanh (Savannakhet), Lao PDR"},
}
NODE_OF = {"vi": "vn.blo-mocbai", "km": "kh.blo-trapeangphlong", "lo": "la.blo-dansavanh",
           "en": "vn.blo-mocbai"}


def long_header(langs: tuple[str, str]) -> MessageHeader:
    """A message header as long as real ones get: node ids, long unit names, a receipt, and
    six attachments with long file names, long media types and their SHA-256 digests."""
    files = [(f"KH-BAVET-2026-0112_bien-ban-ghi-loi-khai_nan-nhan-A{n}_trang-{n}-{n + 3}.pdf",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
              if n % 2 else "image/jpeg", 48213 * n) for n in range(1, 7)]
    return MessageHeader(
        "4f1c7a2e-8b0d-4c55-9e61-2a7d3b9c0e11", NODE_OF[langs[0]], NODE_OF[langs[1]],
        "9a0e3f5c-1d2b-4e6f-8a7b-0c1d2e3f4a5b", datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        "urgent", "H1", receipt=datetime(2026, 11, 24, 8, 0, 2, tzinfo=UTC),
        attachments=tuple((name, kind, size, hashlib.sha256(name.encode()).hexdigest())
                          for name, kind, size in files), names=NAMES)


def page_margins(html: str) -> tuple[float, float, float, float]:
    """The page margins (top, right, bottom, left) in points, read from the ``@page`` rule
    of the page that was printed, as WeasyPrint read them."""
    rule = re.search(r"@page\s*\{[^}]*?\bmargin:\s*([^;]+);", html)
    assert rule, "no @page margin in the printed page"
    values = rule.group(1).split()
    assert all(v.endswith("mm") for v in values), values
    mm = [float(v.removesuffix("mm")) for v in values]
    # the CSS shorthand: top, right, bottom, left, the missing ones repeating their opposite
    top, right, bottom, left = {1: mm * 4, 2: mm * 2, 3: [*mm, mm[1]], 4: mm}[len(mm)]
    return (top * POINTS_PER_MM, right * POINTS_PER_MM, bottom * POINTS_PER_MM,
            left * POINTS_PER_MM)


@dataclass(frozen=True)
class Box:
    """A word's box on a page, in points from the page's top left corner."""

    page: int
    word: str
    x_min: float
    x_max: float


def pages_of(pdf: Path) -> list[tuple[float, list[Box]]]:
    """(page width, its words' boxes) of every page, by ``pdftotext -bbox-layout``."""
    out = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout
    xhtml = "{http://www.w3.org/1999/xhtml}"
    pages = []
    for number, page in enumerate(ET.fromstring(out).iter(f"{xhtml}page"), start=1):
        pages.append((float(page.attrib["width"]), [
            Box(number, word.text or "", float(word.attrib["xMin"]), float(word.attrib["xMax"]))
            for word in page.iter(f"{xhtml}word")]))
    return pages


def ink_outside(pdf: Path, left: float, right: float, tmp_path: Path) -> list[tuple[int, int]]:
    """(page, pixel column) of every column of a 50 dpi rendering that has ink in the left or
    right margin: a table border or shading that crossed it shows here, text or not."""
    dpi = 50
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(pdf), str(tmp_path / "ink")],
                   check=True)
    found = []
    for number, image in enumerate(sorted(tmp_path.glob("ink*.pgm")), start=1):
        data = image.read_bytes()
        header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
        assert header, image
        width, height = int(header.group(1)), int(header.group(2))
        pixels = data[header.end():]
        scale = dpi / 72
        width_pt = width / scale
        # the pixel columns wholly in a margin, one column of anti-aliasing left aside
        margin_columns = [*range(int(left * scale) - 1),
                          *range(int((width_pt - right) * scale) + 2, width)]
        found += [(number, column) for column in margin_columns
                  if min(pixels[column::width][:height]) < 255]
        image.unlink()
    return found


def assert_inside_the_margins(pdf: Path, html: str, tmp_path: Path, what: str) -> None:
    """Every text box, and every dot of ink, of every page lies within the printable width
    (the page's width less the left and right margins of the page's own CSS)."""
    _, right, _, left = page_margins(html)
    pages = pages_of(pdf)
    assert pages, what
    for width, boxes in pages:
        outside = [b for b in boxes if b.x_min < left - SLACK or b.x_max > width - right + SLACK]
        assert not outside, f"{what}: past the margins ({left:.1f}, {width - right:.1f}): " \
            f"{outside[:5]}"
    # not a vacuous pass: the header table does reach across to the right margin
    first_width, first = pages[0]
    assert max(b.x_max for b in first) > first_width - right - 30, what
    assert not ink_outside(pdf, left, right, tmp_path), f"{what}: ink in the margins"


@pytest.mark.parametrize("doc_type", sorted(ALL_TYPES))
def test_every_example_prints_inside_the_margins_in_every_pair_with_real_fonts(
        doc_type: str, tmp_path: Path) -> None:
    books = catalogs(REPO / "translations")
    renderer = Renderer(DocumentForms(SchemaRegistry.load(SCHEMAS)), books)
    examples = sorted((SCHEMAS / doc_type / "examples").glob("*.xml"))
    # the first example in every pair with special data shown, the others beside Khmer and
    # Lao with it withheld
    runs = [(path, pair, index == 0) for index, path in enumerate(examples)
            for pair in PAIRS if index == 0 or pair in (("vi", "km"), ("vi", "lo"))]
    for path, langs, special in runs:
        what = f"{path.name} {'+'.join(langs)}"
        html = renderer.html(doc_type, "1.0", path.read_bytes(), langs, long_header(langs),
                             show_special=special)
        pdf = tmp_path / f"{path.stem}-{'-'.join(langs)}.pdf"
        pdf.write_bytes(html_to_pdf(html))
        text = " ".join(text_of(pdf).split())
        # a periodic report names no case (MESSAGES.md): its unit stands where a case would
        anchor = {"periodic-report": "reporting-unit", "checkpoint": "origin",
                  "cosignature": "origin"}.get(doc_type, "case-reference")
        for lang in langs:  # the title and a label in each language
            for label in (books.field(lang, doc_type), books.field(lang, anchor)):
                assert contains_label(text, label, lang), (what, lang, label)
        assert_inside_the_margins(pdf, html, tmp_path, what)
        fonts = fonts_of(pdf)
        assert fonts, what
        for name, embedded in fonts:
            assert name in ALLOWED_FONTS, f"{what}: fallback or synthetic font {name}"
            assert embedded == "yes"
        for lang in langs:
            if lang in SCRIPT_FONT:
                assert SCRIPT_FONT[lang] in {name for name, _ in fonts}, what


def test_khmer_and_lao_are_never_slanted(tmp_path: Path) -> None:
    """Withheld data is italic in Vietnamese and English, which have a real italic face, and
    upright in Khmer and Lao, which have none: no oblique Khmer or Lao font is embedded (Pango
    would make one up, with its marks misplaced)."""
    books = catalogs(REPO / "translations")
    renderer = Renderer(DocumentForms(SchemaRegistry.load(SCHEMAS)), books)
    withheld = "Withheld: special category data"
    for langs in (("vi", "km"), ("vi", "lo"), ("km", "en"), ("lo", "en")):
        script = next(lang for lang in langs if lang in SCRIPT_FONT)
        html = renderer.html("verification-request", "1.0", example("verification-request"),
                             langs, long_header(langs))
        assert books.text(script, withheld) in html  # italic asked for in Khmer or Lao too
        pdf = tmp_path / f"{'-'.join(langs)}.pdf"
        pdf.write_bytes(html_to_pdf(html))
        fonts = {name for name, _ in fonts_of(pdf)}
        assert "Noto-Sans-Italic" in fonts, langs  # the Latin column's italics did print
        assert SCRIPT_FONT[script] in fonts, langs
        slanted = {name for name in fonts if name.startswith(SCRIPT_FONT[script])
                   and name != SCRIPT_FONT[script] and not name.endswith("-Bold")}
        assert not slanted, f"{'+'.join(langs)}: synthetic italic {slanted}"


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
