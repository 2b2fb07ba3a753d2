"""Splink's check of the counted parameters (``bench/matching.py --estimate``).

Splink (with DuckDB) estimates the same Fellegi-Sunter model without the labels: u by
random sampling, m by expectation maximisation over blocked pairs, each comparison's levels
being exactly the runtime scorer's (a DuckDB function calls ``Model.compare``). Its m and u
are printed beside the counted ones; the runtime scorer stays the lean one over rapidfuzz.
Splink is a dev dependency only.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import duckdb
from splink import DuckDBAPI, Linker, block_on

from bench.matching import EvaluationSet
from gateway.matching.model import FIELDS, LEVELS, Model, Prepared, prepare
from gateway.matching.person import Person


def em_estimate(evaluation: EvaluationSet, counted: dict[str, Any]) -> dict[str, Any]:
    """Splink's m and u for every level, printed beside the counted ones; returned."""
    model = Model(counted)
    prepared: dict[str, Prepared] = {}
    rows: list[tuple[str, str, int | None, str | None, str]] = []
    for report in evaluation.reports:
        made = prepare(Person.from_json(report.person), report.asof)
        prepared[f"r{report.id}"] = made
        rows.append(_row(f"r{report.id}", made, "reports"))
    for i, query in enumerate(evaluation.queries):
        made = prepare(Person.from_json(query.person), query.asof)
        prepared[f"q{i}"] = made
        rows.append(_row(f"q{i}", made, "queries"))

    @lru_cache(maxsize=400_000)
    def levels(a: str, b: str) -> dict[str, str]:
        return {r.field: r.agreement for r in model.compare(prepared[a], prepared[b])}

    def level(field: str, a: str, b: str) -> str | None:
        return levels(a, b).get(field)

    con = duckdb.connect()
    con.create_function("bx_level", level, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR",
                        null_handling="special", side_effects=False)
    for name in ("reports", "queries"):
        con.execute(f"CREATE TABLE {name} (unique_id VARCHAR, name_key VARCHAR, "
                    "birth_year INTEGER, province VARCHAR, source VARCHAR)")
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?)",
                        [r for r in rows if r[4] == name])
    db_api = DuckDBAPI(connection=con)
    tables = [db_api.register("reports", table_name="reports_in"),
              db_api.register("queries", table_name="queries_in")]
    # Each comparison names the column it stands for, so that EM blocked on that column
    # leaves its m alone (Splink reads the columns a level's condition uses).
    uses = {"name": "name_key", "birth": "birth_year", "home": "province"}
    comparisons = []
    for field in FIELDS:
        column = uses.get(field)
        touch = f" AND {column}_l IS NOT DISTINCT FROM {column}_l" if column else ""
        call = f"bx_level('{field}', unique_id_l, unique_id_r)"
        comparison_levels: list[dict[str, Any]] = [
            {"sql_condition": f"{call} IS NULL{touch}", "label_for_charts": "missing",
             "is_null_level": True}]
        comparison_levels += [{"sql_condition": f"{call} = '{lv}'{touch}",
                               "label_for_charts": lv} for lv in LEVELS[field][:-1]]
        comparison_levels.append({"sql_condition": "ELSE", "label_for_charts":
                                  LEVELS[field][-1]})
        comparisons.append({"output_column_name": field,
                            "comparison_levels": comparison_levels})
    settings = {"link_type": "link_only", "comparisons": comparisons,
                "probability_two_random_records_match": counted["prior"],
                "retain_intermediate_calculation_columns": False,
                "additional_columns_to_retain": []}
    linker = Linker(tables, settings, log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=3e5, seed=1)
    for rule in (block_on("name_key"), block_on("birth_year", "province")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, record_sample_proportion=1.0)
        except ValueError as error:  # EM that drove an m to underflow: said, not hidden
            print(f"  Splink's EM blocked on {rule.get_blocking_rule('duckdb').blocking_rule_sql}"
                  f" failed: {str(error)[:160]}")
    found = _levels_of(linker.misc.save_model_to_json())
    print("  Splink (EM for m, random sampling for u) beside the counted parameters:")
    print(f"    {'field':12} {'level':9} {'m counted':>10} {'m Splink':>9} {'u counted':>10} "
          f"{'u Splink':>9}")
    for field in FIELDS:
        for lv in LEVELS[field]:
            ours = counted["fields"][field]["levels"][lv]
            theirs = found.get((field, lv), {})
            print(f"    {field:12} {lv:9} {ours['m']:10.4f} {_f(theirs.get('m')):>9} "
                  f"{ours['u']:10.2g} {_f(theirs.get('u'), '.2g'):>9}")
    return {"levels": {f"{f}.{lv}": v for (f, lv), v in found.items()}}


def _row(uid: str, made: Prepared, source: str) -> tuple[str, str, int | None, str | None,
                                                          str]:
    keys = sorted(t.key for f in made.name.forms for t in f.core)
    year = made.birth.year if made.birth is not None and not made.birth.estimated else None
    province = made.home.province if made.home is not None else None
    return uid, " ".join(keys), year, province, source


def _levels_of(model_json: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for comparison in model_json["comparisons"]:
        for lv in comparison["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            out[(comparison["output_column_name"], lv["label_for_charts"])] = {
                "m": lv.get("m_probability"), "u": lv.get("u_probability")}
    return out


def _f(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)
