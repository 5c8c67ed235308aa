"""A period's stories -> :class:`Digest`. Pure.

The digest is what an analyst reads instead of thirty tabs: what mattered in EU foreign
policy in a period, by topic (in the taxonomy's stable order) and by story (each told once,
with every source that told it). This module decides what the digest says; ``render`` writes
it as Markdown, HTML, JSON and the digest feed, ``message`` as an e-mail. Nothing here reads a
clock: the same items and period give the same digest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from feeds.dates import MONTH_NAMES, human_date
from feeds.text import cut_at_word
from sources.judge.relevance import Taxonomy
from sources.judge.stories import Story, group_stories, rank
from sources.types import StoredItem

EXCERPT_CHARS = 300
TITLE_CHARS = 200  # a feed's or an item's title, as every form of the digest shows it


@dataclass(frozen=True)
class DigestSource:
    """One item of a story, credited to the source that published it."""

    name: str  # the source's title (the source list's, else the feed's own)
    link: str | None
    title: str  # the item's own title: what its link says besides the source's name


@dataclass(frozen=True)
class DigestStory:
    """One story as the digest shows it."""

    title: str
    link: str | None
    when: str  # in the site timezone
    excerpt: str
    told_by: tuple[DigestSource, ...]  # every item of the story, the headline's first
    relevance: float
    id: str = ""  # the story's id, the same in every digest it runs through
    continues: str = ""  # the digest it last appeared in (its name), if it goes on from one
    storyline: str = ""  # the id of the larger development it is part of
    new_reports: int | None = None  # its reports the digest it continues from did not show
    continues_page: bool = False  # that digest's page is beside this one's (to link to)

    @property
    def status(self) -> str:
        """``new`` (first shown in this digest), ``continuing`` (shown in an earlier one, and
        grown since), or "" for a story read back from a digest written before stories
        were followed."""
        if not self.id:
            return ""
        return "continuing" if self.continues else "new"

    @property
    def anchor(self) -> str:
        """The story's fragment on its digest's page (``story-<id>``): where a later digest's
        "continuing" links to."""
        return f"story-{self.id}" if self.id else ""

    @property
    def continuation(self) -> str:
        """``4 new reports since 14 December 2026`` for a story that goes on from an earlier
        digest, else "" (a new story)."""
        if not self.continues:
            return ""
        new = len(self.told_by) if self.new_reports is None else self.new_reports
        since = days_in_words(self.continues)
        if not new:  # shown whole there already (a period overlapping that digest's)
            return f"nothing new since {since}"
        return f"{plural(new, 'new report', 'new reports')} since {since}"

    @property
    def sources(self) -> tuple[tuple[str, str | None], ...]:
        """``(source name, item link)`` pairs: what the forms that name no item titles show
        (the mail, the digest feed)."""
        return tuple((source.name, source.link) for source in self.told_by)


@dataclass(frozen=True)
class DigestStoryline:
    """A larger development some of the digest's stories are parts of (a summit's previews,
    decisions and reactions): shown as one group, with a feed of its own."""

    id: str
    title: str
    earlier: int = 0  # its stories shown in earlier digests and not in this one

    @property
    def feed(self) -> str:
        """Its feed, relative to the digest's folder."""
        return f"storylines/{self.id}.atom"


@dataclass(frozen=True)
class StorylineStory:
    """One story of a storyline as the storyline's feed shows it: all its items so far."""

    id: str
    title: str
    link: str | None
    excerpt: str
    first: datetime  # its first item's date
    last: datetime  # its latest item's: the feed entry's update
    day: str  # the latest digest that showed it
    told_by: tuple[DigestSource, ...]


@dataclass(frozen=True)
class StorylineFeed:
    """What a storyline's feed says: its title and its stories, the latest grown first."""

    id: str
    title: str
    stories: tuple[StorylineStory, ...]


def storyline_feed(
    line: str, title: str, stories: Sequence[Story], days: Mapping[int, str]
) -> StorylineFeed:
    """The feed record of storyline ``line``: each of its ``stories`` (every item a digest
    showed of it), ``days`` being the digest each item first appeared in."""
    told = []
    for story in stories:
        items = sorted(story.items, key=lambda i: (i.published_at, i.id))
        headline = story.headline
        told.append(
            StorylineStory(
                id=story.id,
                title=shown_title(headline.title),
                link=web_link(headline.link),
                excerpt=cut_at_word(" ".join(excerpt_text(headline).split()), EXCERPT_CHARS),
                first=items[0].published_at,
                last=items[-1].published_at,
                day=max((days[i.id] for i in items if i.id in days), default=""),
                told_by=tuple(
                    DigestSource(
                        shown_title(i.source_title), web_link(i.link), shown_title(i.title)
                    )
                    for i in story.items
                ),
            )
        )
    told.sort(key=lambda s: (s.last, s.id), reverse=True)
    return StorylineFeed(line, shown_title(title), tuple(told))


