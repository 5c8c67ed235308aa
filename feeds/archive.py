"""RFC 5005 archived feeds: every entry reachable from the current feed, pages that never
change. Pure.

A feed document carries the newest ``entries_per_feed`` entries, so a new subscriber of a
site with a long history sees only its end. RFC 5005 (section 4) adds archive documents: the
current feed links ``prev-archive`` to the newest archive, each archive links to the one
before it (and after it), and readers that follow the links get every entry.

Archives are pages of a fixed size, counted from the oldest entry: page 1 holds the oldest
``size`` entries, page 2 the next, and a page exists once it is full. Monthly archives were
the alternative; they were not chosen because the current month's archive would change with
every article (archive documents must be stable) or, left out until the month ends, a month
with more articles than the current feed shows would leave some unreachable. With fixed
pages of the current feed's size, whatever no full page holds yet is in the current feed, a
new article changes only the current feed, and when it fills a page one archive is added (and
the one before it gains its ``next-archive`` link). Only editing an archived article, or
publishing one dated before archived ones, changes pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

FOLDER = "archive/"
NAMES = {"atom": "atom-{n}.xml", "rss": "rss-{n}.xml", "json": "feed-{n}.json"}


def pages(newest_first: Sequence[T], size: int) -> list[tuple[int, tuple[T, ...]]]:
    """The full pages of ``size`` entries, oldest page first, each page's entries newest
    first (as feeds list them); the entries no full page holds yet are left out."""
    oldest_first = list(reversed(newest_first))
    full = len(oldest_first) // size
    return [
        (number, tuple(reversed(oldest_first[(number - 1) * size : number * size])))
        for number in range(1, full + 1)
    ]


def urls(base: str, number: int) -> dict[str, str]:
    """The three documents of archive page ``number`` under the feed's folder URL ``base``."""
    return {kind: f"{base}{FOLDER}{name.format(n=number)}" for kind, name in NAMES.items()}


def paths(prefix: str, number: int) -> dict[str, str]:
    """Output paths of archive page ``number`` of the feed in folder ``prefix``."""
    return {kind: f"{prefix}{FOLDER}{name.format(n=number)}" for kind, name in NAMES.items()}


def current_links(base: str, count: int) -> dict[str, dict[str, str]]:
    """The current feed's links to its newest archive page (none without archives)."""
    if not count:
        return {}
    newest = urls(base, count)
    return {
        "atom": {"prev-archive": newest["atom"]},
        "rss": {"prev-archive": newest["rss"]},
        "json": {"next": newest["json"]},
    }


def page_links(
    base: str, number: int, count: int, current: dict[str, str]
) -> dict[str, dict[str, str]]:
    """Archive page ``number`` of ``count``: the current feed, and the pages around it."""
    links: dict[str, dict[str, str]] = {
        kind: {"current": current[kind]} for kind in ("atom", "rss")
    }
    links["json"] = {}
    if number > 1:
        older = urls(base, number - 1)
        links["atom"]["prev-archive"] = older["atom"]
        links["rss"]["prev-archive"] = older["rss"]
        links["json"]["next"] = older["json"]
    if number < count:
        newer = urls(base, number + 1)
        links["atom"]["next-archive"] = newer["atom"]
        links["rss"]["next-archive"] = newer["rss"]
    return links
