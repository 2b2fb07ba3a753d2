"""How common a name part is: the share of persons whose name carries it.

A common surname agreeing says little (Nguyễn is about 38 % of Viet Nam), a rare one says much:
the Fellegi-Sunter term-frequency adjustment (``model``) weighs an agreement by these shares.
The Vietnamese surname shares are the commonly cited ones (Nguyễn 38 %, Trần 11 %, Lê 9.5 %,
Phạm 7.1 %, Hoàng/Huỳnh 5.1 %, Phan 4.5 %, Vũ/Võ 3.9 %, Đặng 2.1 %, Bùi 2 %, Đỗ 1.4 %, Hồ 1.3 %,
Ngô 1.3 %, Dương 1 %, Lý 0.5 %); given names and the Khmer and Lao name parts are estimates
of the same order (a few per cent for the most common). Keys are the name part's phonetic
key (``names.phonetic``), so that spelling variants share their share; a regional pair
(Hoàng/Huỳnh) has one key and the share of both.
"""

from __future__ import annotations

from gateway.matching.names import phonetic, plain

#: The share of an unknown name part: rarer than anything listed.
DEFAULT_SHARE = 0.003
#: A name part at least this common is not a blocking key alone (``blocking``).
COMMON_SHARE = 0.03

_SURNAMES_VN = {
    "Nguyễn": 0.38, "Trần": 0.11, "Lê": 0.095, "Phạm": 0.071, "Hoàng": 0.051, "Phan": 0.045,
    "Vũ": 0.039, "Đặng": 0.021, "Bùi": 0.02, "Đỗ": 0.014, "Hồ": 0.013, "Ngô": 0.013,
    "Dương": 0.01, "Lý": 0.005, "Đào": 0.004, "Đoàn": 0.004, "Trương": 0.004, "Trịnh": 0.003,
    "Lâm": 0.003, "Mai": 0.003, "Cao": 0.003, "Hà": 0.003, "Tạ": 0.002, "Lò": 0.001,
}
_GIVEN_VN = {
    "Minh": 0.04, "Ngọc": 0.04, "Thanh": 0.04, "Anh": 0.03, "Hồng": 0.02, "Linh": 0.02,
    "Đức": 0.02, "Hữu": 0.015, "Quang": 0.015, "Xuân": 0.012, "Kim": 0.012, "Lan": 0.015,
    "Hương": 0.015, "Hoa": 0.012, "Trang": 0.012, "Hùng": 0.012, "Tuấn": 0.012, "Dũng": 0.01,
    "Nam": 0.01, "Mai": 0.01, "Thảo": 0.01, "Hải": 0.01, "Phương": 0.01, "Huyền": 0.008,
    "Hạnh": 0.006, "Long": 0.008, "Bình": 0.006, "Cường": 0.006, "Yến": 0.006, "Nhung": 0.005,
    "Thủy": 0.008, "Tâm": 0.006, "Vy": 0.005, "Khoa": 0.004, "Quỳnh": 0.006, "Giang": 0.005,
    "Hiếu": 0.005, "Nga": 0.005, "Loan": 0.004, "Sương": 0.003, "Hà": 0.01, "Thu": 0.01,
    "Bích": 0.008, "Mỹ": 0.008, "Công": 0.01, "Quốc": 0.01, "Thành": 0.01, "Oanh": 0.004,
    "Hằng": 0.006, "Dung": 0.006, "Nhi": 0.005, "Thư": 0.005, "Hiền": 0.005, "Thúy": 0.006,
    "Huy": 0.006, "Sơn": 0.006, "Trung": 0.006, "Khánh": 0.006, "Phúc": 0.005, "Quân": 0.005,
}
_KHMER = {
    "Srey": 0.06, "Sok": 0.05, "Chan": 0.04, "Kim": 0.02, "Heng": 0.02, "Ly": 0.02,
    "Sophea": 0.01, "Dara": 0.01, "Vanna": 0.008, "Pisey": 0.008, "Ratana": 0.006,
    "Sophal": 0.006, "Chea": 0.015, "Meas": 0.01, "Keo": 0.02, "Sam": 0.01, "Mom": 0.006,
    "Pov": 0.006, "Leak": 0.005, "Neang": 0.01, "Thida": 0.006, "Bopha": 0.006,
    "Hun": 0.01, "Ouk": 0.01, "Touch": 0.008, "Prum": 0.006, "Seng": 0.01, "Long": 0.008,
    "Sothea": 0.006, "Sokunthea": 0.005, "Channary": 0.005, "Raksmey": 0.005,
}
_LAO = {
    "Phommachanh": 0.006, "Vongsa": 0.01, "Souvanna": 0.008, "Bounmy": 0.01,
    "Somphone": 0.01, "Khamphone": 0.01, "Vilay": 0.01, "Phonsavanh": 0.008,
    "Souksavanh": 0.006, "Sisouphanh": 0.006, "Xaysana": 0.005, "Keomany": 0.006,
    "Chanthavong": 0.006, "Inthavong": 0.006, "Sengdara": 0.004, "Manivong": 0.006,
    "Khamla": 0.008, "Somsak": 0.008, "Sayavong": 0.006, "Phanthavong": 0.006,
}


def _table() -> dict[str, float]:
    table: dict[str, float] = {}
    for part in (_GIVEN_VN, _KHMER, _LAO, _SURNAMES_VN):
        for name, share in part.items():
            key = phonetic(plain(name))
            table[key] = max(table.get(key, 0.0), share)
    # Hoàng and Huỳnh, Vũ and Võ are one key: the share of both.
    table[phonetic("hoang")] = 0.051
    table[phonetic("vu")] = 0.039
    return table


SHARES: dict[str, float] = _table()


def share(key: str) -> float:
    """The share of persons carrying the name part of this phonetic key."""
    return SHARES.get(key, DEFAULT_SHARE)
