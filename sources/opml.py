"""OPML 2.0 source lists: the subscriptions a user keeps, in and out.

The project's list is a plain OPML file (``[aggregate] sources``) so it can be edited by hand,
shared and imported into any other reader. Parsing is lenient where readers in the wild are
(``url`` for ``xmlUrl``, missing ``type``), strict where it matters (a feed URL must be an
absolute http(s) URL); writing is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from feeds.errors import InputError
from feeds.output import write_atomically

DEFAULT_LIST = "default-sources.opml"


@dataclass(frozen=True)
class Source:
    """One subscription: the feed URL is its identity."""

    url: str
    title: str = ""
    category: str = ""  # OPML's comma-separated category attribute
    html_url: str = ""
    group: str = ""  # the parent outline's text, kept so export round-trips

    @property
    def categories(self) -> tuple[str, ...]:
        """Categories as a tuple ("official,foreign-policy" -> ("official", "foreign-policy"))."""
        return tuple(c.strip() for c in self.category.split(",") if c.strip())


def is_feed_url(url: str) -> bool:
    """An absolute http(s) URL: the only kind of feed address communique fetches."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def parse_opml(data: bytes, path: Path | str) -> list[Source]:
    """Every feed outline in an OPML document, in document order, without duplicates."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise InputError(
            path, line, f"not valid OPML/XML ({exc}); fix or re-export the file"
        ) from None
    if root.tag != "opml" or root.find("body") is None:
        raise InputError(path, 1, "not an OPML file (no <opml><body>); export the list as OPML")
    found: dict[str, Source] = {}

    def walk(element: ET.Element, group: str) -> None:
        for outline in element.findall("outline"):
            url = (
                outline.get("xmlUrl") or outline.get("xmlurl") or outline.get("url") or ""
            ).strip()
            text = outline.get("title") or outline.get("text") or ""
            if url and outline.get("type", "rss").lower() in {"rss", "atom", "feed", ""}:
                if not is_feed_url(url):
                    raise InputError(
                        path, None, f"feed URL {url!r} is not an absolute http(s) URL; fix it"
                    )
                found.setdefault(
                    url,
                    Source(
                        url=url,
                        title=text.strip(),
                        category=(outline.get("category") or "").strip(),
                        html_url=(outline.get("htmlUrl") or "").strip(),
                        group=group,
                    ),
                )
            walk(
                outline,
                (outline.get("text") or outline.get("title") or group) if not url else group,
            )

    walk(root.find("body"), "")  # type: ignore[arg-type]
    return list(found.values())


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
        ET.SubElement(parent, "outline", attributes)
    ET.indent(opml, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="utf-8") + b"\n"


def default_sources() -> list[Source]:
    """The EU foreign-policy list shipped with communique."""
    data = files("sources").joinpath(DEFAULT_LIST).read_bytes()
    return parse_opml(data, DEFAULT_LIST)


def load_source_list(path: Path) -> list[Source]:
    """The project's list; created from the shipped default the first time it is needed."""
    if not path.exists():
        save_source_list(path, default_sources())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None
    return parse_opml(data, path)


def save_source_list(path: Path, sources: Sequence[Source]) -> None:
    """Write the list atomically (a crash never leaves half an OPML file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, to_opml(sources))


def merge(
    existing: Sequence[Source], incoming: Iterable[Source]
) -> tuple[list[Source], list[Source]]:
    """``(merged list, sources that were new)``: existing entries win, order is kept."""
    known = {s.url for s in existing}
    added = []
    for source in incoming:
        if source.url not in known:
            known.add(source.url)
            added.append(source)
    return [*existing, *added], added


def moved(sources: Sequence[Source], old_url: str, new_url: str) -> list[Source]:
    """The list with one feed's URL changed (a learnt permanent redirect)."""
    if any(s.url == new_url for s in sources):  # already subscribed there: drop the old one
        return [s for s in sources if s.url != old_url]
    return [replace(s, url=new_url) if s.url == old_url else s for s in sources]
