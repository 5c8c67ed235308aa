"""Entry ids that never change: ``tag:<host>,<first-publish-date>:<slug>`` (RFC 4151).

An id derived from build settings (the site URL, the output path) changes when they change,
and every reader then shows every article again as new (jekyll-feed #91). So an id is derived
once, from the host and the day the article was first published, and then written into the
article's front matter, where it stays whatever is renamed or moved later.
"""

from __future__ import annotations

from feeds.article import Article
from feeds.config import Site


def derived_id(article: Article, site: Site) -> str:
    """The id an article gets when its front matter has none yet."""
    return f"tag:{site.host},{article.date.date().isoformat()}:{article.slug}"


def entry_id(article: Article, site: Site) -> str:
    """The article's id: the one in its front matter, else the derived one."""
    return article.id or derived_id(article, site)
