"""Looking at what was stored: rescore, explain (an item, a pair), search.

None of these fetches anything, and none creates a database: they need one that
``communique aggregate`` wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from feeds.errors import InputError
from sources.follow.opml import load_source_list
from sources.judge.source_rules import Scoring
from sources.store.database import Store
from sources.store.stories import Placed
from sources.types import SearchHit, StoredItem

from .errors import BadOption, Refused

if TYPE_CHECKING:  # the story model loads with the commands that group stories
    from sources.judge.relevance import Relevance, Taxonomy
    from sources.judge.stories import PairVerdict, Placement
    from sources.judge.storylines import StorylineVerdict
    from sources.settings import Settings


def existing_store(settings: Settings) -> Store:
    """The database, for a use case that only looks at what was stored: opening a missing
    one would create it (and its -wal and -shm files) in a folder that had nothing."""
    database = settings.aggregate.database
    if not database.exists():
        raise InputError(database, None, "no database yet; run `communique aggregate` first")
    return Store(database)


def _scoring(settings: Settings) -> Scoring:
    """How the stored items are scored: the taxonomy, and the sources listed now."""
    taxonomy = settings.relevance  # bad topics are said before a bad source list
    return Scoring.for_sources(
        taxonomy, load_source_list(settings.aggregate.sources_file, create=False)
    )


def rescore(settings: Settings) -> tuple[int, int]:
    """Score every stored item again (after the topics changed): ``(items, changed)``."""
    _ = settings.aggregate, settings.relevance  # both said before the database is looked for
    with existing_store(settings) as store:
        scoring = _scoring(settings)
        return store.rescore(lambda item: scoring.score(item, item.article_text))


def _stored_item(store: Store, item_id: int) -> StoredItem:
    item = store.item(item_id)
    if item is None:
        raise Refused(f"no stored item {item_id}; find ids with `communique search --json`")
    return item


Members = tuple[StoredItem, ...]


@dataclass(frozen=True)
class StoryPlace:
    """Where an item goes in a digest around it: its story (members in time order), the
    placement decision, the runner-up story, and the stories its identity kept it out of
    (with the first reason)."""

    story: Members
    placement: Placement
    runner_up: Members | None
    kept_out: tuple[tuple[Members, str], ...]


@dataclass(frozen=True)
class ItemExplanation:
    """``explain ITEM``: the item, its verdict (with every match), and its story (None when
    it is not relevant: a digest groups only relevant items)."""

    item: StoredItem
    verdict: Relevance
    taxonomy: Taxonomy
    story: StoryPlace | None
    placed: Placed | None = None  # the story a digest showed it in, and its storyline
    storyline: StorylinePlace | None = None  # that storyline's other stories, and why


def explain_item(settings: Settings, item_id: int) -> ItemExplanation:
    """Why item ``item_id`` is (not) about EU foreign policy, and which story it joins."""
    with existing_store(settings) as store:
        item = _stored_item(store, item_id)
        scoring = _scoring(settings)
        verdict = scoring.score(item, item.article_text)
        story = _story_place(item, store) if item.relevant else None
        placed = store.item_placed(item.id)
        line = _storyline_place(store, placed) if placed else None
    return ItemExplanation(item, verdict, scoring.taxonomy, story, placed, line)


@dataclass(frozen=True)
class StorylinePlace:
    """The storyline a digest showed an item's story in: its title, its other stories, and
    the evidence that ties the item's story to the one most like it."""

    title: str
    stories: int
    nearest: str  # the most alike other story's headline title ("" when it is alone)
    verdict: StorylineVerdict | None


def _storyline_place(store: Store, placed: Placed) -> StorylinePlace:
    from sources.judge.stories import background_period, story_of
    from sources.judge.storylines import explain_storyline, storyline_title

    members: dict[str, list[StoredItem]] = {}
    for member, where in store.storyline_items(placed.storyline):
        members.setdefault(where.story, []).append(member)
    told = {key: story_of(m, is_official=lambda i: False, id=key) for key, m in members.items()}
    mine = told.get(placed.story)
    others = [s for key, s in sorted(told.items()) if key != placed.story]
    if mine is None or not others:
        return StorylinePlace(mine.headline.title if mine else "", len(told), "", None)
    first = min(i.published_at for s in told.values() for i in s.items)
    last = max(i.published_at for s in told.values() for i in s.items)
    background = store.relevant_items(*background_period(first, last))
    verdicts = [(explain_storyline(mine, o, background=background), o) for o in others]
    verdict, nearest = max(verdicts, key=lambda v: (v[0].score, v[1].id))
    return StorylinePlace(
        storyline_title(list(told.values())), len(told), nearest.headline.title, verdict
    )


def _story_place(item: StoredItem, store: Store) -> StoryPlace:
    """The digest's own grouping of the relevant items around ``item``."""
    from sources.judge.event_identity import conflicts, signature
    from sources.judge.stories import WINDOW, background_period, place_items

    start, end = item.published_at - WINDOW, item.published_at + WINDOW
    nearby = store.relevant_items(start, end)
    background = store.relevant_items(*background_period(item.published_at, item.published_at))
    placed = store.placed(start, end)  # as the digests placed them, where they did
    groups, placements = place_items(
        nearby, background=background, stored={i: p.story for i, p in placed.items()}
    )
    story = next(g for g in groups if any(m.id == item.id for m in g))
    placement = placements[item.id]
    runner_up = groups[placement.runner_up] if placement.runner_up is not None else None
    mine = signature(item)
    kept_out = []
    for story_number, member_id in placement.vetoed[:3]:
        member = next(m for g in groups for m in g if m.id == member_id)
        reason = conflicts(signature(member), mine)
        kept_out.append((tuple(groups[story_number]), reason[0] if reason else "conflict"))
    return StoryPlace(
        tuple(story), placement, tuple(runner_up) if runner_up else None, tuple(kept_out)
    )


@dataclass(frozen=True)
class PairExplanation:
    """``explain A B``: the two items and the pair decision, with its evidence."""

    item: StoredItem
    other: StoredItem
    verdict: PairVerdict


def explain_pair(settings: Settings, item_id: int, other_id: int) -> PairExplanation:
    """Whether two stored items are one story side by side, with the words around them
    weighed as a digest weighs them."""
    from sources.judge.stories import background_period
    from sources.judge.stories import explain_pair as pair_verdict

    with existing_store(settings) as store:
        item = _stored_item(store, item_id)
        other = _stored_item(store, other_id)
        early = min(item.published_at, other.published_at)
        late = max(item.published_at, other.published_at)
        background = store.relevant_items(*background_period(early, late))
    return PairExplanation(item, other, pair_verdict(item, other, background=background))


@dataclass(frozen=True)
class Found:
    """``search``: the hits, and whether the words looked written for FTS5 (``--fts``)."""

    hits: list[SearchHit]
    looks_like_fts: bool


def search(settings: Settings, text: str, *, limit: int, fts: bool) -> Found:
    """Full-text search: ``text`` as words (each must be in an item), or as FTS5 syntax."""
    from sources.store.fts_query import echo, fts_syntax, words_query

    fts_query = text if fts else words_query(text)
    if not fts_query.strip():
        raise BadOption(f"{echo(text)!r} has no word to search for (letters or digits)", "QUERY")
    with existing_store(settings) as store:
        try:
            hits = store.search(fts_query, limit)
        except ValueError as exc:
            raise BadOption(
                f"FTS5 cannot read {echo(text)!r} ({exc}); without --fts QUERY is plain words",
                "QUERY",
            ) from None
    return Found(hits, not fts and fts_syntax(text))
