"""Feed documents: Atom 1.0 and RSS 2.0 (through feedgen) and JSON Feed 1.1 (through json).

This is the one module that knows feed formats. It takes plain :class:`Feed` and
:class:`Entry` records, so the article publisher and the digest (``sources/``) write feeds
that are valid in exactly the same way. feedgen's known traps are handled here once:

* ``updated`` and RSS ``lastBuildDate`` default to the build time: both are always set from
  the entries, so an unchanged site gives unchanged bytes (jekyll-feed #90);
* one generator shares one ``rel="self"`` link between formats: each format gets its own
  generator with its own self link, added first so that RSS ``<link>`` is the alternate one;
* ``content(type='CDATA')`` is invalid Atom: content is ``type="html"`` (escaped);
* RSS drops authors without an email: the ``dc`` extension writes them as ``dc:creator``;
* ``add_entry()`` prepends by default: entries are appended in the order given (callers
  sort them; the publisher puts the newest first);
* the ``media`` extension wraps elements in ``<media:group>`` by default, which the W3C
  validator rejects for a single picture (MediaGroupWithoutAlternatives): they are written
  directly in the entry, and the namespace is declared only in feeds that have a picture.
* RSS output keeps only the ``rel="self"`` ``atom:link``: WebSub ``rel="hub"`` links are
  added to the channel here, after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import Person
from feeds.dates import rfc3339, rss_safe
from feeds.picture import media_type

GENERATOR = "communique"
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)  # a fixed date for a feed with no entries

MEDIA_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_ATOM_NS = "{http://www.w3.org/2005/Atom}"
FH = "http://purl.org/syndication/history/1.0"  # RFC 5005's namespace
_FH_NS = "{" + FH + "}"


@dataclass(frozen=True)
class Entry:
    """One feed entry, format-neutral. HTML fields must already be sanitised and absolute."""

    id: str
    title: str
    url: str
    published: datetime
    updated: datetime
    authors: tuple[Person, ...]
    content_html: str
    summary_html: str | None = None
    summary_text: str = ""
    categories: tuple[str, ...] = ()
    language: str | None = None
    image: str | None = None  # an absolute URL of the entry's picture


@dataclass(frozen=True)
class Feed:
    """One feed's metadata; ``urls`` maps each format ("atom", "rss", "json") to its public URL."""

    id: str
    title: str
    home_url: str
    urls: dict[str, str]
    language: str
    author: Person
    subtitle: str = ""
    rights: str = ""
    icon: str = ""
    entries: tuple[Entry, ...] = field(default_factory=tuple)
    # RFC 5005 archived feeds: ``paging[kind]`` maps a relation (prev-archive, next-archive,
    # current; "next" for JSON Feed's next_url) to the URL of that format's document
    paging: dict[str, dict[str, str]] = field(default_factory=dict)
    archive: bool = False  # an archive document: its entries never change (fh:archive)
    hubs: tuple[str, ...] = ()  # WebSub hubs subscribers may use (rel="hub", JSON "hubs")

    @property
    def updated(self) -> datetime:
        """The newest entry update, never the build time."""
        return max((e.updated for e in self.entries), default=EMPTY_FEED_UPDATED)


def _person(person: Person) -> dict[str, str]:
    values = {"name": person.name}
    if person.email:
        values["email"] = person.email
    if person.uri:
        values["uri"] = person.uri
    return values


