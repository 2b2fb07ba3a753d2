"""Names brought to comparable Latin keys, and two names compared.

A name part (token) has three keys, from strict to loose:

- ``exact``: case folded, the Vietnamese tone mark moved to the end of the syllable, so that
  the old and new tone placements (hòa/hoà, thủy/thuỷ) are one key;
- ``plain``: Latin letters without any mark (đ/Đ → d), from any script: Khmer and Lao names
  in their script are transliterated by ``anyascii`` (Lao written vowels put back after their
  consonant first, as they are read);
- ``key``: a phonetic-ish key for romanisation variants: ph/p, kh/k, th/t, x/s, z/s, w/v,
  ou/u, oo/u, ee/i, y/i, a final h or e dropped, doubled letters single, and the regional
  surname pairs of Viet Nam (Huỳnh/Hoàng, Võ/Vũ) one key.

Names are compared order-free (family name first or last), without the middle names Thị and
Văn (or their initials), with an initial agreeing with a name part, and with names run
together or apart (Sreymom, Srey Mom, Srey-Mom).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import DamerauLevenshtein, Indel

# The levels of agreement of two names, from the strongest.
EXACT, ACCENTS, VARIANT, SLIP, SIMILAR, PARTIAL, DISAGREE = 6, 5, 4, 3, 2, 1, 0
LEVEL_NAMES = {EXACT: "exact", ACCENTS: "accents", VARIANT: "variant", SLIP: "slip",
               SIMILAR: "similar", PARTIAL: "partial", DISAGREE: "disagree"}
#: How alike what is left of two names, run together, must be (rapidfuzz's Indel ratio, 0..1)
#: for the names to sound alike.
SIMILAR_RATIO = 0.8

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
#: Hyphens and the zero-width space, joiners and word joiner that Khmer and Lao writing puts
#: between syllables or words: not part of a name's key in its script.
_JOINERS = str.maketrans("", "", "-\u200b\u200c\u200d\u2060\ufeff")
_SPLIT = re.compile(r"[\s\-.,;:/_'’‘`\"()]+")
_FILLERS = frozenset({"thi", "van"})
_REGIONAL = {"huynh": "hoang", "vo": "vu"}
_DIGRAPHS = (("ph", "p"), ("kh", "k"), ("th", "t"), ("gh", "g"), ("dh", "d"), ("bh", "b"),
             ("sh", "s"), ("x", "s"), ("z", "s"), ("w", "v"), ("ou", "u"), ("oo", "u"),
             ("ee", "i"), ("y", "i"))
_VOWELS = frozenset("aeiou")
_LAO_CONSONANT = "\u0e81-\u0eae\u0edc-\u0edf"
_LAO_PREVOWEL = re.compile(f"([\u0ec0-\u0ec4])(\u0eab?[{_LAO_CONSONANT}]\u0ebc?)")
_LAO_SHORT_E = re.compile("([\u0ec0\u0ec1])\u0eb1")
_LAO_MEDIAL_O = re.compile(f"([{_LAO_CONSONANT}][\u0ec8-\u0ecb]?)\u0ead")
_LAO_FINAL_WO = re.compile(
    "(?<=[\u0eb0-\u0ebc\u0ec8-\u0ecb])\u0ea7(?![\u0eb0-\u0ebc\u0ec8-\u0ecb])")
#: Names prepared kept per process: the same names recur (the common ones by thousands), and
#: preparing one is most of the cost of opening a candidate.
_CACHED = 1 << 16
_KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
_LAO = re.compile("[\u0e80-\u0eff]")


@lru_cache(maxsize=_CACHED)
def exact(token: str) -> str:
    """A name part case folded, its tone mark moved to the end (hòa and hoà: one key)."""
    decomposed = unicodedata.normalize("NFD", token.casefold())
    tones = [c for c in decomposed if c in _TONES]
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    return base + "".join(tones[:1])


@lru_cache(maxsize=_CACHED)
def plain(text: str) -> str:
    """Text in lower-case Latin letters without marks, from any script."""
    if _LAO.search(text):
        text = _LAO_PREVOWEL.sub(r"\2\1", text)
        text = _LAO_SHORT_E.sub(r"\1", text)
        text = _LAO_MEDIAL_O.sub(r"\1o", text)
        text = _LAO_FINAL_WO.sub("o", text)
    return anyascii(text).lower()


@lru_cache(maxsize=_CACHED)
def phonetic(word: str) -> str:
    """The phonetic-ish key of a name part in plain letters (``plain``)."""
    word = "".join(c for c in word if c.isalnum())
    word = _REGIONAL.get(word, word)
    for old, new in _DIGRAPHS:
        word = word.replace(old, new)
    if len(word) > 2 and word[-1] == "h" and (word[-2] in _VOWELS or word[-2] == "n"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == "e" and word[-2] not in _VOWELS:
        word = word[:-1]
    if len(word) > 2 and word[-1] == "d":  # a final d is said t (Lao and Khmer: Phet, Phed)
        word = word[:-1] + "t"
    out: list[str] = []
    for c in word:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def script_of(text: str) -> str:
    """``khmer``, ``lao`` or ``latin``: the script a name is written in."""
    if _KHMER.search(text):
        return "khmer"
    if _LAO.search(text):
        return "lao"
    return "latin"


@dataclass(frozen=True, slots=True)
class Token:
    """One name part and its keys."""

    exact: str
    plain: str
    key: str


@dataclass(frozen=True, slots=True)
class NameForm:
    """One way a name is written, ready to compare: its name parts without the middle names
    Thị and Văn and without initials (``core``), those apart, and the name run together in
    the orders it may be read (``compact``)."""

    text: str
    core: tuple[Token, ...]
    fillers: frozenset[str]
    initials: frozenset[str]
    compact: frozenset[str]
    accented: bool
    transliterated: bool
    skeleton: str


@dataclass(frozen=True, slots=True)
class PreparedName:
    """A person's name in all its forms: Latin letters as written, a Vietnamese native name,
    a Khmer or Lao native name transliterated, and the native script itself (``native``:
    without spaces, hyphens and zero-width joiners, for an exact comparison)."""

    forms: tuple[NameForm, ...]
    native: str | None

    @property
    def keys(self) -> frozenset[str]:
        """Every name part's phonetic key, in every form."""
        return frozenset(t.key for f in self.forms for t in f.core)


