"""Feed bytes -> :class:`ParsedFeed` with clean :class:`FeedEntry` records. Pure; runs in worker processes.

RSS, RDF and Atom are read by feedparser; JSON Feed by :mod:`sources.json_feed`, into the same
shape, so every format's entries are cleaned, dated and identified by the same code below.

feedparser spends most of its time sanitising HTML and resolving relative links; both are
turned off here and done once, by nh3, in the same pass (``feeds.sanitise``). Entries
feedparser recovers from malformed XML (``bozo``) are kept, and the warning is reported.
Dates come out timezone-aware in UTC; a numeric date is read day-first, as European sources
write it (10/06/2025 is 10 June), never month-first. A date that cannot be right (before
1990, more than a day after the fetch, with a zone offset beyond ±14:00, a year that is
negative or has five digits, or a month, day or time no calendar has, all of which
feedparser silently turns into another date) is taken as missing, so the store uses the
time the item was first seen, and the feed's warning says so.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3
from lxml import etree

from feeds.sanitise import sanitise
from feeds.text import clean_text, html_to_text
from sources.follow.discover import looks_like_html
from sources.follow.feed_dates import utc_time
from sources.follow.feed_items import FeedItems, encoding, split_items
from sources.follow.item_keys import entry_key, normalise_link
from sources.follow.json_feed import is_json, read_json_feed
from sources.settings import MAX_ITEMS
from sources.store.texts import pack_html
from sources.types import FeedEntry

_DAY_FIRST = re.compile(
    r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # no feed item predates the web by much
FUTURE_SLACK = timedelta(days=1)  # later than the fetch by more than this: a wrong date
_ZONE_AFTER_TIME = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*([+-])(\d{2}):?(\d{2})\s*$")
_BAD_YEAR = re.compile(r"^\s*(?:[+-]\d|\d{5,}-)")  # -0001-01-01, +2025-…, 10000-01-01
# The numbers of an ISO 8601 / RFC 3339 date as written (2025-13-45T25:61:61Z): feedparser
# hands over a struct_time it has already rolled over (2026-01-01), so the text is checked.
_ISO_FIELDS = re.compile(
    r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[T\s]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)


def _day_first_date(text: str) -> tuple[int, ...] | None:
    """feedparser date handler: ``DD/MM/YYYY [HH:MM[:SS]] [zone]`` -> a UTC 9-tuple."""
    match = _DAY_FIRST.match(text)
    if not match:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    moment = utc_time(year, month, day, hour, minute, second, zone)
    return tuple(moment) if moment else None


feedparser.registerDateHandler(_day_first_date)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its title and link, its entries, and any recovery warning."""

    title: str
    link: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None = None
    error: str | None = None  # not a feed at all, or too big to read: nothing to store
    status: str = "not a feed"  # what the source's status says when there is an error
    unchanged: tuple[str, ...] = ()  # hashes of items recognised unchanged, not parsed again
    prev_archive: str | None = None  # RFC 5005: the newest archive document of the history


# An entry's start tag, with any prefix (<item, <atom:entry, <rss:item), never <items> (RSS
# 1.0's table of contents) or <itemCount>.
_ENTRY_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])")


def count_entries(body: bytes) -> int:
    """How many entries a feed body holds, counted without parsing it.

    feedparser keeps a dictionary per entry, so memory grows with the number of entries, not
    the bytes: 10 MB of 105,000 tiny items took 413 MB in one parser. A regular expression
    over the bytes costs next to nothing. NUL bytes are dropped first, so a UTF-16 or UTF-32
    body (whose ASCII markup is interleaved with zeros) is counted too.
    """
    if b"\x00" in body:
        body = body.replace(b"\x00", b"")
    return sum(1 for _ in _ENTRY_TAG.finditer(body))


def split_feed(body: bytes, url: str, content_type: str | None) -> FeedItems | None:
    """The body's items with their hashes (:mod:`sources.feed_items`), read with the same
    encoding repair as :func:`parse_feed`, so both see the same text and the same hashes."""
    body = _trust_utf8(body)
    items = split_items(body, url)
    if items is None or not _same_charset(_trust_utf8_header(content_type, body), items):
        return None
    return items


