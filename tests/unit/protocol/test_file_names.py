"""An attachment's file name ends as its bytes are: a partner's ``scan.html`` that is a PDF
is saved as ``scan.pdf`` (the console serves it so: tests/e2e/test_replicas.py)."""

from __future__ import annotations

import pytest

from gateway.protocol.envelope import file_name_for


@pytest.mark.parametrize(("name", "media_type", "served"), [
    ("scan.html", "application/pdf", "scan.pdf"),
    ("scan.pdf", "application/pdf", "scan.pdf"),
    ("SCAN.PDF", "application/pdf", "SCAN.PDF"),
    ("scan", "application/pdf", "scan.pdf"),
    ("photo.png", "image/jpeg", "photo.jpg"),  # an extension of another attachment type
    ("photo.jpeg", "image/jpeg", "photo.jpeg"),
    ("p1-photo.jpg", "image/jpeg", "p1-photo.jpg"),
    ("archive.tar.svg", "image/png", "archive.tar.png"),
    ("page.html.", "application/pdf", "page.pdf"),
    (".htaccess", "image/png", "htaccess.png"),
    ('a"b;c.html', "application/pdf", "a-b-c.pdf"),  # nothing that breaks out of the quotes
    ("", "image/png", "attachment.png"),
    ("notes.txt", None, "notes.bin"),  # bytes of none of the three types
])
def test_the_name_ends_in_an_extension_of_the_sniffed_type(name: str, media_type: str | None,
                                                           served: str) -> None:
    assert file_name_for(name, media_type) == served
