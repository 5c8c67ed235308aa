"""Items from different sources about the same event -> one story. Pure and deterministic.

Items are taken in the order they were published, and each either joins a story already
begun or begins one, as an editor sorting the day's wires would (streaming news clustering).
The decision compares the item with each candidate story *as a whole*
(:func:`sources.pair_model.join_features`): a story that grows gathers each outlet's words
for the event, so a retelling that shares nothing but a country with the first report can
still share a great deal with the story. Two learned regressions decide
(:mod:`sources.pair_model`): how likely the item and each member report one event, then
whether the item joins the story; the best story it may join wins, else it begins its own.

Some things are rules, not evidence:

* two items with the same normalised link are one story;
* an item never joins a story one of whose members its identity conflicts with (different
  places in their headlines, sums or counts that cannot be one figure rounded:
  :func:`sources.event_identity.conflicts`): outlets retell one event in their own words,
  institutions draft different events on one template;
* a story spans at most 72 hours, and a story with no report for 24 hours takes no more
  (:data:`QUIET`): the reports of one event come within a day of each other, and what
  comes after a day's silence is, in real reporting, nearly always the next event of the
  same development (the singer discharged the day after her admission, the charges after
  the protest), which the storyline shows beside it (:mod:`sources.judge.storylines`).
  Measured on the calibration runs of consecutive days (``bench/continuity.py``), this
  cut the links that join different events from 52 % to 40 % of all links, for 62 % to
  60 % of the stories that go on linked.

Candidates come from an index of each item's most distinctive words (blocking), not from
every earlier item, so 20,000 items in one window cost seconds, not the square of their
number. A story's headline is its best item: an official source first, then the earliest.

Stories go on from one digest to the next (:func:`follow_stories`): the items of earlier
digests are placed first, each in the story it was stored in, and the period's items then
join those stories by the same evidence as any other, or begin stories of their own. A story
is known by an id made from its first item (:func:`story_id`), so it keeps it however many
digests it runs through.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import islice
from operator import itemgetter

from sources.judge.event_identity import compare, conflicting, conflicts
from sources.judge.pair_model import (
    Profile,
    StoryModel,
    StoryState,
    join_features,
    looks_apart,
    pair_features,
    profiles,
    story_model,
)
from sources.types import StoredItem

WINDOW = timedelta(hours=72)
QUIET = timedelta(hours=24)  # a story with no report for so long takes no more: it is over
QUIET_HOURS = QUIET.total_seconds() / 3600
BACKGROUND = timedelta(days=30)  # the stored items around a period that weigh its words
BLOCKING_TERMS = 12  # an item's most distinctive words that find its candidates
BLOCK_RECENT = 6  # of the items using a word, the latest this many are looked at
CANDIDATE_FLOOR = 0.06  # the blocking words' partial cosine an earlier item must reach
PARTNERS = 10  # an item's best earlier candidates, whose stories it is compared with
COMPARED_MEMBERS = 24  # a story's members an item is compared with, the most recent
EXHAUSTIVE_BELOW = 60  # so few items are all compared with each other


@dataclass(frozen=True)
class Story:
    """One event: its headline item and every item that tells it, headline first."""

    headline: StoredItem
    items: tuple[StoredItem, ...]
    topic: str
    relevance: float
    id: str = ""  # stable across digests: story_id of its first item, earlier ones included
    earlier: tuple[StoredItem, ...] = ()  # its items shown in earlier digests, in time order

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources that told the story, in item order."""
        return tuple(dict.fromkeys(item.source_title for item in self.items))


@dataclass(frozen=True)
class Placement:
    """Where one item went, and why: the story it joined (or None: it began one) with the
    join probability, and the best other story it was compared with."""

    story: int | None
    probability: float
    runner_up: int | None
    runner_up_probability: float
    vetoed: tuple[tuple[int, int], ...] = ()  # stories it may not join, and the member
    # (item id) its identity conflicts with (sources.event_identity.conflicts says how)
    stored: bool = False  # put back where a digest placed it, no decision made again


