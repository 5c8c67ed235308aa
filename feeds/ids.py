"""Entry ids that never change: ``tag:<host>,<first-publish-date>:<slug>`` (RFC 4151).

An id derived from build settings (the site URL, the output path) changes when they change,
and every reader then shows every article again as new (jekyll-feed #91). So an id is derived
once, from the host and the day the article was first published, and then written into the
article's front matter, where it stays whatever is renamed or moved later.
"""

from __future__ import annotations

import ipaddress
from datetime import date

from feeds.article import Article
from feeds.config import Site


def tag_id(site: Site, day: date, slug: str) -> str:
    """``tag:<host>,<day>:<slug>`` for the configured site."""
    return f"tag:{site.host},{day.isoformat()}:{slug}"


def derived_id(article: Article, site: Site) -> str:
    """The id an article gets when its front matter has none yet."""
    return tag_id(site, article.date.date(), article.slug)


def can_fix_ids(site: Site) -> bool:
    """Whether ids may be written into articles: only for a real site name.

    An id written during a first try-out (``tag:127.0.0.1,…``, ``tag:localhost,…``, a LAN
    address) would stay for ever and would not be the site's once it is published.
    """
    host = site.host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False  # an address is not a stable name, and IPv6 is not valid in tag: ids


def entry_id(article: Article, site: Site) -> str:
    """The article's id: the one in its front matter, else the derived one."""
    return article.id or derived_id(article, site)
