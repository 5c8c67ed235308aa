"""OPML 2.0 source lists: the subscriptions a user keeps, in and out.

The project's list is a plain OPML file (``[aggregate] sources``) so it can be edited by hand,
shared and imported into any other reader. Parsing is lenient where readers in the wild are
(``url`` for ``xmlUrl``, missing ``type``), strict where it matters: a feed URL must be one
communique can fetch (:mod:`sources.feed_url`), and a list is bounded (bytes, outlines, field
length) and never has its entities expanded, so no file can make the list balloon. Writing
is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from xml.etree import ElementTree as ET

from lxml import etree

from feeds.errors import InputError
from feeds.output import write_atomically
from sources.follow.feed_url import BadFeedUrl, check_feed_url, normalise_feed_url

DEFAULT_LIST = "default-sources.opml"
# communique's own outline attributes (``communique:fullText``) live in this namespace, so
# other readers ignore them and an export round-trips them
NAMESPACE = "urn:communique:opml"
ET.register_namespace("communique", NAMESPACE)
_FULL_TEXT_VALUES = {"on": "on", "auto": "auto", "off": "off", "true": "on", "false": "off"}
MAX_LIST_BYTES = 2 * 1024 * 1024  # bytes of an OPML file, read or written
MAX_OUTLINES = 10_000
MAX_FIELD_LENGTH = 2048  # characters in any attribute (title, text, xmlUrl, htmlUrl, ...)


@dataclass(frozen=True)
class Source:
    """One subscription: the feed URL is its identity."""

    url: str
    title: str = ""
    category: str = ""  # OPML's comma-separated category attribute
    html_url: str = ""
    group: str = ""  # the parent outline's text, kept so export round-trips
    # read items' pages: "on", "auto", "off"; "" (or, in the project's list, a value
    # communique does not know, kept as written and warned about) follows [aggregate]
    full_text: str = ""

    @property
    def categories(self) -> tuple[str, ...]:
        """Categories as a tuple ("official,foreign-policy" -> ("official", "foreign-policy"))."""
        return tuple(c.strip() for c in self.category.split(",") if c.strip())


@dataclass(frozen=True)
class Skipped:
    """A feed outline that cannot be used, as written, and why (``path:line: message``)."""

    source: Source
    problem: InputError


@dataclass(frozen=True)
class SourceList:
    """The usable feeds of an OPML document, the outlines skipped, how many repeated one, and
    what is wrong with feeds used all the same (``path:line: message``)."""

    sources: tuple[Source, ...]
    skipped: tuple[Skipped, ...] = ()
    duplicates: int = 0
    warnings: tuple[InputError, ...] = ()

    @property
    def kept(self) -> tuple[Source, ...]:
        """Skipped entries as written: a list rewritten by communique keeps the user's lines."""
        return tuple(s.source for s in self.skipped)


def parse_opml(data: bytes, path: Path | str) -> list[Source]:
    """The usable feeds of an OPML document, as written, in document order, without repeats."""
    return list(read_opml(data, path, normalise=False).sources)


