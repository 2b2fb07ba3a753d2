"""Names: every variation the comparison must forgive agrees, and the near misses do not."""

from __future__ import annotations

import pytest

from gateway.matching.names import (
    ACCENTS,
    DISAGREE,
    EXACT,
    PARTIAL,
    SIMILAR,
    SLIP,
    VARIANT,
    compare_names,
    exact,
    phonetic,
    plain,
    prepare_name,
    script_of,
)


def level(a: str, b: str, na: str | None = None, nb: str | None = None) -> int | None:
    return compare_names(prepare_name(a, na), prepare_name(b, nb)).level


def test_diacritics_and_case_removed() -> None:
    assert level("Nguyễn Thị Lan", "NGUYEN THI LAN") == ACCENTS
    assert level("Nguyễn Thị Lan", "nguyen thi lan") == ACCENTS
    assert level("Nguyễn Thị Lan", "NGUYỄN THỊ LAN") == EXACT


def test_d_with_stroke() -> None:
    assert plain("Đặng Đức") == "dang duc"
    assert level("Đặng Văn Đức", "DANG VAN DUC") == ACCENTS


def test_old_and_new_tone_placement_are_the_same() -> None:
    assert exact("hòa") == exact("hoà")
    assert exact("thủy") == exact("thuỷ")
    assert level("Lê Thị Hòa", "Lê Thị Hoà") == EXACT
    assert level("Vũ Thị Thủy", "Vũ Thị Thuỷ") == EXACT


def test_marks_that_differ_on_both_sides_are_not_the_same_name() -> None:
    # Hùng and Hưng are two names; written with their marks they only agree as a slip.
    assert level("Nguyễn Văn Hùng", "Nguyễn Văn Hưng") == SLIP
    assert level("Nguyen Van Hung", "Nguyễn Văn Hưng") == ACCENTS


def test_name_order_is_free() -> None:
    assert level("Nguyễn Thị Lan", "Lan Nguyễn Thị") == EXACT
    assert level("Nguyễn Thị Lan", "Lan Nguyen") == VARIANT
    assert level("Somphone Vongsa", "VONGSA SOMPHONE") == EXACT


def test_middle_name_dropped_or_abbreviated() -> None:
    assert level("Nguyễn Thị Lan", "Nguyễn Lan") == VARIANT
    assert level("Nguyễn Thị Lan", "Nguyen T. Lan") == VARIANT
    assert level("Trần Văn Nam", "Tran V. Nam") == VARIANT
    assert level("Nguyễn Ngọc Lan", "Nguyen Lan") == VARIANT
    assert level("Nguyễn Ngọc Lan", "Nguyen N. Lan") == VARIANT


def test_regional_surname_pairs() -> None:
    assert level("Hoàng Thị Mai", "Huỳnh Thị Mai") == VARIANT
    assert level("Vũ Văn Long", "Võ Văn Long") == VARIANT
    # Not every pair of surnames: Đặng and Đoàn are two families.
    assert level("Đặng Văn Long", "Đoàn Văn Long") == PARTIAL


def test_one_typing_slip() -> None:
    assert level("Nguyễn Thị Phương", "Nguyen Thi Phuogn") == SLIP
    assert level("Nguyễn Thị Hương", "Nguyen Thi Huong") == ACCENTS
    assert level("Trần Văn Cường", "Tran Van Cuong") == ACCENTS
    assert level("Trần Văn Khánh", "Tran Van Khanhh") == SLIP
    # Two slips are no longer "one slip".
    assert level("Trần Văn Khánh", "Tarn Van Khnah") not in (EXACT, ACCENTS, VARIANT, SLIP)


def test_another_given_name_is_only_a_part() -> None:
    assert level("Nguyễn Thị Lan", "Nguyễn Thị Hoa") == PARTIAL
    assert level("Nguyễn Thị Trang", "Nguyễn Thị Thảo") == PARTIAL
    assert level("Sok Sreymom", "Sok Dara") == PARTIAL
    assert level("Nguyễn Thị Lan", "Trần Văn Hùng") == DISAGREE


