"""Render the first page of one example of every document type to ``docs/samples/<type>.png``.

Each type is shown beside the partner language its example was written for (Khmer or Lao;
English where the example is Vietnamese only), with special data shown, as an officer
would print it at a Vietnamese node: as a message, under its header (an illustrative one,
the same on every run: fixed ids and times, the units' names from ``partners/``, and two
attachments with their SHA-256). ``docs/samples/index.json`` records the SHA-256 of the HTML
each image was made from, so a test can tell whether the images are still those of the
current code.
Run: ``make samples`` (needs poppler's pdftoppm and the fonts of ``make fonts``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.documents.catalog import catalogs
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.documents.render import MessageHeader, Renderer, html_to_pdf
from gateway.settings import REPOSITORY

SAMPLES = REPOSITORY / "docs" / "samples"
#: The node a sample is exchanged with, by the partner language of its example.
PARTNER_NODE = {"km": "kh.ahtjp", "lo": "la.atd", "en": "kh.ahtjp"}
HOME_NODE = "vn.c02"


def partner_language(xml: bytes) -> str:
    """The partner language an example is written for: Khmer or Lao if it has any."""
    text = xml.decode("utf-8")
    if 'lang="km"' in text or any("\u1780" <= c <= "\u17ff" for c in text):
        return "km"
    if 'lang="lo"' in text or any("\u0e80" <= c <= "\u0eff" for c in text):
        return "lo"
    return "en"


def unit_names() -> dict[str, dict[str, str]]:
    """``node -> lang -> name`` of every unit with a profile in ``partners/``."""
    names = {}
    for path in sorted((REPOSITORY / "partners").glob("*.toml")):
        profile = tomllib.loads(path.read_text(encoding="utf-8"))
        names[str(profile["id"])] = {str(k): str(v) for k, v in profile.get("name", {}).items()}
    return names


def sample_header(doc_type: str, example: Path, partner: str) -> MessageHeader:
    """The illustrative header of a sample: sent by the partner when its example was written
    there (``kh-``, ``la-``), by the Vietnamese node otherwise."""
    node = PARTNER_NODE[partner]
    sender, recipient = (node, HOME_NODE) if example.name.startswith(("kh-", "la-")) \
        else (HOME_NODE, node)
    created = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    files = [(f"{example.stem}-scan.pdf", "application/pdf", 482_133),
             (f"{example.stem}-photo-1.jpg", "image/jpeg", 96_426)]
    return MessageHeader(
        message_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:bx-sample:{doc_type}")),
        sender=sender, recipient=recipient,
        conversation=str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:bx-sample:{example.name}")),
        created=created, priority="urgent", handling="H1",
        receipt=created + timedelta(seconds=2),
        attachments=tuple((name, kind, size, hashlib.sha256(name.encode()).hexdigest())
                          for name, kind, size in files), names=unit_names())


def sample_pages() -> dict[str, tuple[Path, tuple[str, str], str]]:
    """type -> (example, languages, html) for every document type."""
    registry = SchemaRegistry.load(REPOSITORY / "schemas")
    renderer = Renderer(DocumentForms(registry), catalogs(REPOSITORY / "translations"))
    pages = {}
    for doc_type in registry.types():
        example = sorted((REPOSITORY / "schemas" / doc_type / "examples").glob("*.xml"))[0]
        xml = example.read_bytes()
        langs = ("vi", partner_language(xml))
        header = sample_header(doc_type, example, langs[1])
        pages[doc_type] = (example, langs, renderer.html(doc_type, "1.0", xml, langs, header,
                                                         show_special=True))
    return pages


def main() -> None:
    SAMPLES.mkdir(parents=True, exist_ok=True)
    index = {}
    for doc_type, (example, langs, html) in sample_pages().items():
        with tempfile.TemporaryDirectory() as work:
            pdf = Path(work) / "page.pdf"
            pdf.write_bytes(html_to_pdf(html))
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1",
                            "-singlefile", str(pdf), str(SAMPLES / doc_type)], check=True)
        index[doc_type] = {"example": example.name, "langs": list(langs),
                           "html_sha256": hashlib.sha256(html.encode()).hexdigest()}
        print(f"  {doc_type:22} {'+'.join(langs)}  docs/samples/{doc_type}.png")
    (SAMPLES / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