@dataclass(frozen=True)
class DigestTopic:
    """One topic section."""

    id: str
    name: str
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True)
class Digest:
    """Everything a digest file says."""

    title: str
    since: datetime
    until: datetime
    day: str  # the name files and feed entries use: see digest_name
    period: str  # human-readable, in the site timezone
    topics: tuple[DigestTopic, ...]
    items: int
    by_source: tuple[tuple[str, int], ...]
    storylines: tuple[DigestStoryline, ...] = ()  # those shown as groups (two stories or more)

    @property
    def stories(self) -> int:
        """How many stories the digest tells."""
        return sum(len(t.stories) for t in self.topics)

    @property
    def days(self) -> str:
        """The days the digest covers, in words (:func:`days_in_words`)."""
        return days_in_words(self.day)

    @property
    def counts(self) -> str:
        """``5 stories from 11 items``: how every form of the digest says how much it holds
        (the page, the Markdown, the mail's subject and text, the terminal)."""
        return (
            f"{plural(self.stories, 'story', 'stories')} from {plural(self.items, 'item', 'items')}"
        )

    @property
    def description(self) -> str:
        """What the page is, in a sentence (its meta description)."""
        if not self.items:
            return f"{self.title}, {self.days}: no items about EU foreign policy."
        return (
            f"{self.title}, {self.days}: {self.counts} in "
            f"{plural(len(self.topics), 'topic', 'topics')}."
        )


def build_digest(
    items: Sequence[StoredItem],
    *,
    since: datetime,
    until: datetime,
    taxonomy: Taxonomy,
    zone: ZoneInfo,
    title: str,
    is_official: Callable[[StoredItem], bool],
    background: Sequence[StoredItem] = (),
    stories: Sequence[Story] | None = None,
    days: Mapping[int, str] | None = None,
    lines: Mapping[str, str] | None = None,
    storylines: Sequence[DigestStoryline] = (),
    pages: Collection[str] = (),
) -> Digest:
    """Group the period's relevant items into stories, rank them, and lay them out by topic.

    ``background``: relevant items around the period, for the story grouping's word weights.
    ``stories``: the period's stories as already decided (:func:`follow_stories`, which
    knows the earlier digests' stories), instead of grouping ``items`` here; ``days``: the
    digest each earlier item first appeared in (item id -> its name), so a story that goes
    on says where it was last shown. ``lines``: each story's storyline (story id ->
    storyline id); ``storylines``: those with two stories or more, this digest's and
    earlier ones', which every form shows as groups. ``pages``: the names of the digests whose page is beside
    this one's (``2026-12-14``): a story goes on from one of those with a link to it.
    """
    grouped = (
        stories
        if stories is not None
        else group_stories(items, is_official=is_official, background=background)
    )
    ranked = rank(grouped)
    by_topic: dict[str, list[Story]] = {}
    for story in ranked:
        by_topic.setdefault(story.topic, []).append(story)
    shown = days or {}
    topics = tuple(
        DigestTopic(
            topic_id,
            taxonomy.name(topic_id),
            tuple(_story(s, zone, shown, lines or {}, set(pages)) for s in by_topic[topic_id]),
        )
        for topic_id in sorted(by_topic, key=taxonomy.order)
    )
    sources = Counter(item.source_title for item in items)
    by_source = ((shown_title(name), count) for name, count in sources.items())
    return Digest(
        title=title,
        since=since,
        until=until,
        day=digest_name(since, until, zone),
        period=period_in_words(since, until, zone),
        topics=topics,
        items=len(items),
        by_source=tuple(sorted(by_source, key=lambda kv: (-kv[1], kv[0]))),
        storylines=tuple(sorted(storylines, key=lambda line: line.id)),
    )


