"""What a new document says before the officer types: only what the case, the directory and
the user know, each unit in its own language with the right ``lang``, the partner's units
from the directory, never the sender's own in their place."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.cases.effects import WITHOUT_CASE
from gateway.cases.prefill import Known, KnownPerson, UnitNames, prefill, romanised
from gateway.documents.convert import DocumentForms, json_to_xml
from gateway.documents.registry import SchemaRegistry
from tests.conftest import SCHEMAS

BAVET = UnitNames("kh.blo-bavet", "KH", {"km": "ការិយាល័យទំនាក់ទំនងព្រំដែនបាវិត",
                                          "en": "Border Liaison Office Bavet",
                                          "vi": "Văn phòng liên lạc biên giới Bavet"})
MOCBAI = UnitNames("vn.blo-mocbai", "VN", {"vi": "Văn phòng liên lạc biên giới Mộc Bài",
                                           "en": "Border Liaison Office Moc Bai",
                                           "km": "ការិយាល័យទំនាក់ទំនងព្រំដែនមុកបៃ"})
HOA = KnownPerson("P1", "victim", "Nguyễn Thị Hoa", "NGUYEN Thi Hoa", "female", "VN",
                  {"@age-uncertain": True, "estimated-age": 15})
LAN = KnownPerson("L2", "victim", None, "TRAN Thi Lan", "unknown", None, None)
BROKER = KnownPerson("S1", "suspect", "ស៊ុន វិចិត្រ", "SUN Vichet", "male", "KH", None)


@pytest.fixture(scope="module")
def forms() -> DocumentForms:
    return DocumentForms(SchemaRegistry.load(SCHEMAS))


def known(**changes: Any) -> Known:
    values: dict[str, Any] = {
        "reference": "KH-BLO-BAVET-2026-00001", "partner_reference": "VN-BLO-MOCBAI-2026-00007",
        "home_side": False, "own": BAVET, "partner": MOCBAI, "composer": "ហេង សំណាង",
        "persons": (HOA, LAN, BROKER), "answer_due": date(2026, 12, 14)}
    values.update(changes)
    return Known(**values)


KHMER_UNIT = {"@node": "kh.blo-bavet", "name": [
    {"@lang": "km", "#text": "ការិយាល័យទំនាក់ទំនងព្រំដែនបាវិត"},
    {"@lang": "en", "#text": "Border Liaison Office Bavet"}]}
VIETNAMESE_UNIT = {"@node": "vn.blo-mocbai", "name": [
    {"@lang": "vi", "#text": "Văn phòng liên lạc biên giới Mộc Bài"},
    {"@lang": "en", "#text": "Border Liaison Office Moc Bai"}]}


def test_a_verification_request_from_a_khmer_node(forms: DocumentForms) -> None:
    document = prefill("verification-request", forms.model("verification-request"), known())
    assert document["case-reference"] == "KH-BLO-BAVET-2026-00001"
    assert document["response-wanted-by"] == "2026-12-14"
    assert document["person"] == {
        "@person-id": "P1", "name": {"native": "Nguyễn Thị Hoa", "latin": "NGUYEN Thi Hoa"},
        "sex": "female", "birth": {"@age-uncertain": True, "estimated-age": 15},
        "claimed-nationality": "VN"}
    assert document["victim-status"] == {"decided-by": {"unit": KHMER_UNIT}}  # not who
    assert document["found"] == {"place": {"country": "KH"}, "unit": KHMER_UNIT}
    # the composer's Khmer name as written; romanising Khmer is not mechanical: left to them
    assert document["requesting-officer"] == {"name": {"native": "ហេង សំណាង"},
                                              "unit": KHMER_UNIT}
    assert "consent" not in document  # nothing known: nothing said


def test_a_handover_record_names_each_side_from_the_directory(forms: DocumentForms) -> None:
    model = forms.model("handover-record")
    finder = prefill("handover-record", model, known(return_gate="mocbai-bavet"))
    assert finder["gate"] == "mocbai-bavet"
    assert finder["handing-over-side"]["agency"] == KHMER_UNIT
    assert finder["receiving-side"]["agency"] == VIETNAMESE_UNIT
    assert finder["receiving-side"]["official"] == [{"unit": VIETNAMESE_UNIT}]
    assert "receiving-agency" not in finder  # the onward agency is nobody's guess
    assert [p["@person-id"] for p in finder["person"]] == ["P1", "L2"]  # every victim
    home = prefill("handover-record", model, known(
        own=MOCBAI, partner=BAVET, home_side=True, composer="Võ Thanh Tùng"))
    assert home["receiving-side"]["agency"] == VIETNAMESE_UNIT
    assert home["handing-over-side"]["agency"] == KHMER_UNIT


def test_answers_and_returns_refer_to_what_the_case_holds(forms: DocumentForms) -> None:
    answer = prefill("verification-response", forms.model("verification-response"),
                     known(own=MOCBAI, partner=BAVET, home_side=True,
                           composer="Võ Thanh Tùng", partner_reference="KH-BLO-BAVET-1"))
    assert answer["subject"] == {"@person-id": "P1"}
    assert answer["partner-case-reference"] == "KH-BLO-BAVET-1"
    assert answer["officer"] == {"name": {"native": "Võ Thanh Tùng", "latin": "Vo Thanh Tung"},
                                 "unit": VIETNAMESE_UNIT}
    proposal = prefill("repatriation-request", forms.model("repatriation-request"),
                       known(verification="3f1c2a9e-7b4d-4c1e-9a55-0d6e2b8f4a10",
                             chosen="L2"))
    assert proposal["returnee"] == [{"@person-id": "L2",
                                     "@verification": "3f1c2a9e-7b4d-4c1e-9a55-0d6e2b8f4a10"}]
    notice = prefill("suspect-notice", forms.model("suspect-notice"), known())
    assert notice["suspect"]["@person-id"] == "S1"
    assert notice["suspect"]["name"] == {"native": "ស៊ុន វិចិត្រ", "latin": "SUN Vichet"}


def test_a_unit_is_never_named_under_another_languages_tag() -> None:
    only_vietnamese = UnitNames("vn.hotline-111", "VN", {"vi": "Tổng đài 111"})
    assert only_vietnamese.as_unit() == {"@node": "vn.hotline-111", "name": [
        {"@lang": "vi", "#text": "Tổng đài 111"}]}
    nameless = UnitNames("la.atd", "LA", {"vi": "Cục chống buôn người Lào"})
    assert nameless.as_unit() == {"@node": "la.atd"}  # no lo nor en name: none is made up


def test_every_type_gets_only_fields_of_its_own_shape(forms: DocumentForms) -> None:
    for doc_type in forms.registry.types():
        if doc_type in WITHOUT_CASE:
            continue
        model = forms.model(doc_type)
        for side in (known(), known(own=MOCBAI, partner=BAVET, home_side=True)):
            document = prefill(doc_type, model, side)
            schema = forms.registry.resolve(doc_type, "1.0")
            json_to_xml(model, schema.namespace, document)  # raises on a foreign key


def test_romanised_names() -> None:
    assert romanised("Nguyễn Thị Đào") == "Nguyen Thi Dao"
    assert romanised("ហេង សំណាង") is None
    assert romanised("ສົມພອນ") is None
