"""How likely two items, or an item and a story, tell one event: a learned model. Pure.

Hand-set thresholds on one similarity could not tell real retellings from different events:
outlets share a country and little else ("Ukraine Gets an Encouraging Sign in Its Bid to
Join the E.U." / "Commission recommends opening membership talks"), while one outlet's
stories of one day share its house style. So each pair of items is described by several
pieces of evidence (:data:`PAIR_FEATURES`): how alike their titles, ledes, titles against
ledes and article pages are (stemmed, TF-IDF-weighted words); how many rare names they share
(places, and capitalised names of people and organisations, also by their letters, for names
spelt two ways); whether their headlines are about the same place and give the same figure;
how far apart they were published; whether one outlet wrote both. A logistic regression
learned on labelled real days (``bench/train_stories.py``, which regenerates
``sources/judge/pair-model.json`` from the corpus) weighs them into the probability that the two
report one event.

An item is then compared with a whole story (:func:`join_features`): a story that grows
gathers each outlet's wording, so its members' summed words, its best and average pair
probabilities and its names say more than any one member. A second regression decides
whether the item joins the story (:mod:`sources.stories`).

Everything here is a function of the items, their period and the model file: the same
items give the same probabilities on every run and under every hash seed (sums are exact,
orders sorted).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from sources.judge.event_identity import (
    PLACE_TOKEN,
    Reading,
    Signature,
    agreement,
    cosine,
    lede,
    read,
    words,
)
from sources.judge.places import gazetteer
from sources.types import StoredItem

PAGE_CHARS = 2000
LOG_ODDS_CAP = 10.0  # the start of an article page: its event, not everything else
NAME_GRAM = 4  # names compared by their letters too: "Zelensky" and "Zelenskyy"
_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w'’.-]*[\w]|\b[A-Z]{2,}\b")
# A headline that looks ahead: "EU summit to offer…", "…ahead of talks", "Leaders weigh…"
_PREVIEW = re.compile(
    r"\b(?:will|would|set to|expected|poised|ahead of|prepares?|readies|ready to|gather(?:s|ing)?"
    r"|weighs?|weighing|could|may|might|plans? to|looming|preview|what to (?:watch|expect)"
    r"|on the (?:menu|agenda)|eyes|seeks?|considers?|considering|mulls?|to (?:offer|launch|meet"
    r"|announce|decide|vote|start|open|hold|approve|adopt|unveil|sign|discuss|debate|back))\b",
    re.IGNORECASE,
)
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "of",
        "for",
        "to",
        "and",
        "but",
        "as",
        "by",
        "with",
        "from",
        "after",
        "over",
        "under",
        "new",
        "how",
        "why",
        "what",
        "who",
        "when",
        "where",
        "is",
        "are",
        "was",
        "were",
        "will",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "my",
        "us",
        "live",
        "watch",
        "video",
        "opinion",
        "analysis",
        "exclusive",
        "breaking",
        "update",
        "updates",
        "latest",
        "news",
        "report",
        "reports",
        "today",
        "yesterday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "mr",
        "mrs",
        "ms",
        "dr",
    ]
)

PAIR_FEATURES = (
    "cos_all",  # title (twice) and lede, as one TF-IDF vector
    "cos_title",  # title against title
    "cos_cross",  # the better of title against the other's lede
    "cos_lede",  # lede against lede
    "cos_page",  # article page against article page (0 when one has none)
    "both_pages",  # both have an article page
    "names",  # IDF-weighted share of the names both use (places, people, organisations)
    "name_letters",  # share of the letter 4-grams of their names
    "same_place",  # their headlines are about one place
    "figure",  # they give the same sum or count
    "hours",  # log(1 + hours between them)
    "same_source",  # one outlet wrote both
    "title_x_source",  # title likeness when one outlet wrote both (house style)
    "preview_apart",  # one headline looks ahead ("to offer", "ahead of"), the other not
)
JOIN_FEATURES = (
    "best",  # the log-odds of the best pair probability of the item with a member
    "mean",  # the average log-odds over the members
    "worst",  # the log-odds of the least alike member (a chain A~B~C is not one event)
    "cos_story",  # the item's words against the story's summed words
    "cos_story_title",  # its title against the story's summed titles
    "names_story",  # IDF-weighted share of its names the story uses
    "size",  # log(1 + members)
    "hours",  # log(1 + hours since the story's latest item)
    "own_share",  # the share of the members its own outlet wrote
    "preview_apart",  # how far its looking ahead (or not) differs from the members'
)


class Profile:
    """What one item's event can be recognised by, weighted for its period.

    What every item needs (its summed words, for finding candidates; its names and time, for
    every story it is weighed against) is made at once; what only a compared pair needs (its
    title, lede and page vectors, the letters of its names) is made when first asked for: in
    a busy window most items are compared with few others, or none."""

    __slots__ = (
        "_idf", "_lede", "_letters", "_page", "_rarest", "_text", "_title",
        "all", "hour", "item", "name_norm", "names", "preview", "signature",
    )  # fmt: skip

    def __init__(
        self, item: StoredItem, text: _Text, idf: Mapping[str, float], rarest: float,
        name_idf: Mapping[str, float],
    ) -> None:  # fmt: skip
        self.item, self._text, self._idf, self._rarest = item, text, idf, rarest
        self.signature: Signature = text.reading.signature
        self.all: Mapping[str, float] = _unit(self.signature.words, idf, rarest)
        self.names: Mapping[str, float] = {n: name_idf[n] for n in text.names}  # name -> IDF
        self.name_norm = math.fsum(self.names.values())
        self.hour = item.published_at.timestamp() / 3600  # hours since the epoch
        self.preview = bool(_PREVIEW.search(item.title))  # a preview is not the outcome
        self._title: Mapping[str, float] | None = None
        self._lede: Mapping[str, float] | None = None
        self._page: Mapping[str, float] | None = None
        self._letters: frozenset[str] | None = None

    @property
    def title(self) -> Mapping[str, float]:
        if self._title is None:
            self._title = _unit(self._text.reading.title, self._idf, self._rarest)
        return self._title

    @property
    def lede(self) -> Mapping[str, float]:
        if self._lede is None:
            self._lede = _unit(self._text.reading.body, self._idf, self._rarest)
        return self._lede

    @property
    def page(self) -> Mapping[str, float]:
        if self._page is None:
            self._page = _unit(self._text.page, self._idf, self._rarest)
        return self._page

    @property
    def letters(self) -> frozenset[str]:
        if self._letters is None:
            self._letters = _letters(self._text.names)
        return self._letters


def names_of(text: str, places: Iterable[str] = ()) -> set[str]:
    """The names ``text`` uses: its ``places`` (place tokens, one per place however named)
    and capitalised words that are not sentence furniture ("Orbán", "NATO", "Kallas")."""
    found = set(places)
    for match in _NAME.finditer(text):
        word = match.group(0).strip(".'’-").lower()
        if len(word) >= 3 and word not in _NOT_NAMES:
            found.add(word)
    return found


def profiles(items: Sequence[StoredItem], background: Sequence[StoredItem] = ()) -> list[Profile]:
    """The profiles of ``items``; word and name rarity counts ``background`` too (the weeks
    around the period: in a week of Ukraine news "ukrain" says little, "moldova" much)."""
    ids = {item.id for item in items}
    extra = [b for b in background if b.id not in ids]
    raw = _texts([*items, *extra])  # the background's count for rarity only
    documents: Counter[str] = Counter()
    name_documents: Counter[str] = Counter()
    for text in raw:
        documents.update(text.reading.signature.words.keys())
        name_documents.update(text.names)
    raw = raw[: len(items)]
    count = len(raw) + len(extra)
    idf = {w: math.log((1 + count) / (1 + n)) + 1.0 for w, n in documents.items()}
    name_idf = {w: math.log((1 + count) / (1 + n)) + 1.0 for w, n in name_documents.items()}
    rarest = max(idf.values(), default=1.0)  # a page's word no title or lede used
    return [
        Profile(item, text, idf, rarest, name_idf) for item, text in zip(items, raw, strict=True)
    ]


@dataclass(frozen=True)
class _Text:
    """What an item's text gives before its period is known: its words and names."""

    reading: Reading
    page: Counter[str]
    names: frozenset[str]