def _same_charset(content_type: str | None, items: FeedItems) -> bool:
    """Whether the HTTP charset, if any, is the encoding lxml read the document in: if not,
    feedparser (which obeys the header) would read other text than the items were hashed by."""
    match = _CHARSET.search(content_type or "")
    if not match:
        return True
    declared = match.group(3).lower().replace("_", "-")
    return (
        codecs.lookup(declared).name == codecs.lookup(encoding(items)).name
        if _known(declared)
        else False
    )


def _known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None,
    fetched_at: datetime,
    *,
    max_items: int = MAX_ITEMS,
    known: frozenset[str] | None = None,
    items: FeedItems | None = None,
) -> ParsedFeed:
    """Parse one response body fetched from ``url`` at ``fetched_at``.

    A JSON body (:func:`sources.json_feed.is_json`) is read as a JSON Feed, into the same
    entries. A body with more than ``max_items`` entries is not parsed at all (see
    :func:`count_entries`): that is the source's failure, with a message saying how to
    read it anyway. With ``known`` (the item hashes stored for the source), the body is
    split into items first (:mod:`sources.feed_items`) and only items whose hash is not
    known are parsed; every entry carries its item's hash, to be stored with it.
    """
    if items is None and is_json(body, content_type):
        return _parse_json(body, url, fetched_at, max_items, known)
    # a document already split into its items was parsed by lxml: its items are counted
    entries_in_body = len(items.items) if items is not None else count_entries(body)
    if entries_in_body > max_items:
        return _too_many(entries_in_body, max_items)
    body = _trust_utf8(body)
    content_type = _trust_utf8_header(content_type, body)
    # No content-location: feedparser would resolve guids ("4711") against the feed URL, and
    # give every entry the feed URL as its base; links are resolved here instead.
    headers = {"content-type": content_type or "application/xml"}
    split = items or (split_items(body, url) if known is not None else None)
    if split is not None and not _same_charset(content_type, split):
        split = None  # feedparser would decode the body otherwise than lxml did: read it whole
    hashes: list[str | None] = []
    unchanged: tuple[str, ...] = ()
    if split is not None:
        changed = [i for i, h in enumerate(split.hashes) if h not in (known or ())]
        hashes = [split.hashes[i] for i in changed]
        unchanged = tuple(h for h in split.hashes if h in (known or ()))
    if unchanged:
        # lxml wrote the document as UTF-8; its original charset no longer applies
        parsed = _feedparser(split.document(changed), {"content-type": "application/xml"})  # type: ignore[union-attr]
    else:
        # lxml's tree of the document is not needed again: freed before feedparser builds
        # its own (together they were twice the memory of either, for a multi-megabyte feed)
        split = items = None
        parsed = _feedparser(body, headers)
    if len(parsed.entries) != len(hashes):  # feedparser saw other items than lxml did
        if unchanged:
            parsed = _feedparser(body, headers)
        hashes, unchanged = [None] * len(parsed.entries), ()
    if parsed.get("bozo") and not parsed.entries:
        repaired = _repair(body)
        if repaired != body:
            second = _feedparser(repaired, headers)
            if second.entries:
                parsed = second
                parsed["bozo"] = 1
                parsed["bozo_exception"] = (
                    "repaired: stray declarations or namespace prefixes removed"
                )
    warning = None
    if parsed.get("bozo"):
        exception = parsed.get("bozo_exception")
        if isinstance(exception, str) or not exception:
            warning = exception or "malformed feed"
        else:
            warning = f"{type(exception).__name__}: {exception}"
    if not parsed.get("version") and not parsed.entries and not unchanged:
        found = _what_it_is(body, content_type, warning)
        return ParsedFeed(title="", link=None, entries=(), error=f"not a feed ({found})")
    feed = parsed.get("feed", {})
    archives = [
        _absolute(link.get("href"), url)
        for link in feed.get("links", [])
        if link.get("rel") == "prev-archive"
    ]
    return _parsed_feed(
        feed,
        parsed.entries,
        hashes or [None] * len(parsed.entries),
        url,
        fetched_at,
        warning=warning,
        unchanged=unchanged,
        prev_archive=next((a for a in archives if a), None),
    )


