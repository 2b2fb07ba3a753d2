"""``gateway render``: a document as its bilingual page, in HTML or PDF."""

from __future__ import annotations

import sys
from gettext import gettext as _
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.apps import app
from gateway.cli.running import LOCALES, REPOSITORY, fail, run, settings_or_exit


def _langs(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    parts = tuple(p.strip() for p in value.split(","))
    if len(parts) != 2 or any(p not in LOCALES for p in parts):
        fail(_("--lang takes two of {locales}, e.g. vi,km").format(locales=", ".join(LOCALES)))
    return parts[0], parts[1]


def _file_type(xml: bytes) -> tuple[str, str]:
    """The type and major version a document file declares by its namespace."""
    from lxml import etree

    from gateway.documents.xml import parse_safely
    from gateway.protocol.problems import Problem

    try:
        root = parse_safely(xml).getroot()
    except Problem as problem:
        fail(problem.detail)
    namespace = etree.QName(root).namespace or ""
    parts = namespace.split(":")
    if len(parts) != 5 or parts[:3] != ["urn", "bx", "doc"]:  # urn:bx:doc:<type>:<major>
        fail(_("not a BX document: its namespace is {ns!r}").format(ns=namespace))
    return parts[3], parts[4]


def _render_file(path: Path, langs: tuple[str, str], special: bool) -> str:
    """A document file needs no node: the repository's schemas and catalogs suffice."""
    from gateway.documents.catalog import catalogs
    from gateway.documents.convert import DocumentForms
    from gateway.documents.registry import RegistryError, SchemaRegistry
    from gateway.documents.render import Renderer
    from gateway.protocol.problems import Problem

    try:
        registry = SchemaRegistry.load(REPOSITORY / "schemas")
    except RegistryError as exc:
        fail(exc)
    xml = path.read_bytes()
    doc_type, major = _file_type(xml)
    versions = [v for v in registry.versions(doc_type) if v.split(".")[0] == major]
    if not versions:
        fail(_("no schema for {type} version {major}.x").format(type=doc_type, major=major))
    page = Renderer(DocumentForms(registry), catalogs(REPOSITORY / "translations"))
    try:
        return page.html(doc_type, versions[-1], xml, langs, None, show_special=special)
    except Problem as problem:
        fail(problem.detail)


@app.command("render", help=_("Render a document as its bilingual page (HTML, or PDF with --pdf)."))
def render(
    target: Annotated[str, typer.Argument(metavar="MESSAGE_ID|FILE.xml",
                                          help=_("A stored message's id, or a document file."))],
    lang: Annotated[str | None, typer.Option(
        "--lang", help=_("Two languages, left then right, e.g. vi,km (default: Vietnamese "
                         "and the partner's first language; vi,en for a file)."))] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help=_("Write a PDF (A4)."))] = None,
    html: Annotated[Path | None, typer.Option("--html", help=_("Write the HTML page."))] = None,
    special: Annotated[bool, typer.Option(
        "--special", help=_("Show special-category data (needs --reason for a message)."))
    ] = False,
    reason: Annotated[str | None, typer.Option(
        "--reason", help=_("Why you print a stored message (written in the audit log)."))
    ] = None,
    sender: Annotated[str | None, typer.Option("--from", metavar="SENDER", help=_(
        "whose message it is (this node's id, or a partner's), needed when more than one "
        "sender used the id: ids are unique per sender only"))] = None,
) -> None:
    """Render a document as its bilingual page (HTML, or PDF with --pdf)."""
    from gateway.cases.printing import print_for_operator
    from gateway.cases.work import CaseError, open_case_work
    from gateway.documents.render import html_to_pdf
    from gateway.exchange.startup import open_node
    from gateway.protocol.problems import Problem

    langs = _langs(lang)
    path = Path(target)
    if path.is_file():
        page = _render_file(path, langs or ("vi", "en"), special)
    else:
        if not reason:
            fail(_("printing a stored message is audited: say why with --reason"))
        settings = settings_or_exit()

        async def work() -> str:
            node = await open_node(settings)
            try:
                printed = await print_for_operator(
                    open_case_work(node), target, reason=reason or "",
                    fmt="pdf" if pdf is not None else "html", langs=langs, show_special=special,
                    sender=sender)
                return printed.html
            finally:
                await node.close()

        try:
            page = run(work())
        except (CaseError, Problem) as exc:
            fail(exc)
    if html is None and pdf is None:
        sys.stdout.write(page)
        return
    if html is not None:
        html.write_text(page, encoding="utf-8")
        typer.echo(_("wrote {path}").format(path=html))
    if pdf is not None:
        pdf.write_bytes(html_to_pdf(page))
        typer.echo(_("wrote {path}").format(path=pdf))
