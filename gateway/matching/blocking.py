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
    p:KEY|PR         a name part and the first two letters of another (one typing slip)
    c:COMPACT        the name run together (Sreymom, Srey Mom)
    s:NATIVE         the name in its own script
    d:KIND|NUMBER    an identity paper
    t:E164           a phone
"""

from __future__ import annotations

from gateway.matching import frequencies
from gateway.matching.model import Prepared

#: The years a written birth is indexed under, around its own (an estimate: its range).
WRITTEN_SPREAD = 1


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
        for i, key in enumerate(keys):
            out.update(f"p:{key}|{other[:2]}" for j, other in enumerate(keys) if i != j)
        out.update(f"c:{compact}" for compact in name_form.compact if compact)
    if person.name.native:
        out.add(f"s:{person.name.native}")
    out.update(f"d:{kind}|{number}" for kind, number, _ in person.papers)
    out.update(f"t:{phone}" for phone in person.phones)
    return frozenset(out)
