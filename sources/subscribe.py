"""Adding a source: fetch what the user gave, find the feed behind a web page, check it parses.

A user pastes whatever URL they have, often a site's home page. This shell fetches it once,
and when it is HTML, follows the page's autodiscovery links to the best feed (Atom, then RSS,
then JSON Feed) and says which it chose.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sources.discover import discover_feeds, looks_like_html
from sources.fetch import Fetcher, FetchRequest, FetchResult
from sources.parse import parse_feed
from sources.settings import AggregateSettings


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
            candidates = discover_feeds(body.decode("utf-8", "replace"), result.final_url or url)
            if not candidates:
                raise NotAFeed(
                    f"{url} is a web page that links to no feed; give the feed's own URL"
                )
            chosen = candidates[0]
            others = (
                f" (also offered: {', '.join(c.url for c in candidates[1:])})"
                if len(candidates) > 1
                else ""
            )
            note = f"{url} is a web page; chose its {chosen.type} feed {chosen.url}{others}"
            feed_result = await fetcher.fetch(FetchRequest(chosen.url))
            title = _title(_body(feed_result), feed_result) or chosen.title
            return FoundFeed(chosen.url, title, note)
        title = _title(body, result)
        final = result.permanent_url or url
        note = (
            f"{url} permanently redirects to {final}; subscribed there"
            if final != url
            else f"{url} is a feed"
        )
        return FoundFeed(final, title, note)


def _body(result: FetchResult) -> bytes:
    if result.status != 200 or result.body is None:
        raise NotAFeed(f"cannot fetch {result.url}: {result.error or f'HTTP {result.status}'}")
    return result.body


def _title(body: bytes, result: FetchResult) -> str:
    parsed = parse_feed(
        body, result.final_url or result.url, result.content_type, result.fetched_at
    )
    if parsed.error:
        raise NotAFeed(f"{result.url} is not a feed ({parsed.error})")
    return parsed.title