def group_stories(
    items: Sequence[StoredItem],
    *,
    is_official: Callable[[StoredItem], bool],
    window: timedelta = WINDOW,
    background: Sequence[StoredItem] = (),
    model: StoryModel | None = None,
) -> list[Story]:
    """Stories of ``items`` (the items of one period), in no particular order.

    ``background``: more items (the weeks around the period) for word rarity only.
    """
    grouping = _Streaming(items, background, window, model or story_model())
    grouping.run()
    return [_story(members, is_official) for members in grouping.groups()]


def story_id(first: StoredItem) -> str:
    """A story's id: made from its first item (its source and key, which never change), so
    the same items give the same id in every digest and on every machine."""
    return hashlib.sha256(f"{first.source_url}\x1f{first.key}".encode()).hexdigest()[:12]


def follow_stories(
    items: Sequence[StoredItem],
    *,
    is_official: Callable[[StoredItem], bool],
    earlier: Sequence[StoredItem] = (),
    stored: Mapping[int, str] | None = None,
    starts: Mapping[str, datetime] | None = None,
    window: timedelta = WINDOW,
    background: Sequence[StoredItem] = (),
    model: StoryModel | None = None,
) -> list[Story]:
    """The stories of the period's ``items``, going on from earlier digests' stories.

    ``stored``: the story id each already-placed item was stored with (item id -> story
    id), for ``earlier`` (items of earlier digests whose stories may still grow: published
    within the window before the period) and for any of ``items`` a digest of this period
    placed before (so making a digest again gives the same stories). Those items are put
    back in their stories without a decision; every other item joins the best story it may,
    a stored one included, else begins its own; ``starts``: each stored story's first
    item's date, so a story spans at most the window however its items were shown. Only
    stories with an item in ``items`` are
    returned: their ``items`` are the period's (headline first), ``earlier`` the rest.
    """
    stored = stored or {}
    period = {item.id for item in items}
    everything = [*items, *(e for e in earlier if e.id not in period)]
    grouping = _Streaming(everything, background, window, model or story_model(), stored, starts)
    grouping.run()
    stories = []
    for members, key in zip(grouping.groups(), grouping.keys, strict=True):
        now = [m for m in members if m.id in period]
        if not now:
            continue  # nothing new joined it in this period
        story = _story(now, is_official)
        before = tuple(m for m in members if m.id not in period)
        stories.append(replace(story, id=key, earlier=before))
    return stories


