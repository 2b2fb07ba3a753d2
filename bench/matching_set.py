"""The evaluation set of ``bench/matching.py``: missing-person reports and found-person
queries of Vietnamese, Cambodian and Lao persons, generated under a seed (the same seed, the
same set).

Reports: real Vietnamese surname shares, the middle names Thị and Văn, real given names;
Khmer and Lao names in their scripts with their romanisations; real provinces and districts;
birth as a full date, a year, a month or an estimated age; some identity papers and phones.
Queries: half the reported person again, altered by one or two of ``VARIATIONS``; half hard
non-matches (the same surname and province with another given name, or the same name with an
age that does not fit).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SEED = 2025
START = date(2026, 1, 5)

SURNAMES_VN = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 2.6),
               ("Huỳnh", 2.5), ("Phan", 4.5), ("Vũ", 2), ("Võ", 1.9), ("Đặng", 2.1),
               ("Bùi", 2), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5),
               ("Đào", 0.4), ("Đoàn", 0.4), ("Trương", 0.4), ("Trịnh", 0.3), ("Lâm", 0.3),
               ("Cao", 0.3), ("Tạ", 0.2), ("Lò", 0.1)]
GIVEN_VN_F = ["Lan", "Hoa", "Mai", "Hương", "Linh", "Trang", "Thảo", "Hạnh", "Phương", "Yến",
              "Nhung", "Thủy", "Huyền", "Ngọc", "Vy", "Quỳnh", "Giang", "Nga", "Loan", "Sương",
              "Hằng", "Dung", "Nhi", "Thư", "Hòa", "Hiền", "Thúy", "Duyên", "Oanh", "Tuyết",
              "My", "Trinh", "Diệp", "Hân", "Ánh", "Châu", "Diễm", "Ly", "Liên", "Nhàn", "Thơ",
              "Oanh", "Chi", "Như"]
GIVEN_VN_M = ["Tuấn", "Hùng", "Dũng", "Nam", "Long", "Hải", "Bình", "Cường", "Khoa", "Hiếu",
              "Tâm", "Minh", "Đức", "Phúc", "Quân", "Huy", "Thành", "Sơn", "Trung", "Khánh",
              "Thắng", "Tài", "Vinh", "Lộc", "Phong", "Toàn", "Đạt", "Tùng", "Việt", "Kiên",
              "Nghĩa", "Hậu", "Tú", "Thiện", "Quý", "Hưng", "Duy"]
MIDDLE_F = ["Ngọc", "Thu", "Thanh", "Kim", "Hồng", "Mỹ", "Bích", "Xuân"]
MIDDLE_M = ["Đức", "Minh", "Hữu", "Quang", "Công", "Thành", "Xuân", "Quốc"]
REGIONAL = {"Hoàng": "Huỳnh", "Huỳnh": "Hoàng", "Vũ": "Võ", "Võ": "Vũ"}
# Khmer and Lao names: the script, then the romanisations in use (the first the usual one).
KHMER_FAMILY = [("សុខ", ["Sok"]), ("ចាន់", ["Chan", "Chann"]), ("គឹម", ["Kim"]),
                ("ហេង", ["Heng"]), ("លី", ["Ly", "Lee"]), ("ជា", ["Chea"]), ("មាស", ["Meas"]),
                ("កែវ", ["Keo"]), ("សំ", ["Sam"]), ("ញឹម", ["Nhim"]), ("ប៊ុន", ["Bun", "Boun"]),
                ("ទេព", ["Tep"]), ("ឈឹម", ["Chhim"]), ("យិន", ["Yin"]), ("ហ៊ុន", ["Hun"]),
                ("អ៊ុក", ["Ouk", "Ok"]), ("ទូច", ["Touch", "Toch"]), ("ព្រំ", ["Prum", "Prom"]),
                ("ខៀវ", ["Khiev", "Kheav"]), ("ឡុង", ["Long"]), ("សេង", ["Seng"]),
                ("ប៉ែន", ["Pen"]), ("ម៉ៅ", ["Mao"]), ("នូ", ["Nou", "Nu"])]
KHMER_F = [("ស្រីមុំ", ["Sreymom", "Srey Mom", "Srey-Mom"]),
           ("ស្រីពៅ", ["Sreypov", "Srey Pov", "Srey-Pov"]), ("សុភា", ["Sophea", "Sophia"]),
           ("ចន្ធូ", ["Chanthou", "Chanthu", "Chantou"]), ("ធីតា", ["Thida", "Tida"]),
           ("បុប្ផា", ["Bopha", "Bupha"]), ("ស្រីនាង", ["Sreyneang", "Srey Neang"]),
           ("ដាលីន", ["Dalin", "Daline"]), ("ស្រីលក្ខ", ["Sreyleak", "Srey Leak"]),
           ("សុខា", ["Sokha", "Sokhar"]), ("ពិសី", ["Pisey", "Pisei"]),
           ("រតនា", ["Ratana", "Rattana", "Rathana"]),
           ("សុគន្ធា", ["Sokunthea", "Sokunthear"]), ("ចាន់ណារី", ["Channary", "Chanary"]),
           ("កញ្ញា", ["Kanha", "Kagna"]), ("សុជាតា", ["Socheata", "Sochheata"]),
           ("លក្ខិណា", ["Leakhena", "Leakena"]), ("ម្លិះ", ["Malis", "Maliss"]),
           ("រស្មី", ["Raksmey", "Reaksmey", "Raksmei"]), ("ស្រីនិច", ["Sreynich", "Srey Nich"])]
KHMER_M = [("ដារ៉ា", ["Dara", "Darah"]), ("វណ្ណា", ["Vanna", "Vana", "Wanna"]),
           ("វិសាល", ["Visal", "Vissal", "Wisal"]), ("បូរ៉ា", ["Bora", "Borah"]),
           ("សំណាង", ["Samnang", "Sam Nang"]), ("វុទ្ធី", ["Vuthy", "Vuthi"]),
           ("ពិសិដ្ឋ", ["Piseth", "Pisith"]), ("រិទ្ធី", ["Rithy", "Rithi"]),
           ("ចាន់ថា", ["Chantha", "Chanta"]), ("សុភាព", ["Sopheap", "Sopheab"]),
           ("សុធា", ["Sothea", "Sothea"]), ("វិបុល", ["Vibol", "Vipol", "Wibol"]),
           ("មករា", ["Makara", "Makkara"]), ("កុសល", ["Kosal", "Kossal"]),
           ("វាសនា", ["Veasna", "Veasnar"]), ("ចំរើន", ["Chamroeun", "Chamroeurn"])]
LAO_GIVEN = [("ສົມພອນ", ["Somphone", "Somphon", "Sompone"]),
             ("ບຸນມີ", ["Bounmy", "Bounmi", "Bunmy"]),
             ("ພອນສະຫວັນ", ["Phonsavanh", "Phonsavan", "Phonesavanh"]),
             ("ຄຳພອນ", ["Khamphone", "Khamphon", "Kham Phone", "Kamphone"]),
             ("ວິໄລ", ["Vilay", "Vilai", "Wilay"]),
             ("ສຸກສະຫວັນ", ["Souksavanh", "Souksavan", "Suksavan"]),
             ("ມະນີວັນ", ["Manivanh", "Manivan"]), ("ນ້ອຍ", ["Noy", "Noi"]),
             ("ແສງເດືອນ", ["Sengdeuane", "Seng Deuane", "Sengdeuan"]),
             ("ທອງລາ", ["Thongla", "Tongla"]), ("ຈັນທະລາ", ["Chanthala", "Chantala"]),
             ("ສີດາ", ["Sida", "Syda"]), ("ຄຳລາ", ["Khamla", "Kham La", "Kamla"]),
             ("ບຸນທະວີ", ["Bounthavy", "Bounthavi", "Bunthavy"]),
             ("ວັນທອງ", ["Vanthong", "Vanthong", "Wanthong"]),
             ("ສຸພາພອນ", ["Souphaphone", "Souphaphon", "Suphaphone"]),
             ("ເພັດສະໝອນ", ["Phetsamone", "Phetsamon", "Phet Samone"]),
             ("ອຸໄທ", ["Outhai", "Outhay", "Uthai"]), ("ແສງເພັດ", ["Sengphet", "Seng Phet"]),
             ("ສົມສັກ", ["Somsak", "Somsack"]), ("ຄຳສິງ", ["Khamsing", "Kham Sing"]),
             ("ດາວວອນ", ["Daovone", "Daovon", "Dao Vone"]),
             ("ວຽງຄຳ", ["Viengkham", "Vieng Kham", "Wiengkham"])]
LAO_FAMILY = [("ວົງສາ", ["Vongsa", "Wongsa"]),
              ("ພົມມະຈັນ", ["Phommachanh", "Phommachan", "Phommachane"]),
              ("ສີສຸພັນ", ["Sisouphanh", "Sisouphan", "Sisuphan"]),
              ("ອິນທະວົງ", ["Inthavong", "Intavong"]),
              ("ຈັນທະວົງ", ["Chanthavong", "Chantavong"]), ("ໄຊສະນາ", ["Xaysana", "Saysana"]),
              ("ມະນີວົງ", ["Manivong", "Maniwong"]), ("ແກ້ວ", ["Keo", "Kèo"]),
              ("ສີຫາລາດ", ["Sihalath", "Sihalat"]), ("ພິລາວົງ", ["Philavong", "Pilavong"]),
              ("ພັນທະວົງ", ["Phanthavong", "Panthavong"]),
              ("ໄຊຍະວົງ", ["Sayavong", "Xayavong"]), ("ດວງມາລາ", ["Douangmala", "Duangmala"]),
              ("ວິໄລສັກ", ["Vilaysack", "Vilaysak", "Vilaisak"]),
              ("ທຳມະວົງ", ["Thammavong", "Thammavongs"]), ("ແກ້ວມະນີ", ["Keomany", "Keomani"]),
              ("ໂພທິສານ", ["Phothisane", "Phothisan"]),
              ("ສຸວັນນະວົງ", ["Souvannavong", "Souvanavong"]),
              ("ລາດສະວົງ", ["Latsavong", "Lassavong"])]
# Provinces, their other ways of being written, and some of their districts.
PROVINCES = {
    "VN": [("Tây Ninh", ["Tay Ninh", "tỉnh Tây Ninh", "TAY NINH"], ["Gò Dầu", "Trảng Bàng",
                                                                     "Tân Biên", "Bến Cầu"]),
           ("An Giang", ["An Giang", "tỉnh An Giang"], ["Châu Đốc", "Tân Châu", "An Phú"]),
           ("Hà Giang", ["Ha Giang", "T. Hà Giang"], ["Đồng Văn", "Mèo Vạc", "Yên Minh"]),
           ("Nghệ An", ["Nghe An", "tỉnh Nghệ An"], ["Kỳ Sơn", "Tương Dương", "Quế Phong"]),
           ("Thanh Hóa", ["Thanh Hoá", "Thanh Hoa"], ["Mường Lát", "Quan Sơn", "Tĩnh Gia"]),
           ("Lào Cai", ["Lao Cai"], ["Sa Pa", "Bát Xát", "Mường Khương"]),
           ("Điện Biên", ["Dien Bien"], ["Mường Nhé", "Tủa Chùa"]),
           ("Đồng Tháp", ["Dong Thap"], ["Hồng Ngự", "Tân Hồng"]),
           ("Kiên Giang", ["Kien Giang"], ["Hà Tiên", "Kiên Lương"]),
           ("Quảng Trị", ["Quang Tri"], ["Hướng Hóa", "Đakrông"]),
           ("Hồ Chí Minh", ["TP HCM", "tp. Hồ Chí Minh", "TP.HCM", "Ho Chi Minh City"],
            ["Quận 1", "Bình Tân", "Củ Chi"]),
           ("Sơn La", ["Son La"], ["Mộc Châu", "Sốp Cộp"]),
           ("Long An", ["Long An"], ["Đức Huệ", "Tân Hưng"])],
    "KH": [("Svay Rieng", ["Khet Svay Rieng", "Svay Rieng Province", "Svayrieng"],
            ["Bavet", "Chantrea", "Romeas Haek"]),
           ("Kandal", ["Kandal Province", "Khet Kandal"], ["Ta Khmau", "Kien Svay"]),
           ("Phnom Penh", ["Phnum Penh", "Phnom Penh Capital"], ["Chamkar Mon", "Dangkao"]),
           ("Takeo", ["Takéo", "Khet Takeo"], ["Doun Kaev", "Angkor Borei"]),
           ("Prey Veng", ["Prey Veng Province"], ["Neak Loeung", "Kamchay Mear"]),
           ("Banteay Meanchey", ["Banteay Mean Chey"], ["Poipet", "Serei Saophoan"]),
           ("Battambang", ["Battambang Province"], ["Sangkae", "Thma Koul"]),
           ("Siem Reap", ["Siemreap"], ["Angkor Thom", "Puok"])],
    "LA": [("Savannakhet", ["Savannakhet Province", "Khoueng Savannakhet"],
            ["Kaysone Phomvihane", "Xepon", "Outhoumphone"]),
           ("Champasak", ["Champassak", "Champasack"], ["Pakse", "Khong"]),
           ("Vientiane Capital", ["Viangchan", "Vientiane Capital"],
            ["Chanthabouly", "Sikhottabong", "Xaysetha"]),
           ("Bokeo", ["Bokeo Province"], ["Houayxay", "Tonpheung"]),
           ("Luang Namtha", ["Louang Namtha"], ["Namtha", "Sing"]),
           ("Khammouane", ["Khammouan"], ["Thakhek", "Mahaxay"])],
}
CALLING = {"VN": "84", "KH": "855", "LA": "856"}
#: What a true match's query may have undergone (each query: one or two of these).
VARIATIONS = ("accents", "order", "middle-dropped", "middle-initial", "regional", "slip",
              "romanisation", "native-only", "estimated-age", "province-written")


@dataclass
class Report:
    """A generated missing-person report: its PERSON, its date, and what made it."""

    id: int
    person: dict[str, Any]
    asof: date
    origin: str
    parts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    """A generated found person: its PERSON, its date, the report it is (None: none)."""

    person: dict[str, Any]
    asof: date
    truth: int | None
    kind: str


@dataclass
class EvaluationSet:
    """Reports and queries generated under one seed."""

    reports: list[Report]
    queries: list[Query]


def ascii_upper(text: str) -> str:
    flat = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in flat if not unicodedata.combining(c)).upper()


def _birth(rng: random.Random, asof: date) -> tuple[str | None, int | None, date | None]:
    born = date(rng.randint(1984, 2013), rng.randint(1, 12), rng.randint(1, 28))
    roll = rng.random()
    if roll < 0.45:
        return born.isoformat(), None, born
    if roll < 0.65:
        return str(born.year), None, born
    if roll < 0.70:
        return born.isoformat()[:7], None, born
    if roll < 0.95:
        return None, _age(born, asof, rng), born
    return None, None, born


def _age(born: date, asof: date, rng: random.Random) -> int:
    real = asof.year - born.year - ((asof.month, asof.day) < (born.month, born.day))
    return max(1, real + rng.choice((-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)))


def _person(rng: random.Random, origin: str, asof: date) -> tuple[dict[str, Any], dict[str, Any]]:
    sex = rng.choice(("female", "female", "male"))
    parts: dict[str, Any] = {"sex": sex, "origin": origin}
    if origin == "VN":
        surname = rng.choices([s for s, _ in SURNAMES_VN], [w for _, w in SURNAMES_VN])[0]
        if sex == "female":
            middle = "Thị" if rng.random() < 0.6 else rng.choice(MIDDLE_F)
            given = rng.choice(GIVEN_VN_F)
        else:
            middle = "Văn" if rng.random() < 0.5 else rng.choice(MIDDLE_M)
            given = rng.choice(GIVEN_VN_M)
        parts.update(surname=surname, middle=middle, given=given)
        written = f"{surname} {middle} {given}"
        latin, native = (written, None) if rng.random() < 0.7 else (ascii_upper(written),
                                                                     written)
    else:
        if origin == "KH":
            family = rng.choice(KHMER_FAMILY)
            given = rng.choice(KHMER_F if sex == "female" else KHMER_M)
            order = (family, given)
        else:
            family, given = rng.choice(LAO_FAMILY), rng.choice(LAO_GIVEN)
            order = (given, family)
        parts.update(family=family, given=given, order=order)
        latin = " ".join(o[1][0] for o in order)
        if rng.random() < 0.5:
            latin = latin.upper()
        native = " ".join(o[0] for o in order) if rng.random() < 0.75 else None
    province, _, districts = rng.choice(PROVINCES[origin])
    district = rng.choice(districts) if rng.random() < 0.7 else None
    home = {"country": origin, "province": province, "district": district, "commune": None}
    birth, age, born = _birth(rng, asof)
    parts.update(province=province, born=born)
    papers = []
    if rng.random() < 0.3:
        number = (f"{rng.randrange(10**11, 10**12)}" if origin == "VN" else
                  f"{rng.randrange(10**8, 10**9)}")
        papers.append({"kind": "id-card", "number": number, "country": origin})
    phones = []
    if rng.random() < 0.4:
        phones.append(f"0{rng.randrange(10**8, 10**9)}")
    return ({"name_latin": latin, "name_native": native, "sex": sex, "birth": birth,
             "estimated_age": age, "nationality": origin if rng.random() < 0.9 else None,
             "home": home if rng.random() < 0.9 else None, "papers": papers,
             "phones": phones}, parts)


def generate(seed: int = SEED, reports: int = 2000, queries: int = 300) -> EvaluationSet:
    """A seeded evaluation set (the same seed, the same set)."""
    rng = random.Random(seed)
    made: list[Report] = []
    for i in range(1, reports + 1):
        origin = rng.choices(("VN", "KH", "LA"), (60, 25, 15))[0]
        asof = START + timedelta(days=rng.randrange(300))
        person, parts = _person(rng, origin, asof)
        made.append(Report(i, person, asof, origin, parts))
    asked: list[Query] = []
    for q in range(queries):
        report = rng.choice(made)
        asof = report.asof + timedelta(days=rng.randrange(1, 150))
        if q % 2 == 0:
            asked.append(_true_query(rng, report, asof))
        else:
            asked.append(_hard_query(rng, report, asof))
    return EvaluationSet(made, asked)


def _name_of(parts: dict[str, Any], *, variation: set[str], rng: random.Random) -> tuple[
        str, str | None]:
    """A name as the found person's record writes it, under the variations."""
    if parts["origin"] == "VN":
        surname, middle, given = parts["surname"], parts["middle"], parts["given"]
        if "regional" in variation:
            surname = REGIONAL.get(surname, surname)
        if "slip" in variation:
            given = _slip(rng, given)
        if "middle-dropped" in variation:
            middle = ""
        elif "middle-initial" in variation:
            middle = ascii_upper(middle)[0] + "."
        words = [surname, middle, given]
        if "order" in variation:
            words = [given, middle, surname] if rng.random() < 0.5 else [given, surname]
        text = " ".join(w for w in words if w)
        if "native-only" in variation:
            return "", text
        if "accents" in variation or rng.random() < 0.3:
            text = ascii_upper(text)
        return text, None
    order = parts["order"]
    romans = []
    for _, written in order:
        choice = written[0]
        if "romanisation" in variation and len(written) > 1:
            choice = rng.choice(written[1:])
        romans.append(choice)
    if "order" in variation:
        romans.reverse()
    if "slip" in variation:
        romans[-1] = _slip(rng, romans[-1])
    if "native-only" in variation:
        return "", " ".join(n for n, _ in order)
    text = " ".join(romans)
    return (text.upper() if rng.random() < 0.5 else text), None