def read_opml(data: bytes, path: Path | str, *, normalise: bool) -> SourceList:
    """Every feed outline in an OPML document, in document order, without duplicates.

    With ``normalise`` (a list coming in: ``sources import``) URLs are put into their canonical
    form (:func:`normalise_feed_url`) and repeats are counted; without it (the project's own
    list) URLs are kept as written, because the database knows each source by that spelling,
    and a second spelling of a feed already listed is skipped with its line (it would be
    polled twice). Either way an outline whose URL communique cannot fetch, or that carries
    a user name or password, is skipped with its line, and the rest are used. A
    ``communique:fullText`` that is not "on", "off" or "auto" skips the entry of a list
    coming in (it is named, as an invalid URL is); in the project's own list the feed is
    still polled, by ``[aggregate] full_text``, the value is kept as written, and
    ``warnings`` names its line. A document that is too big, has too many outlines or
    too long a field, or declares entities, is refused whole (:class:`InputError`).
    """
    if len(data) > MAX_LIST_BYTES:
        raise InputError(
            path,
            None,
            f"is {_size(len(data))}; a source list may be at most {_size(MAX_LIST_BYTES)}",
        )
    if b"<!ENTITY" in data:  # before parsing: nothing is expanded, not even once
        raise _entities(path, data.count(b"\n", 0, data.index(b"<!ENTITY")) + 1)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else None)
        raise InputError(
            path, line, f"not valid OPML/XML ({exc.msg}); fix or re-export the file"
        ) from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # e.g. in UTF-16
        raise _entities(path, 1)
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InputError(path, 1, "not an OPML file (no <opml><body>); export the list as OPML")
    for count, outline in enumerate(body.iter("outline"), start=1):
        if count > MAX_OUTLINES:
            raise InputError(
                path,
                outline.sourceline,
                f"more than {MAX_OUTLINES:,} outlines; a source list may have at most that many",
            )
        for name, value in outline.attrib.items():
            if len(value) > MAX_FIELD_LENGTH:
                raise InputError(
                    path,
                    outline.sourceline,
                    f"{name} is {len(value):,} characters long; the limit is {MAX_FIELD_LENGTH:,}",
                )
    found: dict[str, Source] = {}
    lines: dict[str, int | None] = {}  # canonical URL -> the line of its first entry
    skipped: list[Skipped] = []
    warnings: list[InputError] = []
    duplicates = 0

    def walk(element: etree._Element, group: str) -> None:
        nonlocal duplicates
        for outline in element.iterchildren("outline"):
            url = (
                outline.get("xmlUrl") or outline.get("xmlurl") or outline.get("url") or ""
            ).strip()
            text = (outline.get("title") or outline.get("text") or "").strip()
            if url and outline.get("type", "rss").lower() in {"rss", "atom", "feed", ""}:
                full_text, unknown = _full_text(outline)
                source = Source(
                    url=url,
                    title=_title(text),
                    category=(outline.get("category") or "").strip(),
                    html_url=(outline.get("htmlUrl") or "").strip(),
                    group=group,
                    full_text=full_text,
                )
                if normalise and unknown:  # a list coming in: the entry is not imported
                    problem: str | None = unknown
                else:
                    problem = _add(found, lines, source, outline.sourceline, normalise=normalise)
                if problem == "repeated":
                    duplicates += 1
                elif problem:
                    skipped.append(Skipped(source, InputError(path, outline.sourceline, problem)))
                elif unknown:  # the project's list: polled by [aggregate] full_text
                    warnings.append(InputError(path, outline.sourceline, unknown))
            walk(
                outline,
                (outline.get("text") or outline.get("title") or group) if not url else group,
            )

    walk(body, "")
    return SourceList(tuple(found.values()), tuple(skipped), duplicates, tuple(warnings))


def _title(text: str) -> str:
    """An outline's title, or "" when its text is only an address: the text an exporter (this
    one among them, :func:`to_opml`) writes when it knows no title. Taken as the title, the
    URL would stand in the digest for years where the feed's own title belongs."""
    scheme = text.partition(":")[0].lower()
    return "" if scheme in {"http", "https"} and not any(c.isspace() for c in text) else text


def _add(
    found: dict[str, Source],
    lines: dict[str, int | None],
    source: Source,
    line: int | None,
    *,
    normalise: bool,
) -> str | None:
    """Add one feed outline to ``found`` (keyed by canonical URL); else why not.

    ``"repeated"`` for a feed already there in a list coming in (counted, not named). In the
    project's own list a second spelling of a feed would be polled again, storing every item
    twice: it is named with the line of the first, which is the one polled (the database
    knows the source by that spelling). An entry with a user name or password is refused
    either way (:func:`normalise_feed_url`), so no password is fetched with, listed or
    exported.
    """
    try:
        check_feed_url(source.url)
        canonical = normalise_feed_url(source.url)
    except BadFeedUrl as exc:
        return str(exc)
    if canonical in found:
        if normalise:
            return "repeated"
        first = found[canonical].url
        return f"the same feed as line {lines[canonical]} ({first}), spelled differently"
    found[canonical] = replace(source, url=canonical if normalise else source.url)
    lines[canonical] = line
    return None


def _full_text(outline: etree._Element) -> tuple[str, str]:
    """The outline's ``communique:fullText`` ("on", "auto", "off"; "true"/"false" too; ""
    when it has none), and what is wrong with it: a value communique does not know is kept
    as written (a rewritten list keeps the user's line) and named, never silently dropped."""
    written = (outline.get(f"{{{NAMESPACE}}}fullText") or "").strip()
    if not written:
        return "", ""
    known = _FULL_TEXT_VALUES.get(written.lower())
    if known is not None:
        return known, ""
    shown = written if len(written) <= 40 else written[:39] + "…"
    return written, f'communique:fullText must be "on", "off" or "auto", not "{shown}"'