def shown_title(title: str) -> str:
    """A title as the digest shows it: one line of at most :data:`TITLE_CHARS` characters,
    cut at a word with an ellipsis. A feed decides its titles, and a 3,000-character one
    would fill a screen of every form of the digest, and the mail."""
    return cut_at_word(" ".join(title.split()), TITLE_CHARS, sentences=False)


DAILY = timedelta(
    hours=26
)  # a day, with room for a late run: longer periods are named by both ends


def digest_name(since: datetime, until: datetime, zone: ZoneInfo) -> str:
    """What the files and the feed entry are called: the last day of the period, or for a
    longer period (a weekly digest) its first and last day, so it never replaces a daily one."""
    last = (until.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()
    if until - since <= DAILY:
        return last
    return f"{since.astimezone(zone).date().isoformat()}--{last}"


def days_in_words(day: str) -> str:
    """A digest's name (:func:`digest_name`) in words, as a reader writes a period: "10 June
    2025"; "1-28 November 2026", "28 November - 3 December 2026" and "29 December 2026 - 4
    January 2027", each with an en dash (spaced between dates that have spaces). Readers and
    screen readers get words, not "2026-11-01--2026-11-28". Any other name is returned as is."""
    try:
        dates = [date.fromisoformat(part) for part in day.split("--")]
    except ValueError:
        return day
    first, last = dates[0], dates[-1]

    def month(moment: date) -> str:
        return MONTH_NAMES[moment.month - 1]

    if first == last:
        return f"{last.day} {month(last)} {last.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {month(last)} {last.year}"
    if first.year == last.year:
        return f"{first.day} {month(first)} – {last.day} {month(last)} {last.year}"
    return f"{first.day} {month(first)} {first.year} – {last.day} {month(last)} {last.year}"


def plural(count: int, one: str, many: str) -> str:
    """``1 story``, ``2 stories``."""
    return f"{count} {one if count == 1 else many}"


def _last_shown(story: Story, days: Mapping[int, str]) -> str:
    """The digest a story that goes on was last shown in: that of its latest earlier item."""
    for item in sorted(story.earlier, key=lambda i: (i.published_at, i.id), reverse=True):
        if item.id in days:
            return days[item.id]
    return ""


def _story(
    story: Story,
    zone: ZoneInfo,
    days: Mapping[int, str],
    lines: Mapping[str, str],
    pages: Collection[str],
) -> DigestStory:
    headline = story.headline
    local = headline.published_at.astimezone(zone)
    continues = _last_shown(story, days)
    return DigestStory(
        title=shown_title(headline.title),
        link=web_link(headline.link),
        when=f"{human_date(local, zone)}, {local:%H:%M}",
        excerpt=cut_at_word(" ".join(excerpt_text(headline).split()), EXCERPT_CHARS),
        told_by=tuple(
            DigestSource(
                shown_title(item.source_title), web_link(item.link), shown_title(item.title)
            )
            for item in story.items
        ),
        relevance=story.relevance,
        id=story.id,
        continues=continues,
        storyline=lines.get(story.id, ""),
        new_reports=sum(1 for item in story.items if days.get(item.id) != continues),
        continues_page=continues in pages,
    )


_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*$")
_CUT = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")
FRAGMENT_CHARS = 60  # a summary shorter than this says too little to stand as the excerpt


def excerpt_text(item: StoredItem) -> str:
    """What a story's excerpt is cut from: the feed's summary, unless it is empty or a
    fragment (cut off with an ellipsis, no sentence end, a few words) and the article page
    was read; then the page's text. Without a page, the summary or the feed's text."""
    summary = " ".join(item.summary.split())
    fragment = (
        not summary
        or len(summary) < FRAGMENT_CHARS
        or bool(_CUT.search(summary))
        or not _SENTENCE_END.search(summary)
    )
    if item.page_text and fragment:
        return item.page_text
    return item.summary or item.text


def web_link(link: str | None) -> str | None:
    """Only http(s) links reach a digest (the parser stores no other kind; this is a second
    guard, and the guard for a record read back from a file)."""
    return link if link and urlsplit(link).scheme in {"http", "https"} else None


def period_in_words(since: datetime, until: datetime, zone: ZoneInfo) -> str:
    """The period as every form of the digest shows it: each end's day and time in ``zone``,
    and the zone's name (a record read back is worded again in the site's zone)."""
    start, end = since.astimezone(zone), until.astimezone(zone)
    return f"{human_date(start, zone)} {start:%H:%M} – {human_date(end, zone)} {end:%H:%M} ({zone.key})"
