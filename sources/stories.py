"""Items from different sources about the same event -> one story. Pure and deterministic.

Whether two items tell one event is decided by :mod:`sources.event_identity`: the cosine of
their stemmed, IDF-weighted words (title twice, lede, one token per place named), unless
their identities conflict (different places in the headline, different sums or counts). Two
items sharing a normalised link are one story outright.

Stories are built by **average linkage**: candidate pairs are merged best first, and two
groups become one only when the *average* similarity over every pair across them reaches the
threshold, no pair across them conflicts, and the whole story fits in the window (72 h). So a
chain A~B~C where A and C are unlike does not make one story, as single-link grouping did.
Two items of one source join on their own only when nearly identical (an institution
publishes many releases on one template); an outlet's report and its analysis or live blog of
one event, less alike, join only within a story that other outlets' reports hold together.

Candidates come from an index of each item's most distinctive words (blocking), not from
every pair, so 20,000 items in one window cost seconds, not the square of their number.

A story's headline is its best item: an official source first, then the earliest.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sources.event_identity import (
    Comparison,
    Signature,
    agreement,
    compare,
    conflicts,
    cosine,
    signature,
    weights,
)
from sources.store import StoredItem

SIMILARITY_THRESHOLD = 0.30  # a pair this alike is a candidate to join two groups
AVERAGE_THRESHOLD = 0.25  # and the groups join if every pair across them averages this
MIN_LINK = 0.05  # and no pair across them is unrelated (no chains through a middle item)
SAME_SOURCE_THRESHOLD = 0.6  # one outlet's two items alone: an update or a repost
SAME_SOURCE_FLOOR = 0.45  # or its report and its analysis, in a story other outlets tell
WINDOW = timedelta(hours=72)
BLOCKING_TERMS = 10  # an item's most distinctive words that find its candidates
BLOCK_LIMIT = 100  # a word in more items than this within the window is no identity
CANDIDATE_SHARE = 0.25  # of the threshold, reached by the blocking words alone to be compared
PARTNERS = 12  # an item's best candidates compared in full
EXHAUSTIVE_BELOW = 60  # so few items are all compared: in a small window the most
# distinctive words of two reports of one event are each their own, and share no block


@dataclass(frozen=True)
class Story:
    """One event: its headline item and every item that tells it, headline first."""

    headline: StoredItem
    items: tuple[StoredItem, ...]
    topic: str
    relevance: float

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources that told the story, in item order."""
        return tuple(dict.fromkeys(item.source_title for item in self.items))


def group_stories(
    items: Sequence[StoredItem],
    *,
    is_official: Callable[[StoredItem], bool],
    window: timedelta = WINDOW,
    threshold: float = SIMILARITY_THRESHOLD,
    background: Sequence[StoredItem] = (),
) -> list[Story]:
    """Stories of ``items`` (relevant items of one period), in no particular order.

    ``background``: more items (the weeks around the period) for word frequencies only.
    """
    ordered = sorted(items, key=lambda i: (i.published_at, i.id))
    ids = {i.id for i in ordered}
    signatures = [signature(i) for i in ordered]
    vectors, _ = weights(signatures, [signature(b) for b in background if b.id not in ids])
    grouping = _Grouping(ordered, signatures, vectors, window, threshold)
    for i, j in grouping.candidates():
        grouping.consider(i, j)
    return [_story(members, is_official) for members in grouping.groups()]


@dataclass(frozen=True)
class PairVerdict:
    """Whether two items, side by side, would be joined, and the evidence (``communique
    explain A B``). In a digest, a pair that would be joined can still be told apart when the
    other items of its story are unlike one of them (average linkage)."""

    comparison: Comparison
    apart: timedelta
    same_source: bool
    same_link: bool
    threshold: float
    window: timedelta

    @property
    def reasons_apart(self) -> tuple[str, ...]:
        """Why the pair is not one story; empty when it is."""
        reasons = []
        if self.apart > self.window:
            reasons.append(f"published {_hours(self.apart)} apart (window {_hours(self.window)})")
        if self.same_link:
            return tuple(reasons)
        reasons.extend(self.comparison.conflicts)
        needed = SAME_SOURCE_THRESHOLD if self.same_source else self.threshold
        if self.comparison.similarity < needed:
            what = f"needs {needed:.2f}"
            if self.same_source:
                what = (
                    f"same source: needs {needed:.2f} alone, "
                    f"{SAME_SOURCE_FLOOR:.2f} in a story that other sources' reports join"
                )
            reasons.append(f"similarity {self.comparison.similarity:.2f} ({what})")
        return tuple(reasons)

    @property
    def one_story(self) -> bool:
        return not self.reasons_apart


def explain_pair(
    a: StoredItem,
    b: StoredItem,
    *,
    background: Sequence[StoredItem] = (),
    window: timedelta = WINDOW,
    threshold: float = SIMILARITY_THRESHOLD,
) -> PairVerdict:
    """The pair decision :func:`group_stories` makes for ``a`` and ``b``, with its evidence."""
    sa, sb = signature(a), signature(b)
    others = [signature(i) for i in background if i.id not in {a.id, b.id}]
    (va, vb), _ = weights([sa, sb], others)
    return PairVerdict(
        comparison=compare(sa, sb, va, vb),
        apart=abs(a.published_at - b.published_at),
        same_source=a.source_url == b.source_url,
        same_link=bool(a.norm_link) and a.norm_link == b.norm_link,
        threshold=threshold,
        window=window,
    )


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.0f} h"