@dataclass(frozen=True, slots=True)
class NameComparison:
    """How two names agree: a level (``EXACT`` ... ``DISAGREE``, None when a side has no
    name), the keys of the name parts that agreed (for term frequencies), and the two forms
    compared."""

    level: int | None
    agreed: tuple[str, ...]
    ours: str
    theirs: str


@lru_cache(maxsize=_CACHED)
def form(text: str, *, shown: str | None = None, transliterated: bool = False
         ) -> NameForm | None:
    """A name as written, ready to compare (``shown``: as the reasons say it, when ``text``
    is its transliteration); None when it has no letters."""
    words = [w for w in _SPLIT.split(text.strip()) if any(c.isalnum() for c in w)]
    core: list[Token] = []
    fillers: set[str] = set()
    initials: set[str] = set()
    for word in words[:12]:
        flat = "".join(c for c in plain(word) if c.isalnum())
        if not flat:
            continue
        if flat in _FILLERS:
            fillers.add(flat)
        elif len(flat) == 1:
            initials.add(flat)
        else:
            core.append(Token(exact(word), flat, phonetic(flat)))
    if not core and not initials:
        return None
    keys = [t.key for t in core]
    compact = {"".join(keys)}
    if len(keys) > 1:
        compact.add("".join(keys[1:] + keys[:1]))
        compact.add("".join(keys[-1:] + keys[:-1]))
    accented = not transliterated and any(not c.isascii() for c in text)
    return NameForm(shown or text, tuple(core), frozenset(fillers), frozenset(initials),
                    frozenset(compact), accented, transliterated, _skeleton(keys))


def _skeleton(keys: list[str]) -> str:
    """The consonants of a name, sorted: what survives a transliteration that leaves out the
    vowels a script does not write (Khmer's inherent vowels), the order of the parts, and
    parts run together or apart."""
    return "".join(sorted(c for k in keys for c in k if c not in _VOWELS))


@lru_cache(maxsize=_CACHED)
def prepare_name(latin: str, native: str | None) -> PreparedName:
    """A person's name in all its forms, ready to compare."""
    forms: list[NameForm] = []
    made = form(latin)
    if made is not None:
        forms.append(made)
    native_key = None
    if native and native.strip():
        if script_of(native) == "latin":
            made = form(native)
        else:
            native_key = "".join(unicodedata.normalize("NFC", native).split()).translate(
                _JOINERS)
            made = form(plain(native), shown=native, transliterated=True)
        if made is not None and all(made.compact != f.compact or made.accented
                                    for f in forms):
            forms.append(made)
    return PreparedName(tuple(forms), native_key)