def _parser() -> etree.XMLParser:
    """libxml2 with every door shut: no entities, no DTD, no network, no huge documents."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _entities(path: Path | str, line: int) -> InputError:
    return InputError(
        path,
        line,
        "declares XML entities (<!ENTITY …>), which communique does not expand; "
        "remove the DOCTYPE (readers never write one)",
    )


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MiB" if count >= 1024 * 1024 else f"{count:,} bytes"


def to_opml(sources: Sequence[Source], title: str = "communique sources") -> bytes:
    """An OPML 2.0 document: sources grouped under their group outlines, in the given order."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(opml, "body")
    groups: dict[str, ET.Element] = {}
    for source in sources:
        parent = body
        if source.group:
            if source.group not in groups:
                groups[source.group] = ET.SubElement(body, "outline", text=source.group)
            parent = groups[source.group]
        attributes = {"type": "rss", "text": source.title or source.url, "xmlUrl": source.url}
        if source.title:
            attributes["title"] = source.title
        if source.html_url:
            attributes["htmlUrl"] = source.html_url
        if source.category:
            attributes["category"] = source.category
        if source.full_text:
            attributes[f"{{{NAMESPACE}}}fullText"] = source.full_text
        ET.SubElement(parent, "outline", attributes)
    ET.indent(opml, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="utf-8") + b"\n"


def default_sources() -> list[Source]:
    """The EU foreign-policy list shipped with communique."""
    data = files("sources.follow").joinpath(DEFAULT_LIST).read_bytes()
    return parse_opml(data, DEFAULT_LIST)


def read_source_list(path: Path, *, create: bool = True) -> SourceList:
    """The project's list; created from the shipped default the first time it is needed.

    Entries communique cannot fetch are in ``skipped`` (to warn about and to write back), so
    one mistyped URL costs that source, not every run. Without ``create`` (commands that
    only read) a missing list is the shipped default, and nothing is written: looking at an
    empty folder leaves it empty.
    """
    if not path.exists():
        if not create:
            return SourceList(tuple(default_sources()))
        save_source_list(path, default_sources())
    return read_opml(_read(path), path, normalise=False)


def load_source_list(path: Path, *, create: bool = True) -> list[Source]:
    """The usable sources of the project's list (see :func:`read_source_list`)."""
    return list(read_source_list(path, create=create).sources)


def read_import(path: Path) -> SourceList:
    """A list to import: size-checked before it is read, URLs in their canonical form."""
    return read_opml(_read(path), path, normalise=True)


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_LIST_BYTES + 1)  # never more than the limit in memory
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None
    if len(data) > MAX_LIST_BYTES:
        raise InputError(
            path,
            None,
            f"is larger than {_size(MAX_LIST_BYTES)}, the limit for a source list; split it",
        )
    return data


def save_source_list(path: Path, sources: Sequence[Source], kept: Sequence[Source] = ()) -> None:
    """Write the list atomically (a crash never leaves half an OPML file).

    ``kept`` are entries that were skipped when the list was read, written back after the
    others so a user's line is never dropped by a command that rewrote the list. A list that
    could not be read back (over :data:`MAX_OUTLINES` or :data:`MAX_LIST_BYTES`) is refused.
    """
    everything = [*sources, *kept]
    outlines = len(everything) + len({s.group for s in everything if s.group})
    if outlines > MAX_OUTLINES:
        raise InputError(
            path, None, f"would have {outlines:,} outlines; a source list may have {MAX_OUTLINES:,}"
        )
    data = to_opml(everything)
    if len(data) > MAX_LIST_BYTES:
        raise InputError(
            path, None, f"would be {_size(len(data))}; a source list may be {_size(MAX_LIST_BYTES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data)


def merge(
    existing: Sequence[Source], incoming: Iterable[Source]
) -> tuple[list[Source], list[Source], list[tuple[Source, Source]]]:
    """``(merged list, sources that were new, (incoming, existing) already subscribed)``.

    A source is already subscribed when its URL, in canonical form, is that of an existing
    entry in canonical form: ``HTTP://Host/feed`` and ``http://host/feed`` are one feed.
    Existing entries win (their spelling and title), order is kept.
    """
    known = {_canonical(s.url): s for s in existing}
    added, already = [], []
    for source in incoming:
        key = _canonical(source.url)
        if key in known:
            already.append((source, known[key]))
        else:
            known[key] = source
            added.append(source)
    return [*existing, *added], added, already


def _canonical(url: str) -> str:
    try:
        return normalise_feed_url(url)
    except BadFeedUrl:  # an entry written before URLs were checked: compared as written
        return url


def find_source(sources: Sequence[Source], url: str) -> Source | None:
    """The entry for ``url``: spelled exactly so, else the same feed in canonical form."""
    exact = next((s for s in sources if s.url == url), None)
    return exact or next((s for s in sources if _canonical(s.url) == _canonical(url)), None)


def moved(sources: Sequence[Source], old_url: str, new_url: str) -> list[Source]:
    """The list with one feed's URL changed (a learnt permanent redirect)."""
    if any(s.url == new_url for s in sources):  # already subscribed there: drop the old one
        return [s for s in sources if s.url != old_url]
    return [replace(s, url=new_url) if s.url == old_url else s for s in sources]
