"""The scorer: calibrated probabilities, term frequencies, decisive papers, reasons in words,
and its speed."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from gateway.matching.model import Match, default_model, prepare, rank, score
from gateway.matching.person import Person

ASOF = date(2026, 3, 1)


def person(name: str, **more: Any) -> Person:
    return Person.from_json({"name_latin": name, **more})


def match(a: Person, b: Person) -> Match:
    return score(a, b, query_asof=ASOF, candidate_asof=ASOF)


def weight_of(m: Match, field: str) -> float:
    return next(r.weight for r in m.reasons if r.field == field)


def test_a_common_surname_agreeing_weighs_less_than_a_rare_one() -> None:
    common = match(person("Nguyễn Thị Lan"), person("Nguyễn Thị Hoa"))
    rare = match(person("Lò Thị Lan"), person("Lò Thị Hoa"))
    assert weight_of(common, "name") < weight_of(rare, "name")
    common = match(person("Nguyễn Thị Lan"), person("Nguyễn Thị Lan"))
    rare = match(person("Lò Thị Lan"), person("Lò Thị Lan"))
    assert weight_of(common, "name") < weight_of(rare, "name")


def test_an_identity_paper_is_decisive() -> None:
    paper = [{"kind": "id-card", "number": "079123456789", "country": "VN"}]
    same = match(person("Nguyen Lan", papers=paper, birth="2011"),
                 person("Tran Hoa", papers=[{"kind": "CCCD", "number": "079 123 456 789",
                                             "country": "VN"}], birth="2011"))
    assert same.score > 0.99
    assert same.suggested
    other = match(person("Nguyễn Thị Lan", papers=paper),
                  person("Nguyễn Thị Lan", papers=[{"kind": "id-card", "number": "1",
                                                     "country": "VN"}]))
    assert weight_of(other, "papers") < 0


def test_a_phone_in_national_and_international_form_agrees() -> None:
    m = match(person("Nguyen Lan", phones=["0912 345 678"], nationality="VN"),
              person("Nguyen Lan", phones=["+84912345678"]))
    assert weight_of(m, "phones") > 5


def test_the_score_is_a_probability_not_a_rank() -> None:
    # A single candidate that agrees only on a common surname is not likely.
    alone = rank(prepare(person("Nguyễn Thị Lan", birth="2011"), ASOF),
                 [(1, prepare(person("Nguyễn Văn Hùng", birth="1990"), ASOF))])
    assert alone[0].match.score < 0.01
    assert not alone[0].match.suggested


def test_a_true_match_with_variations_is_suggested_with_its_reasons() -> None:
    reported = person("Hồ Thị Sương", sex="female", birth="2011-03-05", nationality="VN",
                      home={"country": "VN", "province": "Tây Ninh", "district": "Gò Dầu"})
    found = person("SUONG HO", sex="female", estimated_age=16, nationality="VN",
                   home={"country": "VN", "province": "Tay Ninh", "district": "H. Go Dau"})
    m = score(found, reported, query_asof=date(2026, 11, 1), candidate_asof=ASOF)
    assert m.suggested
    words = [r.words() for r in m.reasons]
    assert "born 2011-03-05; estimated 16 in 2026: agrees" in words
    assert "home: H. Go Dau, Tay Ninh = Gò Dầu, Tây Ninh" in words
    assert any(w.startswith("name: SUONG HO and Hồ Thị Sương") for w in words)
    assert m.reasons[0].words(lambda t: t.replace("name", "tên")).startswith("tên: SUONG")
    assert "nationality: the same, VN" in words  # the code, without a reader's names
    names = {"VN": "Việt Nam"}
    said = [r.words(country=lambda code: names.get(code, code)) for r in m.reasons]
    assert "nationality: the same, Việt Nam" in said  # the console's reader's name of it
    assert "home: H. Go Dau, Tay Ninh = Gò Dầu, Tây Ninh" in said  # nothing else renamed


def test_the_issues_example_is_likely_though_its_name_is_common() -> None:
    reported = person("Nguyễn Thị Lan", sex="female", birth="2011-03-05", nationality="VN",
                      home={"country": "VN", "province": "Tây Ninh", "district": "Gò Dầu"})
    found = person("LAN NGUYEN", sex="female", estimated_age=16, nationality="VN",
                   home={"country": "VN", "province": "Tay Ninh", "district": "H. Go Dau"})
    m = score(found, reported, query_asof=date(2026, 11, 1), candidate_asof=ASOF)
    rare = score(person("SUONG HO", sex="female", estimated_age=16, nationality="VN",
                        home={"country": "VN", "province": "Tay Ninh", "district": "H. Go Dau"}),
                 person("Hồ Thị Sương", sex="female", birth="2011-03-05", nationality="VN",
                        home={"country": "VN", "province": "Tây Ninh", "district": "Gò Dầu"}),
                 query_asof=date(2026, 11, 1), candidate_asof=ASOF)
    assert 0.5 < m.score < rare.score


def test_an_age_that_does_not_fit_is_not_suggested() -> None:
    reported = person("Nguyễn Thị Lan", sex="female", birth="2011-03-05",
                      home={"country": "VN", "province": "Tây Ninh"})
    found = person("Nguyễn Thị Lan", sex="female", estimated_age=30,
                   home={"country": "VN", "province": "Tây Ninh"})
    assert not match(found, reported).suggested
    assert match(found, reported).score < match(reported, reported).score


def test_a_translation_that_lost_its_placeholder_falls_back_to_english() -> None:
    m = match(person("Nguyễn Thị Lan"), person("Nguyen Thi Lan"))
    assert m.reasons[0].words(lambda t: "{nothing}") == m.reasons[0].words()


def test_rank_is_best_first_and_limited() -> None:
    query = prepare(person("Nguyễn Thị Lan", birth="2011"), ASOF)
    candidates = [(i, prepare(person(name, birth="2011"), ASOF)) for i, name in enumerate(
        ["Trần Văn Hùng", "Nguyen Thi Lan", "Nguyễn Thị Hoa", "Nguyễn Thị Lan"])]
    ranked = rank(query, candidates, limit=2)
    assert [r.id for r in ranked] == [3, 1]


def test_scoring_a_pair_takes_well_under_a_millisecond() -> None:
    model = default_model()
    a = prepare(person("Nguyễn Thị Lan", birth="2011-03-05", sex="female",
                       home={"country": "VN", "province": "Tây Ninh"}), ASOF)
    b = prepare(person("Lan Nguyen T.", estimated_age=16, sex="female",
                       home={"country": "VN", "province": "Tay Ninh"}), ASOF)
    started = time.perf_counter()
    for _ in range(2000):
        model.score(a, b)
    assert (time.perf_counter() - started) / 2000 < 0.0005


def test_the_prior_falls_as_the_reports_grow() -> None:
    model = default_model()
    assert model.for_reports(int(model.parameters["population"])).prior == model.prior
    bigger = model.for_reports(100 * int(model.parameters["population"]))
    a = prepare(person("Nguyễn Thị Lan", birth="2011"), ASOF)
    assert bigger.score(a, a).score < model.score(a, a).score