def _parse_json(
    body: bytes, url: str, fetched_at: datetime, max_items: int, known: frozenset[str] | None
) -> ParsedFeed:
    """A JSON Feed (:mod:`sources.json_feed`) read into the entries an XML feed gives.

    Its ``next_url``, the page of older items, is the history a reader walks back through,
    as ``prev-archive`` in RFC 5005 (communique's own ``feed.json`` pages its archives so).
    """
    read = read_json_feed(body, url, max_items=max_items, known=known)
    if read.error:
        return ParsedFeed(title="", link=None, entries=(), error=read.error, status=read.status)
    if read.items_in_body > max_items:
        return _too_many(read.items_in_body, max_items)
    older = _absolute(read.next_url, url)
    if older in {url, _absolute(read.feed_url, url)}:
        older = None  # a next page that is the feed itself: a loop, not a history
    return _parsed_feed(
        read.feed,
        read.entries,
        read.hashes,
        url,
        fetched_at,
        warning=read.warning,
        unchanged=read.unchanged,
        prev_archive=older,
    )


def _too_many(entries_in_body: int, max_items: int) -> ParsedFeed:
    return ParsedFeed(
        title="",
        link=None,
        entries=(),
        error=f"feed has {entries_in_body:,} entries; at most {max_items:,} are read "
        "(raise [aggregate] max_items to read it)",
        status="too many entries",
    )


def _parsed_feed(
    feed: Any,
    raw_entries: list[Any],
    hashes: Sequence[str | None],
    url: str,
    fetched_at: datetime,
    *,
    warning: str | None,
    unchanged: tuple[str, ...],
    prev_archive: str | None,
) -> ParsedFeed:
    """The feed's title and link and its entries, cleaned (one path for every format)."""
    feed_link = _absolute(feed.get("link"), url)
    entries: dict[str, FeedEntry] = {}
    rejected: list[str] = []
    for raw, item_hash in zip(raw_entries, hashes, strict=True):
        entry, wrong_dates = _entry(raw, url, feed_link, fetched_at)
        if item_hash:
            entry = replace(entry, item_hash=item_hash)
        entries.setdefault(entry.key, entry)  # a feed listing one item twice stores it once
        rejected.extend(wrong_dates)
    if rejected:
        example = rejected[0][:60]
        note = (
            f"{len(rejected)} implausible date(s) taken as missing (before "
            f"{EARLIEST:%Y-%m-%d}, more than a day after the fetch, or an impossible year, "
            f"month, day, time or zone offset), e.g. {example!r}"
        )
        warning = f"{warning}; {note}" if warning else note
    return ParsedFeed(
        title=_plain(feed.get("title_detail")) or clean_text(feed.get("title", "")).strip(),
        link=feed_link,
        entries=tuple(entries.values()),
        warning=warning,
        unchanged=unchanged,
        prev_archive=prev_archive,
    )


_XML_PARSER = {"resolve_entities": False, "no_network": True, "huge_tree": False}
_LOCATION = re.compile(r", line \d+, column \d+$")


