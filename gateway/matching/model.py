"""The scorer: Fellegi-Sunter match weights with term frequencies, summed into a probability.

Each field of two persons (name, birth, sex, nationality, home, papers, phones) is compared
into a level of agreement; each level has ``m`` (how often two records of the same person
agree so) and ``u`` (how often two records of different persons do), and weighs
``log2(m / u)``. A name's weight is adjusted by how common the agreeing name parts are
(``frequencies``: Nguyễn agreeing says less than Lò agreeing): ``log2(base / tf)``, where ``tf``
is the product of the agreeing parts' shares and ``base`` the level's usual product. The
weights and the prior odds are summed into ``score``, the probability that the two records are
the same person (not a rank against the best hit); above the node's ``threshold`` the match is
suggested. A missing field weighs nothing. The parameters are in ``parameters.json``, written
by ``bench/matching.py --estimate`` (its ``note`` says how).
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from gateway.matching import dates, frequencies, names, papers, places
from gateway.matching.person import Person
from gateway.protocol.errors import N_

PARAMETERS = Path(__file__).with_name("parameters.json")
FIELDS = ("name", "birth", "sex", "nationality", "home", "papers", "phones")
LEVELS: dict[str, tuple[str, ...]] = {
    "name": tuple(names.LEVEL_NAMES[level] for level in sorted(names.LEVEL_NAMES, reverse=True)),
    "birth": dates.LEVELS,
    "sex": ("agree", "disagree"),
    "nationality": ("agree", "disagree"),
    "home": places.LEVELS,
    "papers": ("same", "different"),
    "phones": ("same", "different"),
}
# The levels whose agreeing name parts are the same names (after accents, order, middle names
# and romanisation): the rarity of those names counts. A slip or a likeness is not adjusted:
# the name it agrees with is not known to be the one written (as Splink adjusts exact levels).
_TF_LEVELS = frozenset({"exact", "accents", "variant", "partial"})
_NAME_WORDS = {
    "exact": N_("name: {ours} and {theirs} are the same"),
    "accents": N_("name: {ours} and {theirs} are the same once accents are removed"),
    "variant": N_("name: {ours} and {theirs} are the same once spelling variants, name "
                  "order and middle names are set aside"),
    "slip": N_("name: {ours} and {theirs} are one typing slip apart"),
    "similar": N_("name: {ours} and {theirs} sound alike"),
    "partial": N_("name: {ours} and {theirs} agree in part only"),
    "disagree": N_("name: {ours} and {theirs} differ"),
}


@dataclass(frozen=True, slots=True)
class Reason:
    """What one field's comparison says: its level of agreement, its weight (log2 of the
    Bayes factor), and its words as a catalog template (``words_template``) with values.
    The values may be personal data: shown only to those who may read special data, never
    logged."""

    field: str
    agreement: str
    weight: float
    words_template: str
    values: dict[str, str]

    def words(self, translate: Callable[[str], str] = str,
              country: Callable[[str], str] = str) -> str:
        """The reason in the reader's language (``translate``: a catalog's gettext;
        ``country``: a country's name from its code, for the nationalities)."""
        values = ({k: country(v) if isinstance(v, str) else v for k, v in self.values.items()}
                  if self.field == "nationality" else self.values)
        try:
            return translate(self.words_template).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
            return self.words_template.format(**values)


