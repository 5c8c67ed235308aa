"""The records the rooms of ``sources/`` hand each other. Standard library only.

A record lives here when more than one room reads it: a parsed feed entry goes from the
parser (follow/) through the Decider to the store; a stored item from the store to the
judge and the digest; a relevance verdict from the judge to the store. Kept apart from the
code that makes them, importing a record costs nothing: the judge and the digest can read a
stored item without loading the database, the HTTP client or the feed parser.

Records hold data and what follows from their own fields alone (:attr:`StoredItem.article_text`,
:attr:`History.complete`); policy and wording stay with the room that owns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

# --- a source and its schedule (follow/schedule.py decides, store/ keeps) -----------------------


@dataclass(frozen=True)
class SourceState:
    """What the store remembers about a source between runs."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    failures: int = 0
    next_due: datetime | None = None
    gone: bool = False
    redirect_target: str | None = None
    redirect_seen: int = 0
    network: str | None = None  # where the feed was last answered from (sources.http.network)


@dataclass(frozen=True)
class Outcome:
    """A fetch result judged: the source's new state, and whether to parse the body."""

    kind: str  # ok, not_modified, unchanged, failed, gone
    state: SourceState
    parse: bool = False
    message: str | None = None
    moved_from: str | None = None  # set when this fetch confirmed a permanent move


@dataclass(frozen=True)
class SourceRow:
    """A source as ``sources list`` shows it."""

    url: str
    title: str
    last_status: str | None
    last_success_at: datetime | None
    last_error: str | None
    next_due: datetime | None
    gone: bool
    failures: int
    entries: int
    warning: str | None  # what the last parse recovered from (a rejected date, bad XML)
    network: str | None = None  # where the feed answered from (sources.http.network)


# --- items: parsed, matched, stored -------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One item of a fetched feed, sanitised and with absolute URLs (follow/parse.py).

    Its texts come as the store keeps them (sources/store/texts.py): the sanitised HTML
    once, compressed, and plain text; ``text`` is always the text of that HTML, so the
    store derives it rather than keep it.

    Named apart from :class:`feeds.writer.Entry`, the item of a feed communique *writes*."""

    key: str
    guid: str | None
    link: str | None
    norm_link: str | None
    title: str
    author: str
    html: bytes  # the sanitised HTML (content, else summary), compressed (store.texts.pack_html)
    summary: str  # the summary's plain text
    text: str  # the plain text of ``html`` (feeds.text.html_to_text)
    categories: tuple[str, ...]
    published: datetime | None  # None: the store uses the time the item was first seen
    updated: datetime | None
    content_hash: str
    item_hash: str | None = None  # the hash of the item's bytes (follow/feed_items.py), if split


@dataclass(frozen=True)
class KnownItem:
    """An item the store already holds, by what the Decider matches a feed entry against:
    its key, its normalised link and the hash of its content. Nothing more is read back,
    since every fetch of a feed compares all its entries with all of the source's items."""

    id: int
    key: str
    norm_link: str | None
    content_hash: str


@dataclass(frozen=True)
class Action:
    """The Decider's verdict on one entry: ``new`` (insert), ``updated`` (replace stored item
    ``stored_id``) or ``same`` (nothing to write)."""

    kind: str
    entry: FeedEntry
    stored_id: int | None = None


@dataclass(frozen=True)
class Match:
    """One taxonomy term found in an item."""

    topic: str
    term: str
    weight: float
    where: str  # title, summary or text


@dataclass(frozen=True)
class Relevance:
    """The judge's verdict on one item, with everything needed to explain it."""

    score: float
    relevant: bool
    topics: tuple[str, ...]  # best first; "other" when relevant without a topic
    topic_scores: Mapping[str, float] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()
    anchors: tuple[str, ...] = ()
    excluded_by: str | None = None
    on_topic_source: bool = False
    roundup: str | None = None  # the phrase that makes the item a newsletter/live blog/roundup
    partners: tuple[str, ...] = ()  # countries outside the EU that the title names with the EU
    partner_score: float = 0.0
    substance: float = 0.0  # the score of the terms that are not place names
    distant_anchors: tuple[str, ...] = ()  # EU mentions past the lede, which do not count


@dataclass(frozen=True)
class StoredItem:
    """A stored item as the digest, ``rescore`` and ``explain`` read it."""

    id: int
    key: str
    link: str | None
    norm_link: str | None
    title: str
    author: str
    summary: str
    text: str
    published_at: datetime
    updated_at: datetime
    relevance: float
    relevant: bool
    topics: tuple[str, ...]
    source_url: str
    source_title: str
    page_text: str = ""  # the article as read from its page, when the feed gave little
    page_language: str = ""
    page_note: str = ""  # why the page's text is not used, when it was read and is not

    @property
    def article_text(self) -> str:
        """The fullest text of the item: its page's article when that was read, else the
        feed's own text. Relevance, stories, search and the digest all read this."""
        return self.page_text or self.text


@dataclass(frozen=True)
class SearchHit:
    """One full-text search result."""

    id: int
    source: str
    title: str
    link: str | None
    published_at: datetime
    snippet: str


# --- article pages (pages/) ---------------------------------------------------------------------


@dataclass(frozen=True)
class PageRecord:
    """What reading an article page gave, kept by URL (the ``pages`` table)."""

    url: str
    status: str  # the HTTP status, or why there was none ("timeout", "robots")
    etag: str | None = None
    last_modified: str | None = None
    text: str = ""
    language: str = ""
    problem: str = ""  # why ``text`` is not the article (or there is none); "" when it is
    failures: int = 0  # fetches in a row that failed
    retry_at: datetime | None = None  # not fetched again before this


@dataclass(frozen=True)
class WantedPage:
    """An item whose page is to be read, and what is known of that page already."""

    entry_id: int
    url: str
    title: str
    summary: str
    text: str
    source_url: str
    known: PageRecord | None
    source_network: str | None = None  # where the feed lives: the network its page may reach


# --- history walks (RFC 5005 archives; follow/history.py decides, store/ keeps) -----------------


@dataclass(frozen=True)
class Unread:
    """An archive document of a source still to read, and how reading it went so far."""

    url: str
    failures: int = 0  # attempts in a row that failed
    problem: str = ""  # why it is not read yet ("HTTP 500", "history_time ran out"), or ""
    retry_at: datetime | None = None  # a failed document is not asked for before this


@dataclass(frozen=True)
class History:
    """A source's history as far as it was walked: the archive documents read, and those
    still to read, the one to read next first."""

    read: int = 0
    unread: tuple[Unread, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.unread