def _what_it_is(body: bytes, content_type: str | None, warning: str | None) -> str:
    """What a body that is not a feed is, for a one-line error: an empty response, an HTML
    page, XML with its first error (located by lxml: feedparser's line numbers count a
    declaration it adds), XML of another kind, or neither XML nor JSON."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not body.strip():
        return "an empty response"
    if looks_like_html(body, content_type):
        return "an HTML page"
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return (f"a {media_type} document, " if media_type else "") + "neither XML nor JSON"
    try:
        root = etree.fromstring(body, etree.XMLParser(**_XML_PARSER))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        return f"XML error at line {line}, column {column}: {_LOCATION.sub('', exc.msg)}"
    except ValueError:
        return f"XML that cannot be read: {warning or 'unknown format'}"
    name = etree.QName(root).localname[:40] if isinstance(root.tag, str) else "?"
    if name.lower() == "html":
        return "an HTML page"
    if name in {"rss", "feed", "RDF"}:
        return f"an <{name}> document without a channel or entries"
    return f"XML whose root is <{name}>, not RSS, RDF or Atom"


_DECLARED_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding=[\"'])([A-Za-z0-9._-]+)([\"'])")
_SINGLE_BYTE = frozenset(
    {"windows-1252", "cp1252", "iso-8859-1", "iso-8859-15", "latin-1", "latin1", "us-ascii"}
)


def _trust_utf8(body: bytes) -> bytes:
    """A feed that declares a single-byte encoding but is valid UTF-8 with non-ASCII text is
    UTF-8 (a wrong prolog); reading it as declared would garble "€" in every item.
    Real Latin-1 text with accents is almost never valid UTF-8, so the test is safe."""
    match = _DECLARED_ENCODING.match(body)
    if not match or match.group(2).decode().lower() not in _SINGLE_BYTE or body.isascii():
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    return _DECLARED_ENCODING.sub(rb"\1utf-8\3", body, count=1)


_CHARSET = re.compile(r"(;\s*charset\s*=\s*)([\"']?)([A-Za-z0-9._-]+)\2", re.IGNORECASE)


def _trust_utf8_header(content_type: str | None, body: bytes) -> str | None:
    """The same rule as :func:`_trust_utf8` for a ``charset`` in the Content-Type header."""
    match = _CHARSET.search(content_type or "")
    if not match or match.group(3).lower() not in _SINGLE_BYTE or body.isascii():
        return content_type
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return content_type
    return _CHARSET.sub(r"\1utf-8", content_type or "", count=1)


def _feedparser(body: bytes, headers: dict[str, str]) -> Any:
    return feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


_BEFORE_ROOT = re.compile(rb"^.*?(?=<(?:rss|feed|rdf:RDF|channel)\b)", re.DOTALL)
_PREFIXED_RSS = re.compile(rb"<(/?)rss:")


def _repair(body: bytes) -> bytes:
    """Undo two breakages seen in the wild that even feedparser's loose parser cannot read:
    junk (a second, broken XML declaration) before the root, and ``rss:``-prefixed tags."""
    repaired = _BEFORE_ROOT.sub(b"", body, count=1)
    repaired = _PREFIXED_RSS.sub(rb"<\1", repaired)
    return re.sub(rb"<rss\s+rss:version=[\"']?[\d.]+[\"']?", b'<rss version="2.0"', repaired)


def _absolute(link: str | None, base: str) -> str | None:
    """An absolute http(s) link, or None (a link that is not one, or is no URL at all)."""
    if not link or not isinstance(link, str):
        return None
    try:
        absolute = urljoin(base, link.strip())
        usable = urlsplit(absolute).scheme in {"http", "https"}
    except ValueError:  # "http://[::1/" and the like
        return None
    return absolute if usable else None


def _base(xml_base: str | None, feed_url: str, fallback: str) -> str:
    """An xml:base (made absolute against the feed URL), else the entry's own URL."""
    if not xml_base:
        return fallback
    return urljoin(feed_url, xml_base)


def _plain(detail: Any) -> str:
    """Plain text from a feedparser text construct, whatever its declared type.

    Feeds double-escape markup in titles often enough that a "plain text" title holding
    ``<b>`` or ``<script>`` is more likely markup than prose: every title goes through the
    sanitiser with no tags allowed (``script``/``style`` lose their content too), then
    entities are decoded (a double-escaped "Fish &amp;amp; Chips" reads "Fish & Chips").
    Prose such as "AT&T" or "a < b" survives unchanged.
    """
    if not detail:
        return ""
    value = detail.get("value", "") or ""
    text = html.unescape(nh3.clean(value, tags=set(), clean_content_tags={"script", "style"}))
    return " ".join(clean_text(text).split())


def _moment(struct: Any) -> datetime | None:
    """The date the feed states, in UTC (never clamped: identity must not depend on the clock)."""
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _when(struct: Any, text: Any, fetched_at: datetime) -> tuple[datetime | None, str | None]:
    """The date to store, and the text of a date rejected as implausible (see the module).

    A date up to a day ahead of the fetch is clamped to the fetch time (clocks and time zones
    are sloppy); anything further out, or before 1990, or written with an impossible zone
    offset or year, is no date at all.
    """
    moment = _moment(struct)
    if moment is None:
        return None, None
    text = text if isinstance(text, str) else ""
    if (
        moment < EARLIEST
        or moment > fetched_at + FUTURE_SLACK
        or _BAD_YEAR.match(text)
        or not _plausible_zone(text)
        or not _possible_fields(text)
    ):
        return None, text or moment.isoformat()
    return min(moment, fetched_at), None