def _texts(items: Sequence[StoredItem]) -> list[_Text]:
    """Every item's :class:`_Text`: the costly part of a profile (stemming, place names,
    figures), done once per item. (Reading in two processes was measured and gave back no
    time: the readings cost as much to send back as to make.)"""
    places = gazetteer()
    out = []
    for item in items:
        reading = read(item, places)
        names = frozenset(_names(item, reading.signature))
        page = Counter(words(item.page_text[:PAGE_CHARS])) if item.page_text else Counter()
        out.append(_Text(reading, page, names))
    return out


def _names(item: StoredItem, sig: Signature) -> set[str]:
    places = (w for w in sig.words if w.startswith(PLACE_TOKEN))
    return names_of(f"{item.title} {lede(item)}", places)


def _unit(counts: Mapping[str, int], idf: Mapping[str, float], rarest: float) -> dict[str, float]:
    raw = {w: (1 + math.log(n)) * idf.get(w, rarest) for w, n in counts.items() if n > 0}
    norm = math.sqrt(math.fsum(v * v for v in raw.values())) or 1.0
    return {w: v / norm for w, v in raw.items()}


def _letters(names: Iterable[str]) -> frozenset[str]:
    grams = set()
    for name in names:
        if name.startswith(PLACE_TOKEN):
            continue
        padded = f" {name} "
        grams.update(padded[i : i + NAME_GRAM] for i in range(len(padded) - NAME_GRAM + 1))
    return frozenset(grams)


