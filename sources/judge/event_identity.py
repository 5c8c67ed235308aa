"""What identifies the event an item reports, and whether two items report the same one. Pure.

Outlets retell one event in their own words ("launch talks", "open negotiations"; "Kaja
Kallas", "the EU's top diplomat"; "€1.213 billion", "€1.2bn"), while an institution drafts
releases about different events on one template ("Belarus: Council prolongs restrictive
measures…", "Iran: Council prolongs restrictive measures…"). Shared wording therefore says
little; what decides is the event's identity: the place it happened to, the sums and counts
involved, the distinctive names. So an item's :class:`Signature` holds

* its words, stemmed (Snowball), from the title (counted twice) and the lede, with the places
  it names added as one token per place (``Chisinau`` and ``Moldova`` are the same token), to
  be weighted by how rare each is in the weeks around the period (TF-IDF);
* the places its headline is about, and the sums of money and counted things it gives.

Two items are compared by the cosine of their weighted words, and kept apart outright when
their identities conflict: different places in the headline, or amounts that cannot be the
same figure rounded. :func:`compare` returns the evidence, so ``communique explain`` can show
why two items were or were not grouped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from weakref import WeakKeyDictionary

import snowballstemmer

from sources.judge.places import Gazetteer, Place, gazetteer
from sources.types import StoredItem

LEDE_CHARS = 600  # the lede tells the event; the rest of an article tells everything else
HEADLINE_CHARS = 200  # an item whose title names no place: the start of its lede does
MAX_FIGURE = 1e24
TITLE_CHARS = 300  # a longer title is no headline: the rest is not read
AMOUNT_TOLERANCE = 0.1  # "€1.2bn" for €1.213 billion: a rounded figure is within 10 %
FIGURE_AGREEMENT = 0.1  # added to the similarity of two items giving the same figure
PLACE_TOKEN = "@"  # prefix of the one token per place in the word vector

_WORD = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
_MULTIPLIERS = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mln": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_CURRENCY_WORDS = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
}
# A number as news writes it: "1,213,000", "1 213 000", "1.213.000", "1.2", "61,5"; never
# starting or ending inside a longer run of digits (which also keeps matching linear).
_NUMBER = (
    r"(?<![\d.,])(\d{1,3}(?:[,\s]\d{3})+(?!\d)|\d{1,3}(?:\.\d{3}){2,}(?!\d)|\d+)(?:[.,](\d+))?"
)
_MULT = r"(?:\s*-?\s*(thousand|millions?|mln|mn|m|billions?|bn|b|trillion|tn)\b)?"
_PREFIXED = re.compile(r"(€|\$|£|\b(?:eur|usd|gbp|us\$)\s?)" + _NUMBER + _MULT, re.IGNORECASE)
_SUFFIXED = re.compile(
    _NUMBER + _MULT + r"\s*(euros?|eur|dollars?|usd|pounds?|gbp)\b", re.IGNORECASE
)
_COUNTED = re.compile(
    r"\b(\d{1,3}(?:,\d{3})*|\d+)\s+(?:more\s+|new\s+|additional\s+|further\s+)?"
    r"(individuals|persons|entities|companies|vessels|ships|tankers|chapters|clusters)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_CURRENCY_WORD = re.compile(r"\b(?:euros?|eur|dollars?|usd|pounds?|gbp)\b", re.IGNORECASE)
# A figure can be a sum only near one of these, a count only before one of those nouns.
_MONEY_CUES = ("€", "$", "£", "eur", "usd", "gbp", "dollar", "pound")
_COUNTED_CUES = (
    "individual", "person", "entit", "compan", "vessel", "ship", "tanker", "chapter", "cluster",
)  # fmt: skip
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "after",
        "over",
        "under",
        "about",
        "against",
        "between",
        "new",
        "also",
        "more",
        "than",
        "who",
        "which",
        "while",
        "would",
        "could",
        "should",
        "may",
        "said",
        "says",
        "say",
        "not",
        "no",
        "but",
        "if",
        "up",
        "out",
        "he",
        "she",
        "they",
        "we",
        "you",
        "our",
        "his",
        "her",
        "de",
        "la",
        "le",
        "les",
        "des",
        "et",
        "du",
        "en",
        "der",
        "die",
        "das",
        "und",
        "von",
        "zu",
        "mit",
    ]
)


@dataclass(frozen=True)
class Amount:
    """A sum of money or a count of things, as the item gives it."""

    unit: str  # EUR, USD, GBP, or the counted noun ("individuals")
    value: float
    text: str


@dataclass(frozen=True)
class Signature:
    """What an item says that identifies its event."""

    words: Mapping[str, int]  # stemmed words and place tokens -> count
    place: frozenset[str]  # the place its headline is about first (the subject of "Iran:
    # Council sanctions … transfers to Russia"), with the country it is part of
    places: frozenset[str]  # every country and territory its headline names, and the
    # countries those are part of (Donbas: Ukraine too), so that they never conflict
    regions: frozenset[str]  # regions its headline is about
    amounts: tuple[Amount, ...]
    mentioned: frozenset[str] = frozenset()  # every place its title and lede name, with the
    # places those are part of: a report that names another's subject anywhere is no conflict


@dataclass(frozen=True)
class Comparison:
    """Two items side by side: how alike, what they share, what keeps them apart."""

    similarity: float
    shared: tuple[tuple[str, float], ...]  # the words that contribute most, with their share
    conflicts: tuple[str, ...]  # human-readable reasons they are two events


_STEMS: dict[str, str] = {}  # a plain dictionary: looked up for every word of every item


def _stem(word: str) -> str:
    stem = _STEMS.get(word)
    if stem is None:
        if len(_STEMS) > 200_000:  # hostile text of endless new words: bounded memory
            _STEMS.clear()
        stem = _STEMS[word] = _STEMMER.stemWord(word)
    return stem


_STEMMER = snowballstemmer.stemmer("english")


def words(text: str) -> list[str]:
    """Content words of ``text``, lower case and stemmed: "negotiations" -> "negoti"."""
    out = []
    stems, stop = _STEMS, STOPWORDS
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.strip("'-")
        if len(word) < 2 or word in stop:
            continue
        if word.endswith("'s"):
            word = word[:-2]
        out.append(stems.get(word) or _stem(word))
    return out


def lede(item: StoredItem) -> str:
    """The start of what the item says beyond its title: its summary, then its text (the
    article page's when it was read: a one-sentence feed item is told by its page)."""
    text = item.article_text  # the article page's, when it was read
    body = item.summary or text
    if text and len(body) < LEDE_CHARS and not text.startswith(body[:80]):
        body = f"{body} {text}"
    return body[:LEDE_CHARS]


@dataclass(frozen=True)
class Reading:
    """An item's text read once: the stemmed words of its title and of its lede (places as
    one token each), and the :class:`Signature` they make."""

    title: Counter[str]
    body: Counter[str]
    signature: Signature


# Each item's reading with the shipped gazetteer, kept while the item itself is: a digest
# reads its items to group them into stories, then again to group the stories into storylines
# (sources.judge.storylines); the second time costs a look-up.
_READINGS: WeakKeyDictionary[StoredItem, Reading] = WeakKeyDictionary()


def read(item: StoredItem, places: Gazetteer | None = None) -> Reading:
    """The :class:`Reading` of one item (its title and lede are each scanned once, and not
    again while the item is held: a reading is a function of the item alone)."""
    shipped = places is None or places is gazetteer()
    if shipped and (known := _READINGS.get(item)) is not None:
        return known
    reading = _read(item, places or gazetteer())
    if shipped:
        _READINGS[item] = reading
    return reading


def _read(item: StoredItem, places: Gazetteer) -> Reading:
    body = lede(item)
    title = item.title[:TITLE_CHARS]
    title_mentions = places.mentions(title)
    title_bag = _bag(title, title_mentions)
    body_bag = _bag(body, places.mentions(body))
    counted = title_bag + title_bag  # the title counts twice: it names the event
    counted.update(body_bag)
    if title_mentions:
        headline = tuple({p.id: p for p, _ in reversed(title_mentions)}.values())[::-1]
    else:
        headline = places.find(body[:HEADLINE_CHARS])
    countries = [p.id for p in headline if not p.region]
    return Reading(
        title=title_bag,
        body=body_bag,
        signature=Signature(
            words=dict(counted),
            place=places.with_parents(frozenset(countries[:1])),
            places=places.with_parents(frozenset(countries)),
            regions=frozenset(p.id for p in headline if p.region),
            amounts=amounts(f"{title} {body}"),
            mentioned=places.with_parents(
                frozenset(w[len(PLACE_TOKEN) :] for w in counted if w.startswith(PLACE_TOKEN))
            ),
        ),
    )


def signature(item: StoredItem, places: Gazetteer | None = None) -> Signature:
    """The :class:`Signature` of one item."""
    return read(item, places).signature


def _bag(text: str, mentions: Iterable[tuple[Place, str]]) -> Counter[str]:
    """Stemmed words, each place named in them (``mentions``, as the gazetteer finds them)
    counted as one place token instead of its words: "Chisinau", "Moldovan" and "Republic
    of Moldova" all count as ``@md``."""
    counted = Counter(words(text))
    for place, name in mentions:
        counted[PLACE_TOKEN + place.id] += 1
        for word in _name_words(name):
            if counted[word] > 0:
                counted[word] -= 1
    return +counted  # without the words that were only place names


@lru_cache(maxsize=4096)
def _name_words(name: str) -> tuple[str, ...]:
    """The stemmed words of a place name (the gazetteer's few thousand, read once each)."""
    return tuple(words(name))


def amounts(text: str) -> tuple[Amount, ...]:
    """Sums of money ("€1.2bn", "40 million euros") and counts ("12 individuals") in ``text``."""
    if not _DIGIT.search(text):  # most ledes give no figure: no pattern need be tried
        return ()
    lowered = text.lower()
    prefixed = any(cue in lowered for cue in _MONEY_CUES)
    suffixed = prefixed and _CURRENCY_WORD.search(text) is not None
    counted = any(cue in lowered for cue in _COUNTED_CUES)
    found = []
    for match in _PREFIXED.finditer(text) if prefixed else ():
        unit = _CURRENCY_WORDS[match.group(1).strip().lower()]
        found.append(
            Amount(unit, _value(match.group(2), match.group(3), match.group(4)), match.group(0))
        )
    for match in _SUFFIXED.finditer(text) if suffixed else ():
        unit = _CURRENCY_WORDS[match.group(4).lower()]
        found.append(
            Amount(unit, _value(match.group(1), match.group(2), match.group(3)), match.group(0))
        )
    for match in _COUNTED.finditer(text) if counted else ():
        value = float(match.group(1).replace(",", ""))
        found.append(Amount(match.group(2).lower(), value, match.group(0)))
    # A figure beyond a trillion trillions is no event's; it would only make the comparison
    # meaningless (inf - inf).
    return tuple(a for a in found if a.value < MAX_FIGURE)


def _value(whole: str, fraction: str | None, multiplier: str | None) -> float:
    number = float(re.sub(r"[,.\s]", "", whole) + (f".{fraction}" if fraction else ""))
    return number * _MULTIPLIERS.get((multiplier or "").lower(), 1.0)


def weights(
    signatures: Sequence[Signature], background: Iterable[Signature] = ()
) -> tuple[list[dict[str, float]], Mapping[str, float]]:
    """Unit TF-IDF vectors of ``signatures`` and the IDF they used.

    Document frequencies count ``signatures`` and ``background`` (the weeks around the
    period), so that in a week of Ukraine news "ukrain" weighs little and "moldova" much.
    """
    frequency: Counter[str] = Counter()
    count = 0
    for sig in (*signatures, *background):
        frequency.update(sig.words.keys())
        count += 1
    idf = {w: math.log((1 + count) / (1 + n)) + 1.0 for w, n in frequency.items()}
    return [vector(sig, idf) for sig in signatures], idf


def vector(sig: Signature, idf: Mapping[str, float]) -> dict[str, float]:
    """The unit TF-IDF vector of one signature."""
    top = max(idf.values(), default=1.0)
    raw = {w: (1 + math.log(n)) * idf.get(w, top) for w, n in sig.words.items()}
    norm = math.sqrt(sum(v * v for v in raw.values())) or 1.0
    return {w: v / norm for w, v in raw.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two unit vectors. The words both have are found by a set
    intersection (in C): two items share a few of their dozens of words, and the digest
    compares tens of thousands of pairs. A set's order changes from one process to the next
    (string hashing), so the products are added exactly (``fsum``), never in that order:
    the same items give the same similarity, to the last bit, and so the same stories."""
    return math.fsum(a[word] * b[word] for word in a.keys() & b.keys())


def conflicts(a: Signature, b: Signature) -> tuple[str, ...]:
    """Why ``a`` and ``b`` cannot be one event, however alike their words."""
    return tuple(_reason(kind, a, b) for kind in _conflicts(a, b))


def conflicting(a: Signature, b: Signature) -> bool:
    """Whether ``a`` and ``b`` cannot be one event (:func:`conflicts`, without the words:
    asked for every item against the stories it could join)."""
    return next(_conflicts(a, b), None) is not None


def _conflicts(a: Signature, b: Signature) -> Iterator[str]:
    """The kinds of conflict between ``a`` and ``b``: ``place``, ``region``, ``figure:UNIT``."""
    if not ((a.place and b.place) or (a.regions and b.regions) or (a.amounts and b.amounts)):
        return  # nothing that could conflict (most pairs)
    if a.place and b.place and not (a.place & b.places or b.place & a.places):
        yield "place"
    elif (
        not (a.place and b.place)
        and a.regions
        and b.regions
        and not a.regions & b.regions
        and not (a.place & b.mentioned or b.place & a.mentioned)
    ):
        yield "region"
    units = {x.unit for x in a.amounts} & {x.unit for x in b.amounts}
    for unit in sorted(units):
        if not any(
            _same_figure(x.value, y.value)
            for x in a.amounts
            if x.unit == unit
            for y in b.amounts
            if y.unit == unit
        ):
            yield f"figure:{unit}"


def _reason(kind: str, a: Signature, b: Signature) -> str:
    if kind == "place":
        return f"different places: {_names(a.place)} / {_names(b.place)}"
    if kind == "region":
        return f"different regions: {_names(a.regions)} / {_names(b.regions)}"
    unit = kind.removeprefix("figure:")
    mine = ", ".join(x.text for x in a.amounts if x.unit == unit)
    theirs = ", ".join(y.text for y in b.amounts if y.unit == unit)
    return f"different figures: {mine} / {theirs}"


def agreement(a: Signature, b: Signature) -> float:
    """Extra similarity when both give the same figure (€61.5 million and "about €60m"):
    a sum or a count is the most specific thing two reports of one event share, and
    outlets round it, so its words rarely match."""
    for x in a.amounts:
        for y in b.amounts:
            if x.unit == y.unit and _same_figure(x.value, y.value):
                return FIGURE_AGREEMENT
    return 0.0


def _names(place_ids: frozenset[str]) -> str:
    return ", ".join(sorted(place_ids))


def _same_figure(x: float, y: float) -> bool:
    larger = abs(x) if abs(x) > abs(y) else abs(y)  # not max(): asked for many pairs
    return abs(x - y) <= AMOUNT_TOLERANCE * larger


def compare(
    a: Signature, b: Signature, va: Mapping[str, float], vb: Mapping[str, float], *, top: int = 8
) -> Comparison:
    """The evidence for and against ``a`` and ``b`` being one event."""
    shares = sorted(
        ((w, va[w] * vb[w]) for w in va.keys() & vb.keys()), key=lambda kv: (-kv[1], kv[0])
    )
    return Comparison(
        similarity=math.fsum(s for _, s in shares) + agreement(a, b),  # as cosine() adds
        shared=tuple(shares[:top]),
        conflicts=conflicts(a, b),
    )
