"""Safe XML parsing (PROTOCOL.md §3.3)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.documents import xml
from gateway.documents.xml import MAX_DEPTH, parse_safely
from gateway.protocol.problems import Problem


def refused(document: bytes) -> Problem:
    with pytest.raises(Problem) as caught:
        parse_safely(document)
    assert caught.value.code == "schema-invalid"
    assert caught.value.errors, "every refusal names a place"
    return caught.value


def nested(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


def test_nesting_up_to_64_is_accepted_and_65_refused() -> None:
    assert parse_safely(nested(MAX_DEPTH)).getroot().tag == "a"
    assert "deeper" in refused(nested(MAX_DEPTH + 1)).detail


@pytest.mark.parametrize("document", [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>',          # billion laughs
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',  # external entity
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',             # external DTD
    b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><r/>',  # parameter entity
    b"<!DOCTYPE r><r/>",
])
def test_any_doctype_is_refused(document: bytes) -> None:
    assert "DOCTYPE" in refused(document).detail


def test_doctype_is_located_by_line() -> None:
    assert refused(b"<?xml version='1.0'?>\n\n<!DOCTYPE r><r/>").errors[0].line == 3


def test_over_one_mib_is_refused() -> None:
    assert "limit" in refused(b"<a>" + b"x" * (1024 * 1024) + b"</a>").detail


@pytest.mark.parametrize("document", [
    "<a>é</a>".encode("latin-1"),
    b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>',
    b'<?xml version="1.0" encoding="UTF-16"?><a/>',
])
def test_only_utf8_is_accepted(document: bytes) -> None:
    refused(document)


def test_not_well_formed_is_located() -> None:
    problem = refused(b"<a>\n  <b>\n</a>")
    assert problem.errors[0].line == 3
    assert "well-formed" in problem.detail


def test_xinclude_is_not_processed() -> None:
    document = (b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
                b'<xi:include href="/etc/passwd" parse="text"/></r>')
    tree = parse_safely(document)
    assert b"root:" not in __import__("lxml.etree", fromlist=["tostring"]).tostring(tree)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_problem_or_a_tree(document: bytes) -> None:
    outcome = "tree"
    try:
        parse_safely(document)
    except Problem as problem:
        outcome = problem.code
    assert outcome in {"tree", "schema-invalid"}


def test_absurd_nesting_is_refused_by_the_parser_itself() -> None:
    assert refused(nested(100_000)).code == "schema-invalid"


DOCTYPE_FILE = '<!DOCTYPE r SYSTEM "/etc/hostname"><r/>'
PLAIN = '<?xml version="1.0" encoding="UTF-8"?><r>ok</r>'


@pytest.mark.parametrize(("document", "said"), [
    (DOCTYPE_FILE.encode("utf-16-le"), "NUL"),                 # ASCII in UTF-16, no BOM
    (DOCTYPE_FILE.encode("utf-16-be"), "NUL"),
    (DOCTYPE_FILE.encode("utf-16"), "byte-order mark"),        # with its BOM
    (DOCTYPE_FILE.encode("utf-32-le"), "NUL"),
    (DOCTYPE_FILE.encode("utf-32"), "byte-order mark"),
    (PLAIN.encode("utf-16"), "byte-order mark"),
    (b"\xef\xbb\xbf" + PLAIN.encode(), "byte-order mark"),     # even UTF-8's own BOM
    (PLAIN.replace("UTF-8", "UTF-16").encode(), "other than UTF-8"),
    (PLAIN.replace("UTF-8", "ISO-8859-1").encode(), "other than UTF-8"),
    (PLAIN.replace("UTF-8", "utf8").encode(), "other than UTF-8"),
    (b"<r>a\x00b</r>", "NUL"),
    ("<r>Thái Lan</r>".encode("latin-1"), "not UTF-8"),
])
def test_every_encoding_trick_is_refused_before_the_parser(document: bytes, said: str) -> None:
    assert said in refused(document).detail


def test_the_parser_itself_opens_no_file(tmp_path: Path) -> None:
    """Whatever passed the byte checks, libxml2 gets a resolver that refuses every external
    resource: even a parser told to load DTDs opens nothing (a FIFO would hang it)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def parse() -> None:
        parser = etree.XMLParser(load_dtd=True, no_network=True)
        parser.resolvers.add(xml._RefuseAll())
        try:
            etree.fromstring(f'<!DOCTYPE r SYSTEM "{fifo}"><r/>'.encode(), parser)
        except (Problem, etree.XMLSyntaxError) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the parser opened the FIFO"
    assert isinstance(outcome[0], Problem)
    assert "external resource is refused" in outcome[0].detail


def test_plain_utf8_with_its_declaration_still_parses() -> None:
    assert parse_safely(PLAIN.encode()).getroot().text == "ok"
    assert parse_safely(PLAIN.replace("UTF-8", "utf-8").encode()).getroot().tag == "r"