@dataclass(frozen=True, slots=True)
class Match:
    """Two records compared: the probability that they are the same person, whether it is
    above the suggesting threshold, the summed weight, and the reasons field by field."""

    score: float
    suggested: bool
    weight: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate of a ranking and its match."""

    id: Hashable
    match: Match


@dataclass(frozen=True, slots=True)
class Prepared:
    """A person made ready to compare once (keys computed); the integration caches these.
    ``asof``: when an estimated age was estimated (the report's or the message's date)."""

    person: Person
    asof: date
    name: names.PreparedName
    birth: dates.Birth | None
    home: places.PreparedHome | None
    papers: tuple[tuple[str, str, str | None], ...]
    phones: frozenset[str]


def prepare(person: Person, asof: date) -> Prepared:
    """A person made ready to compare (``asof``: when an estimated age was estimated)."""
    hint = person.nationality or (person.home.country if person.home else None)
    phones: set[str] = set()
    for phone in person.phones:
        phones |= papers.phone_numbers(phone, hint)
    return Prepared(person, asof, names.prepare_name(person.name_latin, person.name_native),
                    dates.birth_of(person.birth, person.estimated_age, asof),
                    places.prepare_home(person.home),
                    tuple(papers.paper_key(p) for p in person.papers), frozenset(phones))


class Model:
    """The Fellegi-Sunter scorer with its parameters (m and u per level, prior, threshold,
    term-frequency bases), its weights computed once."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.parameters = parameters
        self.prior: float = float(parameters["prior"])
        self.threshold: float = float(parameters["threshold"])
        self.tf_cap: float = float(parameters.get("tf_cap", 8.0))
        self.weights: dict[str, dict[str, float]] = {}
        for field in FIELDS:
            levels = parameters["fields"][field]["levels"]
            self.weights[field] = {
                level: math.log2(float(levels[level]["m"]) / float(levels[level]["u"]))
                for level in LEVELS[field]}
        self.tf_base: dict[str, float] = {
            k: float(v) for k, v in parameters["fields"]["name"].get("tf_base", {}).items()}
        self.prior_weight = math.log2(self.prior / (1 - self.prior))

    def for_reports(self, count: int) -> Model:
        """This model for a node holding ``count`` reports: the prior is per pair, so it
        falls as the reports grow (estimated at ``population``)."""
        population = int(self.parameters.get("population", count))
        return Model({**self.parameters,
                      "prior": self.prior * population / max(1, count)})

    @classmethod
    def load(cls, path: Path = PARAMETERS) -> Model:
        """The model of a parameters file."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def score(self, query: Prepared, candidate: Prepared) -> Match:
        """How likely the two are the same person, and why."""
        reasons = self.compare(query, candidate)
        total = self.prior_weight + sum(r.weight for r in reasons)
        probability = 1 / (1 + 2 ** -max(-60.0, min(60.0, total)))
        return Match(probability, probability >= self.threshold, total, reasons)

    def rank(self, query: Prepared, candidates: Iterable[tuple[Hashable, Prepared]],
             limit: int = 10) -> list[Ranked]:
        """The ``limit`` best candidates, best first."""
        scored = ((self.score(query, c), i, key) for i, (key, c) in enumerate(candidates))
        best = heapq.nlargest(limit, scored, key=lambda t: (t[0].weight, -t[1]))
        return [Ranked(key, match) for match, _, key in best]

    def compare(self, a: Prepared, b: Prepared) -> tuple[Reason, ...]:
        """The reasons of every field both records know, field by field."""
        reasons: list[Reason] = []
        name = self._name(a, b)
        if name is not None:
            reasons.append(name)
        if a.birth is not None and b.birth is not None:
            born = dates.compare_births(a.birth, b.birth)
            reasons.append(self._reason("birth", born.level, born.template, born.values))
        sa, sb = a.person.sex, b.person.sex
        if sa != "unknown" and sb != "unknown":
            reasons.append(self._reason("sex", "agree", N_("sex: the same"), {}) if sa == sb
                           else self._reason("sex", "disagree", N_("sex: differs"), {}))
        na, nb = a.person.nationality, b.person.nationality
        if na and nb:
            reasons.append(
                self._reason("nationality", "agree", N_("nationality: the same, {ours}"),
                             {"ours": na}) if na == nb else
                self._reason("nationality", "disagree", N_("nationality: {ours} ≠ {theirs}"),
                             {"ours": na, "theirs": nb}))
        if a.home is not None and b.home is not None:
            home = places.compare_homes(a.home, b.home)
            if home.level is not None:
                reasons.append(self._reason("home", home.level, home.template, home.values))
        paper = self._papers(a, b)
        if paper is not None:
            reasons.append(paper)
        if a.phones and b.phones:
            shared = sorted(a.phones & b.phones)
            reasons.append(
                self._reason("phones", "same", N_("phone: the same number, {number}"),
                             {"number": shared[0]}) if shared else
                self._reason("phones", "different", N_("phone: no number in common"), {}))
        return tuple(reasons)

    def _reason(self, field: str, level: str, template: str, values: dict[str, str],
                extra: float = 0.0) -> Reason:
        return Reason(field, level, round(self.weights[field][level] + extra, 3), template,
                      values)

    def _name(self, a: Prepared, b: Prepared) -> Reason | None:
        compared = names.compare_names(a.name, b.name)
        if compared.level is None:
            return None
        level = names.LEVEL_NAMES[compared.level]
        extra = 0.0
        base = self.tf_base.get(level)
        if base is not None and compared.agreed and level in _TF_LEVELS:
            tf = math.prod(frequencies.share(k) for k in compared.agreed)
            extra = max(-self.tf_cap, min(self.tf_cap, math.log2(base / max(tf, 1e-12))))
        return self._reason("name", level, _NAME_WORDS[level],
                            {"ours": compared.ours, "theirs": compared.theirs}, extra)

    def _papers(self, a: Prepared, b: Prepared) -> Reason | None:
        comparable = False
        for x in a.papers:
            for y in b.papers:
                if papers.papers_agree(x, y):
                    return self._reason("papers", "same",
                                        N_("identity paper: the same number, {number}"),
                                        {"number": x[1]})
                comparable = comparable or papers.papers_comparable(x, y)
        if comparable:
            return self._reason("papers", "different",
                                N_("identity paper: another number on a paper of the same "
                                   "kind"), {})
        return None


@cache
def default_model() -> Model:
    """The model of the shipped ``parameters.json`` (read once)."""
    return Model.load()


def score(query: Person, candidate: Person, *, query_asof: date, candidate_asof: date,
          model: Model | None = None) -> Match:
    """How likely two persons are the same (each ``asof``: when its age was estimated)."""
    return (model or default_model()).score(prepare(query, query_asof),
                                            prepare(candidate, candidate_asof))


def rank(query: Prepared, candidates: Iterable[tuple[Hashable, Prepared]], limit: int = 10,
         *, model: Model | None = None) -> list[Ranked]:
    """The ``limit`` best of prepared candidates (id, prepared), best first."""
    return (model or default_model()).rank(query, candidates, limit)