def _generator(feed: Feed, kind: str) -> FeedGenerator:
    generator = FeedGenerator()
    if kind == "rss":  # dc:creator is RSS's only: loading it costs every Atom feed a tenth of
        generator.load_extension("dc", atom=False, rss=True)  # a millisecond, for nothing
    generator.id(feed.id)
    generator.title(feed.title)
    generator.updated(feed.updated)
    generator.lastBuildDate(rss_safe(feed.updated))
    # self first, alternate last: feedgen's RSS <link> is the last link added.
    generator.link(href=feed.urls[kind], rel="self", type=MEDIA_TYPES[kind])
    for hub in feed.hubs:  # Atom only: feedgen writes no atom:link but self's into RSS
        generator.link(href=hub, rel="hub")
    generator.link(href=feed.home_url, rel="alternate", type="text/html")
    generator.author(_person(feed.author))
    if feed.author.email:
        generator.managingEditor(f"{feed.author.email} ({feed.author.name})")
    generator.language(feed.language)
    if kind == "rss":  # RSS requires a description; feedgen would copy it into Atom's subtitle
        generator.description(feed.subtitle or feed.title)
    elif feed.subtitle:
        generator.subtitle(feed.subtitle)
    if feed.rights:
        generator.rights(feed.rights)
    if feed.icon:
        generator.icon(feed.icon)
        generator.logo(feed.icon)
    generator.generator(GENERATOR)
    if any(entry.image for entry in feed.entries):
        generator.load_extension("media", atom=True, rss=True)
    for entry in feed.entries:
        item = generator.add_entry(order="append")
        item.id(entry.id)
        item.guid(entry.id, permalink=entry.id == entry.url)
        item.title(entry.title)
        item.link(href=entry.url, rel="alternate", type="text/html")
        item.published(entry.published if kind == "atom" else rss_safe(entry.published))
        item.updated(entry.updated)
        for person in entry.authors:
            item.author(_person(person) if kind == "atom" else {"name": person.name})
        if kind == "rss":
            _rss_authors(item, entry.authors)
        item.content(entry.content_html, type="html")
        if entry.summary_html:
            item.summary(entry.summary_html, type="html")
        for name in entry.categories:
            item.category(term=name)
        if entry.image:
            _media(item, entry.image)
    return generator


def _media(item: FeedEntry, url: str) -> None:
    """The entry's picture as Media RSS: ``media:content`` says what it is, and
    ``media:thumbnail`` is what readers (Feedly, Inoreader, NetNewsWire) show beside it."""
    content = {"url": url, "medium": "image"}
    kind = media_type(url)
    if kind:
        content["type"] = kind
    item.media.content(content, group=None)
    item.media.thumbnail({"url": url}, group=None)


def _rss_authors(item: FeedEntry, authors: tuple[Person, ...]) -> None:
    """RSS allows one ``<author>``, and only as an email address: a single author with an email
    gets it; everyone else is named in ``dc:creator``, one element per person."""
    if len(authors) == 1 and authors[0].email:
        item.author(_person(authors[0]), replace=True)
    else:
        item.dc.dc_creator([p.name for p in authors])