@pytest.mark.parametrize("variant", ["Sreymom", "Srey Mom", "Srey-Mom", "SREY MOM", "srey-mom"])
def test_khmer_spacing_and_hyphens(variant: str) -> None:
    assert level("Sok Sreymom", f"Sok {variant}") in (EXACT, VARIANT)


@pytest.mark.parametrize(("ours", "theirs"), [
    ("Souksavanh", "Souksavan"), ("Phonsavanh", "Phonsavan"), ("Somphone", "Sompone"),
    ("Khamphone", "Kamphone"), ("Vilay", "Wilay"), ("Vilay", "Vilai"),
    ("Xaysana", "Saysana"), ("Bounmy", "Bunmi"), ("Chanthou", "Chantu"),
    ("Sreyneang", "Sreineang"), ("Vanna", "Vana")])
def test_lao_and_khmer_romanisations(ours: str, theirs: str) -> None:
    assert phonetic(plain(ours)) == phonetic(plain(theirs))
    assert level(f"Keo {ours}", f"Keo {theirs}") == VARIANT


@pytest.mark.parametrize(("ours", "theirs"), [
    ("Somphone", "Sompong"), ("Vilay", "Vila"), ("Dara", "Dina"), ("Sok", "Sao")])
def test_romanisation_does_not_join_other_names(ours: str, theirs: str) -> None:
    assert phonetic(plain(ours)) != phonetic(plain(theirs))


def test_native_script_compared_as_written() -> None:
    assert level("", "SOK SREYMOM", "សុខ ស្រីមុំ", "សុខ ស្រីមុំ") == EXACT
    assert level("", "VILAY KEO", "ວິໄລ ແກ້ວ", "ວິໄລ ແກ້ວ") == EXACT
    assert level("", "", "ວິໄລ ແກ້ວ", "ບຸນມີ ແກ້ວ") not in (EXACT, VARIANT)


def test_native_script_transliterated_to_latin() -> None:
    assert script_of("ສົມພອນ") == "lao"
    assert script_of("ស្រីមុំ") == "khmer"
    assert plain("ວິໄລ ແກ້ວ") == "vilai keo"  # Lao written vowels put back after their consonant
    assert level("", "VILAY KEO", "ວິໄລ ແກ້ວ") == VARIANT
    assert level("", "SOMPHONE VONGSA", "ສົມພອນ ວົງສາ") in (VARIANT, SIMILAR)
    assert level("", "SOK SREYMOM", "សុខ ស្រីមុំ") in (VARIANT, SLIP, SIMILAR)
    assert level("", "CHAN DARA", "សុខ ស្រីមុំ") in (DISAGREE, PARTIAL)


def test_a_vietnamese_native_name_keeps_its_marks() -> None:
    assert level("NGUYEN THI LAN", "Nguyễn Thị Lan", "Nguyễn Thị Lan") == EXACT


def test_no_name_is_nothing_to_compare() -> None:
    assert level("", "Nguyễn Thị Lan") is None
    assert level("...", "Nguyễn Thị Lan") is None


def test_a_name_of_many_parts_is_bounded() -> None:
    many = " ".join(f"Part{chr(97 + i % 26)}{i}" for i in range(60))
    made = prepare_name(many[:200], None)
    assert len(made.forms[0].core) <= 12
    assert level(many[:200], many[:200]) == EXACT


def test_a_native_key_reads_past_khmer_and_lao_joiners() -> None:
    """Khmer and Lao writing may put a zero-width space or joiner between syllables; the name
    in its script is the same without them."""
    with_space = prepare_name("", "សុខ\u200bស្រី\u200cមុំ")
    without = prepare_name("", "សុខស្រីមុំ")
    assert with_space.native == without.native == "សុខស្រីមុំ"