def _shared_names(
    a: Mapping[str, float], b: Mapping[str, float], a_norm: float, b_norm: float
) -> float:
    """The IDF-weighted Jaccard share of two sets of names."""
    shared = math.fsum(a[n] for n in a.keys() & b.keys())
    union = a_norm + b_norm - shared
    return shared / union if union > 0 else 0.0


def pair_features(a: Profile, b: Profile) -> tuple[float, ...]:
    """The evidence that ``a`` and ``b`` report one event, in :data:`PAIR_FEATURES` order."""
    both_pages = bool(a.item.page_text) and bool(b.item.page_text)
    same_source = a.item.source_url == b.item.source_url
    title = cosine(a.title, b.title)
    letters = len(a.letters & b.letters) / (len(a.letters | b.letters) or 1)
    sa, sb = a.signature, b.signature
    return (
        cosine(a.all, b.all),
        title,
        max(cosine(a.title, b.lede), cosine(a.lede, b.title)),
        cosine(a.lede, b.lede),
        cosine(a.page, b.page) if both_pages else 0.0,
        1.0 if both_pages else 0.0,
        _shared_names(a.names, b.names, a.name_norm, b.name_norm),
        letters,
        1.0 if sa.place and sb.place and (sa.place & sb.places or sb.place & sa.places) else 0.0,
        1.0 if agreement(sa, sb) else 0.0,
        math.log1p(abs(a.hour - b.hour)),
        1.0 if same_source else 0.0,
        title if same_source else 0.0,
        1.0 if a.preview != b.preview else 0.0,
    )


@dataclass
class StoryState:
    """A story being built: its members' profiles and what they add up to (the summed
    titles only when an item is weighed against the story: most stories never are)."""

    members: list[int] = field(default_factory=list)  # indexes into the profiles
    words: dict[str, float] = field(default_factory=dict)  # summed unit vectors
    names: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    latest: float = float("-inf")
    previews: int = 0  # members whose headline looks ahead
    _profiles: list[Profile] = field(default_factory=list)
    _titles: dict[str, float] | None = None

    def add(self, index: int, profile: Profile) -> None:
        self.members.append(index)
        self._profiles.append(profile)
        _add_to(self.words, profile.all)
        if self._titles is not None:
            _add_to(self._titles, profile.title)
        self.names.update(profile.names.keys())
        self.sources[profile.item.source_url] += 1
        self.latest = max(self.latest, profile.hour)
        self.previews += profile.preview

    @property
    def titles(self) -> dict[str, float]:
        """The members' title vectors summed."""
        if self._titles is None:
            self._titles = {}
            for member in self._profiles:
                _add_to(self._titles, member.title)
        return self._titles


