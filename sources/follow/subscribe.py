"""Adding a source: fetch what the user gave, find the feed behind a web page, check it parses.

A user pastes whatever URL they have, often a site's home page. This shell fetches it once,
and when it is HTML, follows the page's autodiscovery links to the best working feed (Atom,
then RSS, then JSON Feed) and says which it chose. The URL it returns is in canonical form
(:func:`sources.feed_url.normalise_feed_url`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sources.follow.discover import discover_feeds, looks_like_html
from sources.follow.feed_url import BadFeedUrl, normalise_feed_url
from sources.follow.parse import parse_feed
from sources.http.fetch import Fetcher, FetchRequest, FetchResult
from sources.http.network import PUBLIC
from sources.settings import AggregateSettings

MAX_CANDIDATES = 5  # feeds of one web page fetched before giving up


class NotAFeed(Exception):
    """The URL gives neither a feed nor a page that links to one."""


@dataclass(frozen=True)
class FoundFeed:
    """The feed to subscribe to, its title, and how it was found."""

    url: str
    title: str
    note: str


def find_feed(url: str, settings: AggregateSettings) -> FoundFeed:
    """The feed at ``url``, or the one its page links to; raises :class:`NotAFeed`."""
    return asyncio.run(_find_feed(url, settings))


async def _find_feed(url: str, settings: AggregateSettings) -> FoundFeed:
    async with Fetcher(settings) as fetcher:
        result = await fetcher.fetch(FetchRequest(url))
        body = _body(result)
        if looks_like_html(body, result.content_type):
            return await _from_page(fetcher, url, body, result)
        title = _title(body, result, settings.max_items)
        final = _valid(result.permanent_url or url)
        note = (
            f"{url} permanently redirects to {final}; subscribed there"
            if final != url
            else f"{url} is a feed"
        )
        return FoundFeed(final, title, note)


async def _from_page(fetcher: Fetcher, url: str, body: bytes, result: FetchResult) -> FoundFeed:
    """The first of the page's feeds that fetches and parses, best first.

    A page may offer ``file:``/``javascript:`` links or feeds that are down; those are passed
    over (and named) rather than ending the search, but at most :data:`MAX_CANDIDATES` are
    fetched, so a page listing thousands of feeds costs a few requests.
    """
    offered = discover_feeds(body.decode("utf-8", "replace"), result.final_url or url)
    if not offered:
        raise NotAFeed(f"{url} is a web page that links to no feed; give the feed's own URL")
    passed_over: list[str] = []
    tried = 0
    for candidate in offered:
        try:
            feed_url = normalise_feed_url(candidate.url)
        except BadFeedUrl as exc:
            passed_over.append(str(exc))
            continue
        if tried == MAX_CANDIDATES:
            break
        tried += 1
        # a feed the page links to may reach only the page's own network (sources.network)
        feed_result = await fetcher.fetch(FetchRequest(feed_url, reach=result.network or PUBLIC))
        try:
            title = (
                _title(_body(feed_result), feed_result, fetcher.settings.max_items)
                or candidate.title
            )
        except NotAFeed as exc:
            passed_over.append(str(exc))
            continue
        others = [c.url for c in offered if c is not candidate]
        also = f" (also offered: {_some(others)})" if others else ""
        note = f"{url} is a web page; chose its {candidate.type} feed {feed_url}{also}"
        if passed_over:
            note += f"; passed over: {_some(passed_over)}"
        return FoundFeed(feed_url, title, note)
    raise NotAFeed(
        f"{url} is a web page whose feeds do not work (fetched {tried} of {len(offered)}): "
        + _some(passed_over)
    )


def _valid(url: str) -> str:
    try:
        return normalise_feed_url(url)
    except BadFeedUrl as exc:
        raise NotAFeed(str(exc)) from None


def _some(texts: list[str]) -> str:
    """At most five, then how many more: a hostile page cannot flood the terminal."""
    shown = ", ".join(texts[:5])
    return shown + (f" and {len(texts) - 5} more" if len(texts) > 5 else "")


def _body(result: FetchResult) -> bytes:
    if result.status != 200 or result.body is None:
        raise NotAFeed(f"cannot fetch {result.url}: {result.error or f'HTTP {result.status}'}")
    return result.body


def _title(body: bytes, result: FetchResult, max_items: int) -> str:
    parsed = parse_feed(
        body,
        result.final_url or result.url,
        result.content_type,
        result.fetched_at,
        max_items=max_items,
    )
    if parsed.error:  # "not a feed (an HTML page)", "feed has 9,000 entries; …"
        raise NotAFeed(f"{result.url}: {parsed.error}")
    return parsed.title