def background_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period whose relevant items weigh the words of items published from ``since`` to
    ``until`` (a digest's period, a pair, an item): :data:`BACKGROUND` on either side.

    A word's weight (TF-IDF) comes from how many items use it; the items of one day are too
    few to say that "sanctions" is common, a month around them are not. The digest and
    ``explain`` use the same window, so ``explain`` shows the weights a digest used.
    """
    return since - BACKGROUND, until + BACKGROUND


def place_items(
    items: Sequence[StoredItem],
    *,
    window: timedelta = WINDOW,
    background: Sequence[StoredItem] = (),
    model: StoryModel | None = None,
    stored: Mapping[int, str] | None = None,
) -> tuple[list[list[StoredItem]], dict[int, Placement]]:
    """The stories (members in time order) and, by item id, where each item went and why
    (``communique explain ITEM``). ``stored``: the story ids digests recorded (see
    :func:`follow_stories`), so the grouping explained is the one the digests made."""
    grouping = _Streaming(items, background, window, model or story_model(), stored)
    grouping.run()
    return grouping.groups(), grouping.placements


@dataclass(frozen=True)
class PairVerdict:
    """Two items side by side (``communique explain A B``): the model's probability that they
    report one event, each piece of evidence and what it weighed, and the rules that keep
    them apart. In a digest an item is compared with whole stories, so a pair below the
    threshold can still end up in one story through the others."""

    probability: float
    threshold: float
    contributions: tuple[tuple[str, float, float], ...]  # feature, value, log-odds added
    shared: tuple[tuple[str, float], ...]  # the words that weigh most in both
    conflicts: tuple[str, ...]
    apart: timedelta
    same_link: bool
    window: timedelta
    quiet: timedelta = QUIET

    @property
    def reasons_apart(self) -> tuple[str, ...]:
        """Why the pair is not one story; empty when it is."""
        reasons = []
        if self.apart > self.window:
            reasons.append(f"published {_hours(self.apart)} apart (window {_hours(self.window)})")
        elif self.apart > self.quiet:  # alone, the earlier one's story was quiet that long
            reasons.append(
                f"published {self.apart.total_seconds() / 3600:.1f} h apart (a story with no "
                f"report for {_hours(self.quiet)} takes no more, unless another report of it "
                "came in between)"
            )
        if self.same_link:
            return tuple(reasons)
        reasons.extend(self.conflicts)
        if self.probability < self.threshold:
            reasons.append(
                f"the model gives {self.probability:.2f} (one story from {self.threshold:.2f})"
            )
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
    model: StoryModel | None = None,
) -> PairVerdict:
    """The pair decision for ``a`` and ``b``, with its evidence."""
    model = model or story_model()
    pa, pb = profiles([a, b], background)
    values = pair_features(pa, pb)
    return PairVerdict(
        probability=model.pair.probability(values),
        threshold=model.pair.threshold,
        contributions=model.pair.contributions(values),
        shared=compare(pa.signature, pb.signature, pa.all, pb.all).shared,
        conflicts=conflicts(pa.signature, pb.signature),
        apart=abs(a.published_at - b.published_at),
        same_link=bool(a.norm_link) and a.norm_link == b.norm_link,
        window=window,
    )


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.0f} h"


class _Streaming:
    """Items in time order, each joining the best story it may, else beginning one."""

    def __init__(
        self,
        items: Sequence[StoredItem],
        background: Sequence[StoredItem],
        window: timedelta,
        model: StoryModel,
        stored: Mapping[int, str] | None = None,
        starts: Mapping[str, datetime] | None = None,
    ) -> None:
        # ties in time broken by what the items are, not by the order they were stored in,
        # so a story's first item (and so its id) is the same on every machine
        self.items = sorted(items, key=lambda i: (i.published_at, i.source_url, i.key, i.id))
        self.stored = stored or {}  # item id -> the story id it was stored in
        self.starts = starts or {}  # a stored story's first item's date, however long ago
        self.keys: list[str] = []  # each story's id (story_id of its first item, or stored)
        self._by_key: dict[str, int] = {}
        self.profiles = profiles(self.items, background)
        self.hours = [p.hour for p in self.profiles]
        self.window, self.model = window, model
        self.window_hours = window.total_seconds() / 3600
        self.story_of: list[int] = []
        self.stories: list[StoryState] = []
        self.first: list[float] = []  # each story's earliest hour
        self.placements: dict[int, Placement] = {}
        self._postings: dict[str, deque[tuple[int, float]]] = {}
        self._links: dict[str, int] = {}
        self._pair_cache: dict[tuple[int, int], float] = {}

    def run(self) -> None:
        for j in range(len(self.items)):
            self._place(j)

    def groups(self) -> list[list[StoredItem]]:
        return [[self.items[k] for k in sorted(story.members)] for story in self.stories]

    def pair_probability(self, i: int, j: int) -> float:
        key = (i, j) if i < j else (j, i)
        value = self._pair_cache.get(key)
        if value is None:
            features = pair_features(self.profiles[key[0]], self.profiles[key[1]])
            value = self._pair_cache[key] = self.model.pair.probability(features)
        return value

    def _place(self, j: int) -> None:
        item, profile = self.items[j], self.profiles[j]
        link = item.norm_link
        key = self.stored.get(item.id)
        if key is not None:  # placed by an earlier digest: back in its story, no decision
            self._partners(j)  # indexed by its words, so that later items find its story
            story = self._by_key.get(key)
            if story is None:
                story = self._begin(profile, key)
            self._join(j, story, Placement(story, 1.0, None, 0.0, stored=True))
            if link:
                self._links[link] = j  # the latest item with the link: its story goes on
            return
        if link and link in self._links:  # one link, one story: no evidence needed
            story = self.story_of[self._links[link]]
            if (
                profile.hour - self.first[story] <= self.window_hours
                and profile.hour - self.stories[story].latest <= QUIET_HOURS
            ):
                self._join(j, story, Placement(story, 1.0, None, 0.0))
                return
        vetoed: list[tuple[int, str]] = []
        scored: list[tuple[float, int]] = []
        for story in sorted({self.story_of[i] for i in self._partners(j)}):
            state = self.stories[story]
            if profile.hour - self.first[story] > self.window_hours:
                continue
            if profile.hour - state.latest > QUIET_HOURS:
                continue
            if looks_apart(profile, state):
                continue
            members = state.members[-COMPARED_MEMBERS:]
            against = next(
                (m for m in members if conflicting(self.profiles[m].signature, profile.signature)),
                None,
            )
            if against is not None:
                vetoed.append((story, self.items[against].id))
                continue
            probabilities = [self.pair_probability(m, j) for m in members]
            chance = self.model.join.probability(join_features(profile, state, probabilities))
            scored.append((chance, story))
        scored.sort(key=lambda s: (-s[0], s[1]))
        best = scored[0] if scored else (0.0, None)
        runner = scored[1] if len(scored) > 1 else (0.0, None)
        if best[1] is not None and best[0] >= self.model.join.threshold:
            self._join(j, best[1], Placement(best[1], best[0], runner[1], runner[0], tuple(vetoed)))
        else:
            story = self._begin(profile, story_id(item))
            self._join(j, story, Placement(None, best[0], best[1], best[0], tuple(vetoed)))
        if link:  # the latest item with the link, whose story is the one still going on
            self._links[link] = j

    def _begin(self, profile: Profile, key: str) -> int:
        """A new story, known as ``key``: its index. A stored story begins where its first
        item was published, even before the items given: its window is its own."""
        story = len(self.stories)
        self.stories.append(StoryState())
        start = self.starts.get(key)
        self.first.append(min(profile.hour, start.timestamp() / 3600) if start else profile.hour)
        self.keys.append(key)
        self._by_key.setdefault(key, story)
        return story

    def _join(self, j: int, story: int, placement: Placement) -> None:
        self.story_of.append(story)
        self.stories[story].add(j, self.profiles[j])
        self.placements[self.items[j].id] = placement

    def _partners(self, j: int) -> list[int]:
        """The earlier items within the window most alike in their distinctive words."""
        profile, hours = self.profiles[j], self.hours
        if len(self.items) <= EXHAUSTIVE_BELOW:
            return [i for i in range(j) if profile.hour - hours[i] <= self.window_hours]
        best = heapq.nlargest(BLOCKING_TERMS, profile.all.items(), key=itemgetter(1))
        partial: dict[int, float] = {}
        for word, weight in best:
            posting = self._postings.setdefault(word, deque())
            while posting and profile.hour - hours[posting[0][0]] > self.window_hours:
                posting.popleft()
            # a word many items use: only its latest users (a big story's recent members)
            for i, other in islice(reversed(posting), BLOCK_RECENT):
                partial[i] = partial.get(i, 0.0) + weight * other
            posting.append((j, weight))
        # the best few, ties in the order they were met (a deterministic order)
        best_first = heapq.nlargest(PARTNERS, partial.items(), key=itemgetter(1))
        return [i for i, part in best_first if part >= CANDIDATE_FLOOR]


def story_of(
    members: Sequence[StoredItem], *, is_official: Callable[[StoredItem], bool], id: str = ""
) -> Story:
    """A story of stored items a digest placed together (its headline chosen as a digest
    chooses it), known as ``id``: what a storyline's feed shows of each of its stories."""
    return replace(_story(list(members), is_official), id=id)


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