class _Grouping:
    """Average-linkage agglomeration over candidate pairs, best pair first."""

    def __init__(
        self,
        items: Sequence[StoredItem],
        signatures: Sequence[Signature],
        vectors: Sequence[dict[str, float]],
        window: timedelta,
        threshold: float,
    ) -> None:
        self.items, self.signatures, self.vectors = items, signatures, vectors
        self.window, self.threshold = window, threshold
        self.average = min(AVERAGE_THRESHOLD, threshold)
        self.group_of = list(range(len(items)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(items))}
        self._similar: dict[tuple[int, int], float] = {}

    def similarity(self, i: int, j: int) -> float:
        """Pair similarity: 1 for a shared link, 0 for a conflict, else the cosine."""
        key = (i, j) if i < j else (j, i)
        if key not in self._similar:
            a, b = self.items[i], self.items[j]
            if a.norm_link and a.norm_link == b.norm_link:
                value = 1.0
            else:
                value = cosine(self.vectors[i], self.vectors[j])
                value += agreement(self.signatures[i], self.signatures[j])
                if value >= self.average and conflicts(self.signatures[i], self.signatures[j]):
                    value = -1.0  # alike in words, not in identity: vetoes any group with both
                elif a.source_url == b.source_url and value < SAME_SOURCE_FLOOR:
                    value = -1.0
            self._similar[key] = value
        return self._similar[key]

    def candidates(self) -> list[tuple[int, int]]:
        """Pairs within the window that share distinctive words, most similar first.

        Each item is indexed under its most distinctive words; walking the index sums, for
        each item, its partial dot products with the earlier items it shares them with (a
        sparse matrix product). Only an item's best few partners whose partial similarity
        could reach the threshold are compared in full: so the cost grows with the items,
        not with their square, even when thousands of them look alike.
        """
        times = [item.published_at for item in self.items]
        if len(self.items) <= EXHAUSTIVE_BELOW:  # a quiet period: every pair costs little
            pairs = [
                (i, j)
                for j in range(len(self.items))
                for i in range(j)
                if times[j] - times[i] <= self.window
            ]
            return self._best_first(pairs)
        postings: dict[str, deque[tuple[int, float]]] = {}
        scored = []
        floor = self.threshold * CANDIDATE_SHARE
        for j, vector in enumerate(self.vectors):
            best = sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:BLOCKING_TERMS]
            link = self.items[j].norm_link
            partial: dict[int, float] = {}
            for word, weight in [*best, *([("link:" + link, 1.0)] if link else [])]:
                posting = postings.setdefault(word, deque())
                while posting and times[j] - times[posting[0][0]] > self.window:
                    posting.popleft()
                if len(posting) <= BLOCK_LIMIT:
                    for i, other in posting:
                        partial[i] = partial.get(i, 0.0) + weight * other
                posting.append((j, weight))
            partners = sorted(
                (i for i, part in partial.items() if part >= floor),
                key=lambda i: (-partial[i], i),
            )[:PARTNERS]
            scored.extend((i, j) for i in partners)
        return self._best_first(scored)

    def _best_first(self, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The pairs alike enough to join (an outlet's own pair: nearly identical), best first."""
        scored = []
        for i, j in pairs:
            value = self.similarity(i, j)
            same_source = self.items[i].source_url == self.items[j].source_url
            if value >= (SAME_SOURCE_THRESHOLD if same_source else self.threshold):
                scored.append((-value, i, j))
        scored.sort()
        return [(i, j) for _, i, j in scored]

    def consider(self, i: int, j: int) -> None:
        """Merge the groups of ``i`` and ``j`` if the average link between them is strong."""
        a, b = self.group_of[i], self.group_of[j]
        if a == b:
            return
        left, right = self.members[a], self.members[b]
        times = [self.items[k].published_at for k in (*left, *right)]
        if max(times) - min(times) > self.window:
            return
        total = 0.0
        for x in left:
            for y in right:
                value = self.similarity(x, y)
                if value < MIN_LINK:
                    return
                total += value
        if total / (len(left) * len(right)) < self.average:
            return
        keep, gone = (a, b) if a < b else (b, a)
        for k in self.members[gone]:
            self.group_of[k] = keep
        self.members[keep].extend(self.members.pop(gone))

    def groups(self) -> list[list[StoredItem]]:
        return [
            [self.items[k] for k in sorted(members)] for _, members in sorted(self.members.items())
        ]


def _story(members: list[StoredItem], is_official: Callable[[StoredItem], bool]) -> Story:
    headline = min(members, key=lambda m: (not is_official(m), m.published_at, m.id))
    rest = [m for m in members if m is not headline]
    topics = Counter(t for m in members for t in m.topics[:1])
    topic = (
        headline.topics[0]
        if headline.topics
        else (topics.most_common(1)[0][0] if topics else "other")
    )
    return Story(
        headline=headline,
        items=(headline, *rest),
        topic=topic,
        relevance=max(m.relevance for m in members),
    )


def rank(stories: Sequence[Story]) -> list[Story]:
    """Most relevant first, then most sources, then earliest; ties broken by id (stable)."""
    return sorted(
        stories,
        key=lambda s: (-s.relevance, -len(s.sources), s.headline.published_at, s.headline.id),
    )