def _pair(x: Token, y: Token, both_accented: bool) -> int:
    if x.exact == y.exact:
        return EXACT
    if x.plain == y.plain:
        # Both written with their marks and the marks differ: another name (Lân, Lan),
        # or a slip of one mark; not an agreement "once accents are removed".
        return SLIP if both_accented else ACCENTS
    if x.key == y.key:
        return VARIANT
    if min(len(x.plain), len(y.plain)) >= 3 and (
            DamerauLevenshtein.distance(x.plain, y.plain, score_cutoff=1) <= 1
            or DamerauLevenshtein.distance(x.key, y.key, score_cutoff=1) <= 1):
        return SLIP
    return DISAGREE


def _compare_forms(a: NameForm, b: NameForm) -> tuple[int, tuple[str, ...]]:
    both = a.accented and b.accented
    ranked = sorted(((level, i, j) for i, x in enumerate(a.core) for j, y in enumerate(b.core)
                     if (level := _pair(x, y, both)) > DISAGREE), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    levels: list[int] = []
    agreed: list[str] = []
    for level, i, j in ranked:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            levels.append(level)
            agreed.append(a.core[i].key)
    # A name part left over agrees with an initial of the other name (Nguyen T. Lan).
    left_a = [t for i, t in enumerate(a.core) if i not in used_a and t.plain[0] not in b.initials]
    left_b = [t for j, t in enumerate(b.core) if j not in used_b and t.plain[0] not in a.initials]
    absorbed = len(left_a) + len(left_b) < len(a.core) + len(b.core) - 2 * len(levels)
    if left_a and left_b and _joined(left_a) in (_joined(left_b), _joined(left_b[::-1])):
        # Parts run together on one side, apart on the other (Khamsing, Kham Sing).
        levels.append(VARIANT)
        agreed.extend(t.key for t in left_a)
        left_a, left_b = [], []
    if levels and not left_a and not left_b:
        level = min(levels)
        if levels.count(SLIP) > 1:
            return SIMILAR, tuple(agreed)
        if level > VARIANT and (absorbed or a.fillers != b.fillers):
            level = VARIANT  # a middle name dropped or abbreviated
        return level, tuple(agreed)
    if a.compact & b.compact:
        return VARIANT, tuple(t.key for t in a.core)
    if len(left_a) + len(left_b) == 1 and len(levels) >= 2 and min(levels) >= SLIP:
        return min(VARIANT, *levels), tuple(agreed)  # one middle name dropped
    # What is left of both sounds alike (a transliteration, two slips): compared run together.
    if left_a and left_b:
        rest_a = _joined(left_a)
        ways_b = (_joined(left_b), _joined(left_b[::-1]))
        if max((Indel.normalized_similarity(rest_a, rest_b) for rest_b in ways_b
                if rest_a[0] == rest_b[0]), default=0.0) >= SIMILAR_RATIO:
            return SIMILAR, tuple(t.key for t in a.core)
    if (a.transliterated or b.transliterated) and len(a.skeleton) >= 3 and (
            Indel.normalized_similarity(a.skeleton, b.skeleton) >= SIMILAR_RATIO):
        return SIMILAR, tuple(t.key for t in a.core)
    strong = tuple(k for k, level in zip(agreed, levels, strict=True) if level >= SLIP)
    return (PARTIAL, strong) if strong else (DISAGREE, ())


def _joined(tokens: list[Token]) -> str:
    return "".join(t.key for t in tokens)


def compare_names(a: PreparedName, b: PreparedName) -> NameComparison:
    """How two persons' names agree, in the best pair of their forms."""
    if not a.forms or not b.forms:
        return NameComparison(None, (), "", "")
    if a.native is not None and a.native == b.native:
        return NameComparison(EXACT, tuple(t.key for t in a.forms[0].core),
                              a.forms[0].text, b.forms[0].text)
    best: tuple[int, tuple[str, ...], NameForm, NameForm] | None = None
    for x in a.forms:
        for y in b.forms:
            if not x.core or not y.core:
                continue
            level, agreed = _compare_forms(x, y)
            if best is None or level > best[0]:
                best = (level, agreed, x, y)
    if best is None:
        return NameComparison(None, (), a.forms[0].text, b.forms[0].text)
    return NameComparison(best[0], best[1], best[2].text, best[3].text)