def _add_to(total: dict[str, float], vector: Mapping[str, float]) -> None:
    for word, weight in vector.items():
        total[word] = total.get(word, 0.0) + weight


def looks_apart(profile: Profile, story: StoryState) -> bool:
    """Whether the item looks ahead to an event the story reports as done, or the other way
    round: a summit's previews and its outcome are two stories, however alike their words."""
    size = len(story.members)
    return bool(size) and abs(profile.preview - story.previews / size) > 0.5


def join_features(
    profile: Profile, story: StoryState, pair_probabilities: Sequence[float]
) -> tuple[float, ...]:
    """The evidence that ``profile``'s item belongs to ``story``, in :data:`JOIN_FEATURES`
    order. ``pair_probabilities``: the item against each member."""
    named = [n for n in profile.names if story.names[n]]
    share = (
        math.fsum(profile.names[n] for n in named) / profile.name_norm if profile.name_norm else 0.0
    )
    size = len(story.members)
    odds = [_log_odds(p) for p in pair_probabilities]
    return (
        max(odds, default=-LOG_ODDS_CAP),
        math.fsum(odds) / len(odds) if odds else -LOG_ODDS_CAP,
        min(odds, default=-LOG_ODDS_CAP),
        _cosine_to_sum(profile.all, story.words),
        _cosine_to_sum(profile.title, story.titles),
        share,
        math.log1p(size),
        math.log1p(max(0.0, profile.hour - story.latest)),
        story.sources[profile.item.source_url] / size if size else 0.0,
        abs(profile.preview - story.previews / size) if size else 0.0,
    )


def _log_odds(p: float) -> float:
    """log(p / (1 - p)), within ±:data:`LOG_ODDS_CAP`: probabilities near 0 and 1 are where
    evidence adds up, and on this scale a linear model can add it."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return max(-LOG_ODDS_CAP, min(LOG_ODDS_CAP, math.log(p / (1 - p))))


def _cosine_to_sum(unit: Mapping[str, float], summed: Mapping[str, float]) -> float:
    norm = math.sqrt(math.fsum(v * v for v in summed.values()))
    if not norm:
        return 0.0
    return math.fsum(unit[w] * summed[w] for w in sorted(unit.keys() & summed.keys())) / norm


@dataclass(frozen=True)
class Regression:
    """A logistic regression as trained: standardised features, weights, a threshold."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, values: Sequence[float]) -> float:
        """P(same event) for one row of features."""
        z = self.intercept + math.fsum(
            w * (v - m) / s
            for w, v, m, s in zip(self.weights, values, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def contributions(self, values: Sequence[float]) -> tuple[tuple[str, float, float], ...]:
        """Each feature's value and what it adds to the log-odds (``communique explain``)."""
        return tuple(
            (name, v, w * (v - m) / s)
            for name, w, v, m, s in zip(
                self.features, self.weights, values, self.mean, self.scale, strict=True
            )
        )

    @classmethod
    def from_data(cls, data: Mapping[str, object], names: Sequence[str]) -> Regression:
        features = tuple(data["features"])  # type: ignore[arg-type]
        if features != tuple(names):
            raise ValueError(f"the model's features {features} are not {tuple(names)}")
        return cls(
            features=features,
            mean=tuple(data["mean"]),  # type: ignore[arg-type]
            scale=tuple(data["scale"]),  # type: ignore[arg-type]
            weights=tuple(data["weights"]),  # type: ignore[arg-type]
            intercept=float(data["intercept"]),  # type: ignore[arg-type]
            threshold=float(data["threshold"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class StoryModel:
    """The two decisions: are two items one event; does an item join a story."""

    pair: Regression
    join: Regression
    trained_on: tuple[str, ...]


def model_from_json(text: str) -> StoryModel:
    data = json.loads(text)
    return StoryModel(
        pair=Regression.from_data(data["pair"], PAIR_FEATURES),
        join=Regression.from_data(data["join"], JOIN_FEATURES),
        trained_on=tuple(data.get("trained_on", ())),
    )


@cache
def story_model() -> StoryModel:
    """The shipped model (``sources/judge/pair-model.json``, read once per process)."""
    return model_from_json(files("sources.judge").joinpath("pair-model.json").read_text("utf-8"))
