"""Is an item about EU foreign policy, and which topics? Topics are data (``topics.toml``). Pure.

General news feeds carry sport and domestic politics; official EU sources carry nothing
else. So an item from a source marked wholly on-topic is always kept, and every other item
is kept only if it mentions the EU itself (an *anchor* term: the EU, its institutions, its
missions and instruments, its office-holders by office or name) in its title or lede, and
its best topic scores at least the threshold. An item is about what its title and lede are
about: an EU mention far down a long text does not count, and a newsletter, live blog or
roundup (a *roundup* phrase in its title or lede) that lists the EU among ten other things
is judged on its title alone. A headline in which the EU acts with a country outside it
("EU and Madagascar sign...", "Colombia votes under the gaze of EU observers") is external
action even when no topic term names what the EU does: the partner country adds to the score.
Scores are explainable: every match records its term, weight and field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from sources.judge.phrases import PhraseIndex, phrase_tokens
from sources.judge.places import Gazetteer, gazetteer
from sources.types import Match, Relevance

TEXT_CHARS = 1200  # where topic terms count: long articles mention everything somewhere
LEDE_CHARS = 400  # where the EU must be named: the summary's and the text's first sentences
TITLE_FACTOR = 2.0
TITLE_END = "$"  # a roundup phrase ending in " $" matches only at the end of a title
OTHER_TOPIC = "other"
OTHER_NAME = "Other EU external action"


@dataclass(frozen=True)
class Topic:
    """One topic: weighted terms and phrases, and phrases that cancel it."""

    id: str
    name: str
    order: int
    terms: Mapping[str, float]
    exclude: tuple[str, ...] = ()


class Taxonomy:
    """Compiled topics: one phrase index for all terms, one for anchors, one for exclusions."""

    def __init__(
        self,
        topics: list[Topic],
        *,
        threshold: float,
        anchor: list[str],
        exclude: list[str],
        not_anchor: list[str] = (),  # type: ignore[assignment]
        roundup: list[str] = (),  # type: ignore[assignment]
        roundup_lede: list[str] = (),  # type: ignore[assignment]
        partner_weight: float = 0.0,
        members: frozenset[str] = frozenset(),
        places: Gazetteer | None = None,
        weak_anchor: list[str] = (),  # type: ignore[assignment]
        place_names: frozenset[str] | None = None,
    ) -> None:
        self.topics = sorted(topics, key=lambda t: (t.order, t.id))
        self.threshold = threshold
        self.by_id = {t.id: t for t in self.topics}
        self._owners: dict[str, list[tuple[str, float]]] = {}
        for topic in self.topics:
            for term, weight in topic.terms.items():
                self._owners.setdefault(term, []).append((topic.id, float(weight)))
        self._terms = PhraseIndex(list(self._owners))
        self._anchors = PhraseIndex(list(anchor))
        self._not_anchors = PhraseIndex(list(not_anchor))
        self._exclude = PhraseIndex(list(exclude))
        self._roundup = PhraseIndex(list(roundup))
        self._roundup_lede = PhraseIndex(list(roundup_lede))
        self.partner_weight = partner_weight
        self._members = members
        self._places = places if partner_weight else None
        self._weak_anchors = frozenset(weak_anchor)
        self._place_terms = frozenset(
            term
            for term in self._owners
            if " ".join(phrase_tokens(term.rstrip("*"))) in (place_names or frozenset())
        )
        self._topic_exclude = {t.id: PhraseIndex(list(t.exclude)) for t in self.topics if t.exclude}

    def name(self, topic_id: str) -> str:
        """The display name of a topic id."""
        return self.by_id[topic_id].name if topic_id in self.by_id else OTHER_NAME

    def order(self, topic_id: str) -> tuple[int, str]:
        """Sort key: the taxonomy's order, "other" last."""
        topic = self.by_id.get(topic_id)
        return (topic.order, topic.id) if topic else (10**6, topic_id)

    def score(
        self, title: str, summary: str, text: str, *, on_topic: bool = False, explain: bool = True
    ) -> Relevance:
        """Score one item. ``on_topic``: its source is wholly about EU foreign policy.

        ``explain=False`` leaves out what only explains the verdict (the matches, every
        topic's score, the EU mentions past the lede): the aggregate run stores the score,
        the verdict and the topics, and computing the rest for every item costs a third of
        scoring. Score, verdict and topics are the same either way.
        """
        summary_tokens = phrase_tokens(summary)
        fields = {
            "title": phrase_tokens(title),
            "summary": summary_tokens,
            # the text of an item without content is its summary: tokenised once
            "text": summary_tokens
            if text == summary and len(text) <= TEXT_CHARS
            else phrase_tokens(text[:TEXT_CHARS]),
        }
        joined = [*fields["title"], "\n", *fields["summary"], "\n", *fields["text"]]
        excluded_matches = self._exclude.find(joined)
        excluded = (
            " ".join(joined[excluded_matches[0][0] : excluded_matches[0][1]])
            if excluded_matches
            else None
        )
        found: dict[str, tuple[float, str]] = {}  # term -> (factor, where)
        for where, tokens in fields.items():
            if where == "text" and tokens is summary_tokens:
                continue  # the summary's terms, already found there (and found there first)
            factor = TITLE_FACTOR if where == "title" else 1.0
            for _, _, term in self._terms.find(tokens):
                if term not in found or factor > found[term][0]:
                    found[term] = (factor, where)
        scores: dict[str, float] = {}
        title_scores: dict[str, float] = {}
        matches = []
        for term, (factor, where) in found.items():
            for topic_id, weight in self._owners[term]:
                scores[topic_id] = scores.get(topic_id, 0.0) + weight * factor
                if where == "title":
                    title_scores[topic_id] = title_scores.get(topic_id, 0.0) + weight * factor
                if explain:
                    matches.append(Match(topic_id, term, weight, where))
        for topic_id, phrases in self._topic_exclude.items():
            if topic_id in scores and phrases.find(joined):
                del scores[topic_id]
                title_scores.pop(topic_id, None)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self.order(kv[0])))
        best = ranked[0][1] if ranked else 0.0
        total = best + 0.25 * sum(value for _, value in ranked[1:])

        below_title = [  # a short summary or text is its own lede: not tokenised again
            *(
                fields["summary"]
                if len(summary) <= LEDE_CHARS
                else phrase_tokens(summary[:LEDE_CHARS])
            ),
            "\n",
            *(fields["text"] if len(text) <= LEDE_CHARS else phrase_tokens(text[:LEDE_CHARS])),
        ]
        # no phrase spans the "\n" between fields: the title's anchors are those found in it
        spans = self._anchor_spans([*fields["title"], "\n", *below_title])
        anchors = tuple(sorted({phrase for _, phrase in spans}))
        title_length = len(fields["title"])
        title_anchors = tuple(sorted({phrase for start, phrase in spans if start < title_length}))
        distant = tuple(sorted(set(self._anchors_in(joined)) - set(anchors))) if explain else ()
        roundup_found = self._roundup.find([*fields["title"], TITLE_END]) or (
            self._roundup_lede.find(below_title)
        )
        roundup = roundup_found[0][2] if roundup_found else None
        partners: tuple[str, ...] = ()
        if self._places is not None and set(title_anchors) - self._weak_anchors:
            partners = tuple(
                place.name
                for place in self._places.find(title)
                if not place.region and place.id not in self._members
            )
        partner_score = self.partner_weight * TITLE_FACTOR if partners else 0.0

        # what the item says happened, beyond where: the place names' weight left out
        substance = sum(
            max(w for _, w in self._owners[term]) * factor
            for term, (factor, _) in found.items()
            if term not in self._place_terms
        )
        if roundup:
            # a roundup is about what its title says, not about the ten things it lists
            title_best = max(title_scores.values(), default=0.0)
            about_eu = bool(title_anchors) and title_best + partner_score >= self.threshold
        elif title_anchors:
            about_eu = best + partner_score >= self.threshold
        else:
            # the EU named only below the title: news from a place that mentions the EU in
            # passing ("Japan's new leader will meet EU envoys") is not the EU acting
            about_eu = bool(anchors) and best >= self.threshold and substance >= self.threshold
        relevant = excluded is None and (on_topic or about_eu)
        topics = tuple(t for t, value in ranked if value >= max(self.threshold / 2, best / 2))
        if relevant and not topics:
            topics = (OTHER_TOPIC,)
        return Relevance(
            score=round(total + partner_score, 2),
            relevant=relevant,
            topics=topics if relevant else (),
            topic_scores=dict(ranked) if explain else {},
            matches=tuple(sorted(matches, key=lambda m: (m.topic, -m.weight, m.term))),
            anchors=anchors,
            excluded_by=excluded,
            on_topic_source=on_topic,
            roundup=roundup,
            partners=partners,
            partner_score=partner_score,
            substance=substance,
            distant_anchors=distant,
        )

    def _anchors_in(self, tokens: list[str]) -> tuple[str, ...]:
        """The EU's names in ``tokens``, except inside phrases that are not the EU."""
        return tuple(sorted({phrase for _, phrase in self._anchor_spans(tokens)}))

    def _anchor_spans(self, tokens: list[str]) -> list[tuple[int, str]]:
        """``(start, phrase)`` of the EU's names in ``tokens``, as :meth:`_anchors_in`."""
        found = self._anchors.find(tokens)
        if not found:
            return []
        # "Security Council" or "city council" is not the EU: those phrases never anchor
        covered = {i for start, end, _ in self._not_anchors.find(tokens) for i in range(start, end)}
        return [(start, phrase) for start, _, phrase in found if start not in covered]


