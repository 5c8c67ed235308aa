"""Feed autodiscovery: the ``<link rel="alternate">`` feeds an HTML page announces. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = {
    "application/atom+xml": 0,  # preferred: the best-specified format
    "application/rss+xml": 1,
    "application/rdf+xml": 2,
    "application/feed+json": 3,
    "application/json": 4,
}


@dataclass(frozen=True)
class DiscoveredFeed:
    """One feed a page links to."""

    url: str
    type: str
    title: str


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """A web page rather than a feed (by media type, else by its first bytes)."""
    if content_type and "html" in content_type.lower():
        return True
    start = body[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html"))


def discover_feeds(html: str, page_url: str) -> list[DiscoveredFeed]:
    """Feeds announced by the page, best first (Atom, RSS, RDF, JSON Feed; then page order)."""
    parser = _LinkCollector()
    parser.feed(html)
    found: dict[str, DiscoveredFeed] = {}
    for attributes in parser.links:
        rel = (attributes.get("rel") or "").lower().split()
        media_type = (attributes.get("type") or "").lower().split(";")[0].strip()
        href = (attributes.get("href") or "").strip()
        if "alternate" in rel and media_type in FEED_TYPES and href:
            url = urljoin(parser.base or page_url, href)
            found.setdefault(
                url, DiscoveredFeed(url, media_type, (attributes.get("title") or "").strip())
            )
    return sorted(found.values(), key=lambda f: FEED_TYPES[f.type])


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link":
            self.links.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
