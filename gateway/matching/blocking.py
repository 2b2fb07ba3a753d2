"""The keys under which a person is indexed, to be found as a candidate.

Plain strings: the integration keys them with the node's blind-index key (``Sealer.index``)
so that no clear name is ever stored. A person is a candidate for another when they share a
key. Every variation the comparison forgives keeps at least one key in common with the
original (accents, case, order, a middle name dropped or abbreviated, regional surnames,
romanisations, names run together, the native script); a name part as common as Nguyễn is a
key only together with a birth year or a province, so that it does not make everyone a
candidate.

    n:KEY            a name part that is not common
    n:KEY|y:YEAR     a common name part and a year the person may be born in
    n:KEY|p:PLACE    a common name part and the home province
    p:KEY5|PR        a name part's first five letters and the first two of another (a slip
                     after them, a long part's ending: Thammavong, Thammavongs)
    q:KEY|LETTERS    a name part and the letters of another in order (two letters swapped)
    c:COMPACT        the name run together (Sreymom, Srey Mom)
    k:CONSONANTS     the name's consonants, sorted (a transliteration without vowels; parts
                     run together and a vowel mistyped at once)
    s:NATIVE         the name in its own script
    d:KIND|NUMBER    an identity paper
    t:E164           a phone

At 100,000 reports the keys of a common name still find thousands of candidates; the
``SHORTLIST`` sharing the most keys are scored (:func:`shortlist`; in SQL a ``GROUP BY`` over
the blind index ordered by the count). A true match shares many keys (its name parts, their
pairs, the name run together, its year and province), a namesake few.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import TypeVar

from gateway.matching import frequencies
from gateway.matching.model import Prepared

#: The years a written birth is indexed under, around its own (an estimate: its range).
WRITTEN_SPREAD = 1
#: How many candidates are scored at most: those sharing the most keys with the person.
SHORTLIST = 400

K = TypeVar("K", bound=Hashable)


def blocking_keys(person: Prepared) -> frozenset[str]:
    """The keys of a prepared person."""
    out: set[str] = set()
    years: list[int] = []
    if person.birth is not None:
        if person.birth.estimated:
            years = list(range(person.birth.lo, person.birth.hi + 1))
        else:
            years = list(range(person.birth.lo - WRITTEN_SPREAD,
                               person.birth.hi + WRITTEN_SPREAD + 1))
    province = person.home.province if person.home is not None else None
    for name_form in person.name.forms:
        keys = [t.key for t in name_form.core]
        for key in keys:
            if frequencies.share(key) < frequencies.COMMON_SHARE:
                out.add(f"n:{key}")
            else:
                out.update(f"n:{key}|y:{year}" for year in years)
                if province:
                    out.add(f"n:{key}|p:{province}")
        letters = ["".join(sorted(t.plain)) for t in name_form.core]
        for i, key in enumerate(keys):
            for j, other in enumerate(keys):
                if i != j:
                    out.add(f"p:{key[:5]}|{other[:2]}")
                    out.add(f"q:{key}|{letters[j]}")
        out.update(f"c:{compact}" for compact in name_form.compact if compact)
        if len(name_form.skeleton) >= 3:
            out.add(f"k:{name_form.skeleton}")
    if person.name.native:
        out.add(f"s:{person.name.native}")
    out.update(f"d:{kind}|{number}" for kind, number, _ in person.papers)
    out.update(f"t:{phone}" for phone in person.phones)
    return frozenset(out)


def shortlist(postings: Iterable[Iterable[K]], limit: int = SHORTLIST) -> list[K]:
    """The candidates found under a person's keys (one iterable of ids per key), the ``limit``
    that share the most keys first (ties: the order first found)."""
    counts: Counter[K] = Counter()
    for ids in postings:
        counts.update(ids)
    return [k for k, _ in counts.most_common(limit)]