def atom_bytes(feed: Feed) -> bytes:
    """An RFC 4287 document; ``xml:lang`` on the feed and on entries in another language;
    RFC 5005 archive links and marker where the feed has them."""
    document = _generator(feed, "atom").atom_str(pretty=True, encoding="UTF-8")
    parser = etree.XMLParser(remove_blank_text=True)
    root = etree.fromstring(document, parser)
    if feed.paging.get("atom") or feed.archive:  # declared on the root, not on each element
        root = _with_history_namespace(root)
    root.set(f"{_XML_NS}lang", feed.language)
    for element, entry in zip(root.iter(f"{_ATOM_NS}entry"), feed.entries, strict=True):
        if entry.language and entry.language != feed.language:
            element.set(f"{_XML_NS}lang", entry.language)
    first_entry = root.find(f"{_ATOM_NS}entry")
    extra = [
        etree.Element(f"{_ATOM_NS}link", href=url, rel=rel, type=MEDIA_TYPES["atom"])
        for rel, url in feed.paging.get("atom", {}).items()
    ]
    if feed.archive:
        extra.append(etree.Element(f"{_FH_NS}archive"))
    for element in extra:  # before the entries, where feed-level elements belong
        if first_entry is not None:
            first_entry.addprevious(element)
        else:
            root.append(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _with_history_namespace(root: etree._Element) -> etree._Element:
    """``root`` again, declaring the RFC 5005 ``fh`` prefix once at the top."""
    nsmap = {**root.nsmap, "fh": FH}
    copy = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    copy.text = root.text
    for child in root:
        copy.append(child)
    return copy


# RSS elements that carry plain text, not HTML.
_RSS_PLAIN_TEXT = re.compile(
    rb"(<(title|category|author|dc:creator|copyright|managingEditor|webMaster|generator)\b[^>]*>)(.*?)(</\2>)",
    re.DOTALL,
)
_RSS_CHANNEL_DESCRIPTION = re.compile(rb"(<(description)>)(.*?)(</\2>)", re.DOTALL)
_HEX_REFERENCES = {b"&amp;": b"&#x26;", b"&lt;": b"&#x3C;", b"&gt;": b"&#x3E;"}


def rss_bytes(feed: Feed) -> bytes:
    """An RSS 2.0 document following the RSS Advisory Board's best practices.

    The RSS Profile asks for ``&`` and ``<`` in plain-text elements as hexadecimal character
    references, so readers that guess whether a title is HTML cannot mistake "EU & <Japan>"
    for markup; the W3C validator warns otherwise.
    """
    document = _with_rss_hubs(_generator(feed, "rss").rss_str(pretty=True, encoding="UTF-8"), feed)
    if feed.paging.get("rss") or feed.archive:  # before the references below: lxml undoes them
        document = _rss_history(document, feed)

    def hex_refs(match: re.Match[bytes]) -> bytes:
        text = match.group(3)
        for entity, reference in _HEX_REFERENCES.items():
            text = text.replace(entity, reference)
        return match.group(1) + text + match.group(4)

    # the channel's <description> is plain text too (an item's is HTML): it comes before any item
    head, item_marker, rest = document.partition(b"<item>")
    head = _RSS_CHANNEL_DESCRIPTION.sub(hex_refs, head, count=1)
    return _RSS_PLAIN_TEXT.sub(hex_refs, head + item_marker + rest)


def _rss_history(document: bytes, feed: Feed) -> bytes:
    """RFC 5005 in RSS: ``atom:link`` archive relations and ``fh:archive`` in the channel."""
    root = etree.fromstring(document, etree.XMLParser(remove_blank_text=True))
    root = _with_history_namespace(root)
    channel = root.find("channel")
    assert channel is not None
    first_item = channel.find("item")
    extra = [
        etree.Element(f"{_ATOM_NS}link", href=url, rel=rel, type=MEDIA_TYPES["rss"])
        for rel, url in feed.paging.get("rss", {}).items()
    ]
    if feed.archive:
        extra.append(etree.Element(f"{_FH_NS}archive"))
    for element in extra:
        if first_item is not None:
            first_item.addprevious(element)
        else:
            channel.append(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _with_rss_hubs(document: bytes, feed: Feed) -> bytes:
    """The RSS document with an ``atom:link rel="hub"`` per hub after the self link.

    WebSub subscribers discover hubs from these links (W3C WebSub 4); a feed without hubs
    is returned untouched, byte for byte.
    """
    if not feed.hubs:
        return document
    root = etree.fromstring(document)
    self_link = root.find(f"channel/{_ATOM_NS}link[@rel='self']")
    assert self_link is not None  # _generator always adds it
    anchor = self_link
    for hub in feed.hubs:
        link = etree.Element(f"{_ATOM_NS}link", href=hub, rel="hub")
        link.tail = self_link.tail  # the same indentation as the self link
        anchor.addnext(link)
        anchor = link
    newline = b"\n" if document.endswith(b"\n") else b""  # as feedgen ends it
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + newline


def json_bytes(feed: Feed) -> bytes:
    """A JSON Feed 1.1 document (https://www.jsonfeed.org/version/1.1/)."""
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home_url,
        "feed_url": feed.urls["json"],
    }
    if feed.subtitle:
        document["description"] = feed.subtitle
    if feed.icon:
        document["icon"] = feed.icon
        document["favicon"] = feed.icon
    document["authors"] = [_json_author(feed.author)]
    document["language"] = feed.language
    if feed.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in feed.hubs]
    document["items"] = [_json_item(entry) for entry in feed.entries]
    older = feed.paging.get("json", {}).get("next")
    if older:  # JSON Feed paging: the next page holds the older items
        document["next_url"] = older
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _json_author(person: Person) -> dict[str, str]:
    author = {"name": person.name}
    url = person.uri or (f"mailto:{person.email}" if person.email else None)
    if url:
        author["url"] = url
    return author


def _json_item(entry: Entry) -> dict[str, object]:
    item: dict[str, object] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "content_html": entry.content_html,
    }
    if entry.summary_html:
        item["summary"] = entry.summary_text
    if entry.image:
        item["image"] = entry.image
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    item["authors"] = [_json_author(p) for p in entry.authors]
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.language:
        item["language"] = entry.language
    return item


WRITERS = {"atom": atom_bytes, "rss": rss_bytes, "json": json_bytes}
FILENAMES = {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}


def feed_documents(feed: Feed) -> dict[str, bytes]:
    """All three documents of one feed, keyed by file name."""
    return {FILENAMES[kind]: write(feed) for kind, write in WRITERS.items()}
