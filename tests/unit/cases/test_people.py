"""Persons from documents, presumed children, and search terms."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.cases.people import (
    PersonFacts,
    fold,
    persons_in,
    presumed_child,
    query_terms,
    terms_of,
)
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from tests.conftest import example

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(("birth", "child"), [
    ({"@age-uncertain": True, "estimated-age": 25}, True),
    ({"@age-uncertain": True, "@proof-of-adulthood": True, "estimated-age": 25}, False),
    ({"estimated-age": 17}, True),
    ({"estimated-age": 18}, False),
    ({"date": "2008-11-25"}, True),
    ({"date": "2008-11-24"}, False),
    ({"date": "2009"}, True),
    ({"date": "1990-03"}, False),
    (None, False),
])
def test_presumed_child(birth: object, child: bool) -> None:
    assert presumed_child(birth, TODAY) is child


def test_victims_relatives_and_suspects_come_out_of_documents(registry: SchemaRegistry) -> None:
    forms = DocumentForms(registry)
    request = forms.read("verification-request", "1.0", example("verification-request"))
    found = persons_in("verification-request", request, TODAY)
    assert [(p.role, p.latin) for p in found] == [("victim", "NGUYEN Thi Hoa"),
                                                  ("relative", "LE Thi Thu")]
    assert found[0].presumed_child
    assert found[0].retention_until == date(2031, 11, 20)
    notice = forms.read("suspect-notice", "1.0", example("suspect-notice"))
    suspects = persons_in("suspect-notice", notice, TODAY)
    assert {p.role for p in suspects} == {"suspect"}
    assert all(p.nationality and len(p.nationality) == 2 for p in suspects)


def test_folding_drops_vietnamese_accents_but_keeps_khmer_and_lao_marks() -> None:
    assert fold("Nguyễn") == fold("NGUYEN") == "nguyen"
    assert fold("Đặng") == "dang"
    assert fold("សុភា") != fold("សភ")
    assert fold("ສົມພອນ") == "ສົມພອນ"


def test_terms_cover_names_identifiers_and_phones() -> None:
    person = PersonFacts("P1", "suspect", native="Trần Văn Bảy", latin="TRAN Van Bay",
                         other_names=["Bảy Sẹo"], identifiers=["B-123 456"],
                         phones=["+84 912 345 678"])
    terms = terms_of(person)
    assert {"n:tran", "n:van", "n:bay", "n:seo", "i:B123456", "p:84912345678",
            "p:912345678"} <= terms
    for query in ("tran bay", "Bảy", "b123456", "0912 345 678"):
        assert all(options & terms for options in query_terms(query)), query
    assert not all(options & terms for options in query_terms("tran lan"))


@given(st.text(min_size=1, max_size=40))
def test_queries_never_fail(query: str) -> None:
    for options in query_terms(query):
        assert options
