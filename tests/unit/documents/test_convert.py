"""Documents as JSON: the field model of every schema, round trips, refusals with paths,
and redaction of special fields."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.documents.convert import DocumentForms, highest_sensitivity, redact
from gateway.documents.model import walk
from gateway.documents.registry import SchemaRegistry
from gateway.protocol.problems import Problem
from tests.conftest import ALL_TYPES, SCHEMAS


@pytest.fixture(scope="module")
def forms() -> DocumentForms:
    return DocumentForms(SchemaRegistry.load(SCHEMAS))


@pytest.mark.parametrize("doc_type", sorted(ALL_TYPES))
def test_every_example_round_trips_through_json(forms: DocumentForms, doc_type: str) -> None:
    for path in sorted((SCHEMAS / doc_type / "examples").glob("*.xml")):
        data = forms.read(doc_type, "1.0", path.read_bytes())
        rebuilt = forms.build(doc_type, "1.0", data)
        assert forms.read(doc_type, "1.0", rebuilt) == data


def test_every_field_has_a_sensitivity_and_special_dominates(forms: DocumentForms) -> None:
    model = forms.model("verification-request")
    fields = dict(walk(model))
    assert fields["/person/name/latin"].sensitivity == "special"  # under a special person
    assert fields["/requesting-officer/name/latin"].sensitivity == "personal"
    assert fields["/case-reference"].sensitivity == "operational"
    assert fields["/reason"].enumeration == ("repatriation", "investigation", "custody")
    assert fields["/remarks"].repeated


def test_unknown_fields_and_wrong_shapes_are_refused_with_their_path(
        forms: DocumentForms) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"case-reference": "X", "colour": "red"}, "/verification-request/colour"),
        ({"remarks": {"@lang": "en", "#text": "x"}}, "/verification-request/remarks"),
        ({"person": "Hoa"}, "/verification-request/person"),
        ({"case-reference": ["a"]}, "/verification-request/case-reference"),
    ]
    for data, path in cases:
        with pytest.raises(Problem) as caught:
            forms.build("verification-request", "1.0", data)
        assert caught.value.code == "schema-invalid"
        assert caught.value.errors[0].path == path


def test_redaction_hides_special_fields_only(forms: DocumentForms) -> None:
    data = forms.read("alert", "1.0", (SCHEMAS / "alert" / "examples").glob("*.xml")
                      .__next__().read_bytes())
    model = forms.model("alert")
    hidden = redact(model, data, show_special=False)
    assert hidden["person"] == [{"redacted": "special"}] * len(data["person"])
    assert hidden["reporter-relation"] == data["reporter-relation"]
    assert redact(model, data, show_special=True) == data
    assert highest_sensitivity(model, data) == "special"
    assert highest_sensitivity(model, {"case-reference": "X"}) == "operational"