def _slip(rng: random.Random, word: str) -> str:
    """One typing slip: a letter left out, doubled, swapped with the next, or mistyped."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeinorstu") + word[i + 1:]


def _applicable(parts: dict[str, Any]) -> list[str]:
    out = ["accents", "order", "slip", "estimated-age", "province-written", "native-only"]
    if parts["origin"] == "VN":
        out += ["middle-dropped", "middle-initial"]
        if parts["surname"] in REGIONAL:
            out.append("regional")
    else:
        out += ["romanisation", "romanisation"]
    return out


def _true_query(rng: random.Random, report: Report, asof: date) -> Query:
    parts = report.parts
    choices = _applicable(parts)
    variation = {"regional" if "regional" in choices and rng.random() < 0.5
                 else rng.choice(choices)}
    if rng.random() < 0.5:
        variation.add(rng.choice(choices))
    latin, native = _name_of(parts, variation=variation, rng=rng)
    source = report.person
    person: dict[str, Any] = {"name_latin": latin, "name_native": native, "sex": parts["sex"],
                              "birth": None, "estimated_age": None,
                              "nationality": parts["origin"] if rng.random() < 0.9 else None,
                              "home": None, "papers": [], "phones": []}
    born: date = parts["born"]
    if "estimated-age" in variation:
        person["estimated_age"] = _age(born, asof, rng)
    else:
        roll = rng.random()
        if roll < 0.5:
            person["birth"] = born.isoformat()
        elif roll < 0.7:
            person["birth"] = str(born.year)
        elif roll < 0.9:
            person["estimated_age"] = _age(born, asof, rng)
    if rng.random() < 0.7 or "province-written" in variation:
        province = parts["province"]
        if "province-written" in variation:
            province = rng.choice(_province(parts["origin"], province)[1])
        district = source["home"]["district"] if source["home"] and rng.random() < 0.4 else None
        person["home"] = {"country": parts["origin"], "province": province,
                          "district": district, "commune": None}
    if source["papers"] and rng.random() < 0.15:
        person["papers"] = list(source["papers"])
    if source["phones"] and rng.random() < 0.1:
        number = source["phones"][0]
        person["phones"] = ["+" + CALLING[parts["origin"]] + number[1:]]
    return Query(person, asof, report.id, "+".join(sorted(variation)))


def _province(origin: str, name: str) -> tuple[str, list[str], list[str]]:
    return next(p for p in PROVINCES[origin] if p[0] == name)


def _hard_query(rng: random.Random, report: Report, asof: date) -> Query:
    """Another person as like the report's as can be: the same surname and province with
    another given name, or the same name with an age that does not fit."""
    parts = dict(report.parts)
    born: date = parts["born"]
    written = report.person["birth"] is not None or report.person["estimated_age"] is not None
    if rng.random() < 0.6 or not written:
        kind = "another-given-name"
        if parts["origin"] == "VN":
            pool = GIVEN_VN_F if parts["sex"] == "female" else GIVEN_VN_M
            parts["given"] = rng.choice([g for g in pool if ascii_upper(g) != ascii_upper(
                parts["given"])])
        else:
            pool_kh = KHMER_F if parts["sex"] == "female" else KHMER_M
            pool = pool_kh if parts["origin"] == "KH" else LAO_GIVEN
            other = rng.choice([g for g in pool if g != parts["given"]])
            parts["order"] = ((parts["family"], other) if parts["origin"] == "KH"
                              else (other, parts["family"]))
        born = date(born.year + rng.randint(-2, 2), rng.randint(1, 12), rng.randint(1, 28))
    else:
        kind = "age-does-not-fit"
        shift = rng.choice((-1, 1)) * rng.randint(12, 20)
        year = born.year + shift
        if year > asof.year - 1:
            year = born.year - rng.randint(12, 20)
        born = date(year, rng.randint(1, 12), rng.randint(1, 28))
    variation = {rng.choice(("accents", "order", "none", "none"))}
    latin, native = _name_of(parts, variation=variation, rng=rng)
    person: dict[str, Any] = {"name_latin": latin, "name_native": native, "sex": parts["sex"],
                              "birth": None, "estimated_age": None,
                              "nationality": parts["origin"], "papers": [], "phones": [],
                              "home": {"country": parts["origin"], "province": parts["province"],
                                       "district": None, "commune": None}}
    if rng.random() < 0.5:
        person["birth"] = born.isoformat() if rng.random() < 0.6 else str(born.year)
    else:
        person["estimated_age"] = _age(born, asof, rng)
    return Query(person, asof, None, kind)
