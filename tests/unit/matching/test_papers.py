"""Identity papers compared exactly after normalisation; phones in E.164."""

from __future__ import annotations

from gateway.matching.papers import (
    paper_key,
    paper_kind,
    paper_number,
    papers_agree,
    papers_comparable,
    phone_numbers,
)
from gateway.matching.person import Paper


def test_numbers_and_kinds_normalised() -> None:
    assert paper_number(" c-123 456.78 ") == "C12345678"
    assert paper_kind("Passport") == paper_kind("P") == "passport"
    assert paper_kind("CCCD") == paper_kind("id card") == "id-card"


def test_the_same_paper_agrees() -> None:
    a = paper_key(Paper("id-card", "079 123 456 789", "VN"))
    assert papers_agree(a, paper_key(Paper("CCCD", "079123456789", "VN")))
    assert papers_agree(a, paper_key(Paper("id-card", "079-123-456-789", None)))


def test_another_paper_does_not() -> None:
    a = paper_key(Paper("id-card", "079123456789", "VN"))
    assert not papers_agree(a, paper_key(Paper("id-card", "079123456788", "VN")))
    assert not papers_agree(a, paper_key(Paper("passport", "079123456789", "VN")))
    assert not papers_agree(a, paper_key(Paper("id-card", "079123456789", "KH")))
    assert papers_comparable(a, paper_key(Paper("id-card", "1", "VN")))
    assert not papers_comparable(a, paper_key(Paper("passport", "1", "VN")))


def test_phones_national_and_international() -> None:
    ours = phone_numbers("0912 345 678", "VN")
    assert ours == {"+84912345678"}
    assert phone_numbers("+84 912-345-678", None) == ours
    assert phone_numbers("0084912345678", None) == ours
    assert phone_numbers("84912345678", None) == ours
    assert phone_numbers("912345678", "VN") == ours
    assert phone_numbers("012 345 678", "KH") == {"+85512345678"}
    assert phone_numbers("+855 12 345 678", None) == {"+85512345678"}
    assert phone_numbers("020 5555 1234", "LA") == {"+8562055551234"}
    assert phone_numbers("85620 5555 1234", None) == {"+8562055551234"}


def test_a_national_number_of_unknown_country_is_read_in_all_three() -> None:
    assert phone_numbers("012345678", None) == {"+8412345678", "+85512345678",
                                                "+85612345678"}
    assert phone_numbers("---", None) == frozenset()
