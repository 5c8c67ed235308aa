"""JSON Feed 1.0 and 1.1 documents, read into the shape feedparser gives XML feeds. Pure.

feedparser reads only XML, and communique publishes a ``feed.json`` that its own aggregator
should be able to follow. This module reads a JSON Feed (https://www.jsonfeed.org/version/1.1/)
with the standard library's ``json`` into the dictionaries feedparser returns for RSS and Atom
(``title_detail``, ``link``, ``content``, ``summary``, ``published_parsed``, ``tags``, …), so
one function, ``sources.parse``, sanitises, dates and identifies the items of every format,
and a JSON item ends up in the same :class:`sources.types.FeedEntry` as an Atom one would.

A feed on the internet may be hostile, so nothing here trusts the document:

- the values in the body are counted before it is decoded (a 10 MB body of empty objects
  decodes into 250 MB of dictionaries), against ``max_items``;
- numbers are kept as the text written (a 5,000-digit number costs no conversion; a numeric
  1.0 ``id`` is stringified exactly);
- nesting deeper than Python's recursion limit, text that is not JSON or whose top level is
  not an object is "not a feed", named in one line;
- a field of the wrong type (a title that is a list) is ignored and counted in the feed's
  warning, an item that is not an object is skipped, never a crash;
- every string loses the characters XML forbids, so a ``\\ud800`` escape (a lone surrogate,
  which no UTF-8 store accepts) or a NUL never reaches the sanitiser or the database;
- invalid UTF-8 is replaced, and the warning says at which byte.

Each item gets a hash (of its decoded value, keys sorted, with the feed URL, the feed's home
page and its authors around it, as for XML items in :mod:`sources.feed_items`): an item whose
hash is stored for the source is the same item, unchanged, and is not read again. The hash is
of the decoded value, not of the bytes, so a feed re-indented or with its keys reordered
costs nothing either.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from feeds.text import clean_text
from sources.follow.feed_dates import utc_time

MEDIA_TYPES = frozenset({"application/feed+json", "application/json"})
# What reads an item once it is decoded: a new version may read the same item differently,
# so its hashes are new and every item is read again.
READER = ("communique-json-items-1", metadata.version("nh3"))
VALUES_PER_ITEM = 100  # JSON values allowed per entry read (an item has 10 to 30)
VALUES_SLACK = 1_000  # and for the feed around them
_FIRST = re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*+([{\[<])")
# A JSON string, escapes included; possessive, and ending at the end of the body when it is
# not closed, so no body makes the search backtrack.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_RFC3339 = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?)?\s*$"
)
_KINDS = {dict: "an object", list: "a list", bool: "true or false"}


class _Number(str):
    """A JSON number, kept as the text written: never converted, so never costly."""


@dataclass(frozen=True)
class JsonFeed:
    """A JSON Feed read: feedparser's ``feed`` and ``entries`` (of the items not known),
    one hash per entry, the hashes of the items recognised unchanged, and what was found."""

    feed: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    unchanged: tuple[str, ...] = ()
    items_in_body: int = 0
    next_url: str | None = None  # the next page: older items (read as RFC 5005 prev-archive)
    feed_url: str | None = None
    warning: str | None = None
    error: str | None = None  # not a feed at all, or too big to read: nothing to store
    status: str = "not a feed"


def is_json(body: bytes, content_type: str | None) -> bool:
    """Whether ``body`` is JSON rather than XML: by its first byte (``{`` or ``[``, after any
    BOM and whitespace), else by its media type (a body that opens with ``<`` is XML whatever
    the server calls it, and a feed's media type is often wrong)."""
    first = _FIRST.match(body)
    if first:
        return first.group(1) != b"<"
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in MEDIA_TYPES or media_type.endswith("+json")


def value_limit(max_items: int) -> int:
    """How many JSON values a feed read with ``max_items`` entries may hold."""
    return max(max_items, 0) * VALUES_PER_ITEM + VALUES_SLACK


def count_values(body: bytes) -> int:
    """Roughly how many values a JSON body holds (at least as many as it decodes into),
    counted without decoding it: strings removed, then commas and openings counted, in C."""
    bare = _STRING.sub(b"", body)
    return bare.count(b",") + bare.count(b"[") + bare.count(b"{") + 1


def read_json_feed(
    body: bytes, url: str, *, max_items: int, known: frozenset[str] | None = None
) -> JsonFeed:
    """The JSON Feed in ``body`` (fetched from ``url``), its items whose hash is not in
    ``known`` as feedparser-shaped entries. A body with more entries than ``max_items``
    returns none (``items_in_body`` says how many there are)."""
    values = count_values(body)
    if values > value_limit(max_items):
        return JsonFeed(
            error=f"feed has about {values:,} JSON values; at most {value_limit(max_items):,} "
            f"are read ({VALUES_PER_ITEM} an entry; raise [aggregate] max_items to read it)",
            status="too many entries",
        )
    problems = _Problems()
    document, error = _decode(body, problems)
    if error:
        return JsonFeed(error=f"not a feed ({error})")
    if not isinstance(document, dict):
        return JsonFeed(error=f"not a feed (JSON whose top level is {_kind(document)})")
    version = document.get("version")
    items = document.get("items")
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        if not isinstance(items, list):
            return JsonFeed(error="not a feed (a JSON object without JSON Feed's version or items)")
        problems.notes.append("no JSON Feed version")
    if not isinstance(items, list):
        problems.wrong("items", items)
        items = []
    if len(items) > max_items:
        return JsonFeed(items_in_body=len(items))
    home = _text(document, "home_page_url", "", problems)
    authors = _authors(document, "", problems)
    context = hashlib.sha256(
        json.dumps([READER, url, home, authors], ensure_ascii=True).encode("ascii")
    ).digest()
    entries: list[dict[str, Any]] = []
    hashes: list[str] = []
    unchanged: list[str] = []
    for number, item in enumerate(items):
        where = f"items[{number}]"
        if not isinstance(item, dict):
            problems.skipped.append(f"{where} ({_kind(item)})")
            continue
        try:
            item_hash = _hash(context, item)
        except RecursionError:  # decoded at the top level, too deep to write again down here
            problems.skipped.append(f"{where} (nested too deeply)")
            continue
        if known and item_hash in known:
            unchanged.append(item_hash)
            continue
        entry = _entry(item, where, authors, problems)
        if entry is None:
            problems.skipped.append(f"{where} (no id, url, title or content)")
            continue
        entries.append(entry)
        hashes.append(item_hash)
    if document.get("expired") is True:
        problems.notes.append("the feed says it has expired (no more items will come)")
    return JsonFeed(
        feed={"title_detail": _plain(_text(document, "title", "", problems)), "link": home},
        entries=entries,
        hashes=hashes,
        unchanged=tuple(unchanged),
        items_in_body=len(items),
        next_url=_text(document, "next_url", "", problems),
        feed_url=_text(document, "feed_url", "", problems),
        warning=problems.summary(),
    )


@dataclass
class _Problems:
    """What was wrong with a feed that could still be read, for its one-line warning."""

    wrong_types: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wrong(self, where: str, value: object) -> None:
        self.wrong_types.append(f"{where} ({_kind(value)})")

    def summary(self) -> str | None:
        parts = list(self.notes)
        if self.wrong_types:
            parts.append(
                f"{len(self.wrong_types)} field(s) of the wrong type ignored, "
                f"e.g. {self.wrong_types[0]}"
            )
        if self.skipped:
            parts.append(f"{len(self.skipped)} item(s) skipped, e.g. {self.skipped[0]}")
        if self.dates:
            parts.append(
                f"{len(self.dates)} unreadable date(s) ignored (RFC 3339 expected), "
                f"e.g. {self.dates[0][:60]!r}"
            )
        return "; ".join(parts) or None


def _decode(body: bytes, problems: _Problems) -> tuple[Any, str | None]:
    """The decoded document, or the one-line reason it is not JSON."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.notes.append(f"invalid UTF-8 at byte {exc.start:,} replaced")
        text = body.decode("utf-8", "replace")
    try:
        document = json.loads(
            text, parse_int=_Number, parse_float=_Number, parse_constant=lambda _: None
        )
    except json.JSONDecodeError as exc:
        return None, f"JSON error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    except RecursionError:
        return None, "JSON nested too deeply"
    return document, None


def _hash(context: bytes, item: dict[str, Any]) -> str:
    """The item's hash: its value with keys sorted (ASCII, so a lone surrogate is written as
    an escape rather than failing), with the feed around it."""
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(context + canonical.encode("ascii")).hexdigest()[:32]


def _entry(
    item: dict[str, Any], where: str, feed_authors: list[str], problems: _Problems
) -> dict[str, Any] | None:
    """One item as feedparser would give an Atom entry, or None when it has nothing to show."""
    guid = _id(item, where, problems)
    link = _text(item, "url", where, problems) or _text(item, "external_url", where, problems)
    title = _text(item, "title", where, problems)
    content = _text(item, "content_html", where, problems)
    if content is None:
        plain = _text(item, "content_text", where, problems)
        content = _paragraphs(plain) if plain else None
    summary = _text(item, "summary", where, problems)
    if not (guid or link or title or content or summary):
        return None
    entry: dict[str, Any] = {}
    if guid:
        entry["id"] = guid
    if link:
        entry["link"] = link
    if title is not None:
        entry["title"] = title
        entry["title_detail"] = _plain(title)
    if content:
        entry["content"] = [{"value": content, "type": "text/html"}]
    if summary:
        entry["summary"] = summary
        entry["summary_detail"] = {"value": summary, "type": "text/plain"}
    for key, name in (("date_published", "published"), ("date_modified", "updated")):
        text = _text(item, key, where, problems)
        if text:
            parsed = _date(text)
            if parsed is None:
                problems.dates.append(text)
            else:
                entry[name], entry[f"{name}_parsed"] = text, parsed
    authors = _authors(item, where, problems) or feed_authors  # 1.1: the feed's, if none
    if authors:
        entry["author"] = ", ".join(authors)
    tags = item.get("tags")
    if isinstance(tags, list):
        entry["tags"] = [{"term": clean_text(t)} for t in tags if type(t) is str]
        if len(entry["tags"]) < len(tags):
            problems.wrong(f"{where}.tags[]", next(t for t in tags if type(t) is not str))
    elif tags is not None:
        problems.wrong(f"{where}.tags", tags)
    return entry


def _id(item: dict[str, Any], where: str, problems: _Problems) -> str | None:
    """The item's id as text: JSON Feed 1.0 allowed a number, kept as written."""
    value = item.get("id")
    if isinstance(value, str):  # a _Number is one too
        return clean_text(str(value)).strip() or None
    if value is not None:
        problems.wrong(f"{where}.id", value)
    return None


def _text(obj: dict[str, Any], key: str, where: str, problems: _Problems) -> str | None:
    """A string field, cleaned and stripped (as feedparser strips XML text, so both formats
    give the same content); a value of another type is counted and ignored."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is str:
        return clean_text(value).strip()
    problems.wrong(f"{where}.{key}".lstrip("."), value)
    return None


def _authors(obj: dict[str, Any], where: str, problems: _Problems) -> list[str]:
    """Author names: 1.1's ``authors`` list, else 1.0's ``author`` object; an author whose
    URL is a ``mailto:`` reads "Name (address)", as feedparser writes an Atom author."""
    listed = obj.get("authors")
    if listed is None and "author" in obj:
        listed = [obj["author"]]
    if listed is None:
        return []
    if not isinstance(listed, list):
        problems.wrong(f"{where}.authors".lstrip("."), listed)
        return []
    names = []
    for person in listed:
        if not isinstance(person, dict):
            problems.wrong(f"{where}.authors[]".lstrip("."), person)
            continue
        name = " ".join((_text(person, "name", f"{where}.author", problems) or "").split())
        link = _text(person, "url", f"{where}.author", problems) or ""
        if name and link.lower().startswith("mailto:"):  # as feedparser gives an Atom <email>
            name = f"{name} ({link[7:].split('?')[0]})"
        if name:
            names.append(name)
    return list(dict.fromkeys(names))


def _date(text: str) -> time.struct_time | None:
    """An RFC 3339 date in UTC (a date alone is midnight, no offset is UTC), or None for text
    that is not one or names a day or time no calendar has. How far out a date may be is
    decided with the other formats' dates, in ``sources.parse``."""
    match = _RFC3339.match(text) if len(text) <= 64 else None
    if not match:
        return None
    return utc_time(*match.groups())


def _plain(text: str | None) -> dict[str, str]:
    """A feedparser text construct: JSON Feed's titles are plain text."""
    return {"value": text or "", "type": "text/plain"}


def _paragraphs(text: str) -> str:
    """``content_text`` as HTML: escaped, a paragraph per blank-line-separated block."""
    blocks = (b.strip() for b in re.split(r"\n\s*\n", text))
    return "".join(f"<p>{html.escape(b)}</p>" for b in blocks if b)


def _kind(value: object) -> str:
    """What a JSON value is, for a message: "a list", "a number", …"""
    if value is None:
        return "null"
    if isinstance(value, _Number):
        return "a number"
    if isinstance(value, str):
        return "text"
    return _KINDS.get(type(value), type(value).__name__)