def _possible_fields(text: str) -> bool:
    """False for a date written with a month, day or time no calendar has (month 13, 30
    February, 25:61): read as written it would silently become another day."""
    match = _ISO_FIELDS.match(text)
    if not match:
        return True
    year, month = int(match[1]), int(match[2])
    day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[2:])
    if not 1 <= month <= 12:
        return False
    if match[3] and not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    return hour <= 23 and minute <= 59 and second <= 61  # 60: a leap second, 61: old POSIX


def _plausible_zone(text: str) -> bool:
    """False for a numeric zone offset no place has (beyond ±14:00, or 60 minutes or more)."""
    match = _ZONE_AFTER_TIME.search(text)
    if not match:
        return True
    hours, minutes = int(match.group(2)), int(match.group(3))
    return minutes < 60 and hours * 60 + minutes <= 14 * 60


def _entry(
    raw: Any, feed_url: str, feed_link: str | None, fetched_at: datetime
) -> tuple[FeedEntry, list[str]]:
    """One entry, and the texts of the dates it states that were taken as missing."""
    link = _absolute(raw.get("link"), feed_url)
    base = link or feed_link or feed_url
    contents = raw.get("content") or []
    content_source = contents[0].get("value", "") if contents else ""
    content_base = _base(contents[0].get("base") if contents else None, feed_url, base)
    summary_detail = raw.get("summary_detail") or {}
    summary_source = raw.get("summary", "") or ""
    if summary_source and "html" not in (summary_detail.get("type") or "text/html"):
        summary_source = _escape_text(summary_source)
    summary_base = _base(summary_detail.get("base"), feed_url, base)
    summary_html = sanitise(summary_source, summary_base) if summary_source else ""
    if not content_source:
        content_html = summary_html
    elif content_source == summary_source and content_base == summary_base:
        content_html = summary_html  # content:encoded repeating the description: cleaned once
    else:
        content_html = sanitise(content_source, content_base)
    title = _plain(raw.get("title_detail")) or clean_text(raw.get("title", "")).strip()
    summary = html_to_text(summary_html)
    text = summary if content_html == summary_html else html_to_text(content_html)
    if not title:
        title = (summary or text)[:80] or (link or "(untitled)")
    # dict.get: feedparser's own get() maps updated to published with a deprecation warning
    updated, wrong_updated = _when(
        dict.get(raw, "updated_parsed"), dict.get(raw, "updated"), fetched_at
    )
    published, wrong_published = _when(
        dict.get(raw, "published_parsed"), dict.get(raw, "published"), fetched_at
    )
    published = published or updated
    stated = _moment(dict.get(raw, "published_parsed")) or _moment(dict.get(raw, "updated_parsed"))
    guid = (raw.get("id") or "").strip() or None
    categories = tuple(
        dict.fromkeys(
            " ".join(str(t.get("term") or t.get("label") or "").split())
            for t in raw.get("tags") or []
        )
    )
    categories = tuple(c for c in categories if c)
    author = " ".join(clean_text(raw.get("author", "") or "").split())
    digest = hashlib.sha256(
        "\x1f".join(
            [title, link or "", summary_html, content_html, author, ",".join(categories)]
        ).encode()
    ).hexdigest()
    wrong = list(dict.fromkeys(t for t in (wrong_published, wrong_updated) if t))
    entry = FeedEntry(
        key=entry_key(guid, link, title, stated.isoformat() if stated else None),
        guid=guid,
        link=link,
        norm_link=normalise_link(link) if link else None,
        title=title,
        author=author,
        html=pack_html(content_html),  # the summary's HTML gives only its text and the hash
        summary=summary,
        text=text,
        categories=categories,
        published=published,
        updated=updated,
        content_hash=digest,
    )
    return entry, wrong


def _escape_text(text: str) -> str:
    return "<p>" + html.escape(text) + "</p>"