def default_taxonomy_data() -> dict[str, Any]:
    """The shipped ``topics.toml``, parsed."""
    return tomllib.loads(files("sources.judge").joinpath("topics.toml").read_text(encoding="utf-8"))


def build_taxonomy(config: Mapping[str, Any] | None = None) -> Taxonomy:
    """The default taxonomy, extended or replaced by ``communique.toml``'s tables.

    ``config`` holds the config file's ``topics`` and ``relevance`` tables. A topic with a
    known id adds or overrides terms and exclusions; a new id adds a topic;
    ``[relevance] replace = true`` starts from nothing instead of the default.
    ValueError says what is wrong.
    """
    config = config or {}
    settings = dict(config.get("relevance", {}))
    if not isinstance(settings.get("replace", False), bool):
        raise ValueError("[relevance] replace must be true or false")
    for key in (
        "anchor",
        "exclude",
        "not_anchor",
        "roundup",
        "roundup_lede",
        "members",
        "weak_anchor",
    ):
        if key in settings and not _strings(settings[key]):
            raise ValueError(f"[relevance] {key} must be a list of phrases in quotes")
    base = {} if settings.get("replace") else default_taxonomy_data()
    merged_relevance = {
        **base.get("relevance", {}),
        **{k: v for k, v in settings.items() if k != "replace"},
    }
    topics_data: dict[str, dict[str, Any]] = {
        key: {**value, "terms": dict(value.get("terms", {}))}
        for key, value in base.get("topics", {}).items()
    }
    for topic_id, value in config.get("topics", {}).items():
        if not isinstance(value, dict):
            raise ValueError(f"[topics.{topic_id}] must be a table")
        terms = value.get("terms", {})
        if not isinstance(terms, dict):
            raise ValueError(f"[topics.{topic_id}.terms] must map terms to numbers")
        if "order" in value and (
            not isinstance(value["order"], int) or isinstance(value["order"], bool)
        ):
            raise ValueError(f"[topics.{topic_id}] order must be a whole number")
        if "exclude" in value and not _strings(value["exclude"]):
            raise ValueError(f"[topics.{topic_id}] exclude must be a list of phrases in quotes")
        current = topics_data.setdefault(topic_id, {"name": topic_id, "terms": {}})
        current["terms"].update(terms)
        for key in ("name", "order", "exclude"):
            if key in value:
                current[key] = value[key]
    topics = []
    for position, (topic_id, value) in enumerate(topics_data.items()):
        terms = value.get("terms", {})
        if not isinstance(terms, dict) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) for w in terms.values()
        ):
            raise ValueError(f"[topics.{topic_id}.terms] must map terms to numbers")
        topics.append(
            Topic(
                id=topic_id,
                name=str(value.get("name", topic_id)),
                order=int(value.get("order", 100 + position)),
                terms={str(t).lower(): float(w) for t, w in terms.items()},
                exclude=tuple(str(x).lower() for x in value.get("exclude", [])),
            )
        )
    threshold = merged_relevance.get("threshold", 4.0)
    if not isinstance(threshold, int | float) or threshold <= 0:
        raise ValueError("[relevance] threshold must be a number above zero")
    partner_weight = merged_relevance.get("partner_weight", 0.0)
    if (
        isinstance(partner_weight, bool)
        or not isinstance(partner_weight, int | float)
        or partner_weight < 0
    ):
        raise ValueError("[relevance] partner_weight must be a number, zero or above")
    return Taxonomy(
        topics,
        threshold=float(threshold),
        anchor=[str(a).lower() for a in merged_relevance.get("anchor", [])],
        exclude=[str(x).lower() for x in merged_relevance.get("exclude", [])],
        not_anchor=[str(x).lower() for x in merged_relevance.get("not_anchor", [])],
        roundup=[str(x).lower() for x in merged_relevance.get("roundup", [])],
        roundup_lede=[str(x).lower() for x in merged_relevance.get("roundup_lede", [])],
        partner_weight=float(partner_weight),
        members=frozenset(str(x).lower() for x in merged_relevance.get("members", [])),
        places=gazetteer() if partner_weight else None,
        place_names=gazetteer().names,
        weak_anchor=[str(x).lower() for x in merged_relevance.get("weak_anchor", [])],
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
