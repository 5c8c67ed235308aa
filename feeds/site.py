"""HTML pages: the index, one page per tag and one per article (Jinja2, no JavaScript).

Every feed entry links to an article page and every feed links to an index page; a feed whose
links 404 is broken, so the pages are built in the same pass as the feeds. Page links are
site-relative paths, so a local preview works whatever ``base_url`` says; feeds use absolute URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import urlsplit

from markupsafe import Markup

from feeds.config import Site
from feeds.dates import human_date, rfc3339
from feeds.render import RenderedArticle
from feeds.slug import tag_dir
from feeds.templating import templates

STYLESHEET = "style.css"


@dataclass(frozen=True)
class FeedLink:
    """One feed format: its autodiscovery ``<link rel="alternate">`` and its footer link.

    The footer shows ``label`` ("Atom"); ``hidden`` finishes the link's accessible name for
    screen readers ("Atom feed of the whole site"), so a page that links two feeds never has
    two links named "Atom" that go to different places.
    """

    type: str
    title: str
    href: str
    label: str
    hidden: str = ""


@dataclass(frozen=True)
class FeedGroup:
    """One feed in its three formats, under the label the footer shows before them."""

    label: str
    links: tuple[FeedLink, ...]


def stylesheet() -> bytes:
    """The one stylesheet every page links to."""
    return files("feeds").joinpath("templates", STYLESHEET).read_bytes()


def site_path(url: str) -> str:
    """The path part of a URL: pages link with it so a preview on another host still works."""
    return urlsplit(url).path or "/"


def _item(rendered: RenderedArticle, site: Site) -> dict[str, object]:
    article = rendered.article
    zone = site.tz
    return {
        "title": article.title,
        "path": site_path(rendered.url),
        "datetime": rfc3339(article.date),
        "date": human_date(article.date, zone),
        "updated": human_date(article.updated, zone) if article.updated else None,
        "updated_datetime": rfc3339(article.updated) if article.updated else None,
        "authors": ", ".join(p.name for p in article.authors),
        "reading_minutes": rendered.reading_minutes,
        "summary": rendered.summary_text,
        "content": Markup(rendered.content_html),  # sanitised in render.py
        "lang": article.lang,
        "tags": [
            {"name": name, "path": site_path(site.base_url + tag_dir(name))}
            for name in article.tags
        ],
    }


def feed_links(urls: dict[str, str], title: str, label: str, of: str) -> FeedGroup:
    """One feed's three formats; ``title`` names it in autodiscovery, ``of`` in link names."""
    return FeedGroup(
        label,
        (
            FeedLink(
                "application/atom+xml",
                f"{title} (Atom)",
                site_path(urls["atom"]),
                "Atom",
                f" feed of {of}",
            ),
            FeedLink(
                "application/rss+xml",
                f"{title} (RSS)",
                site_path(urls["rss"]),
                "RSS",
                f" feed of {of}",
            ),
            FeedLink(
                "application/feed+json",
                f"{title} (JSON Feed)",
                site_path(urls["json"]),
                "JSON Feed",
                f" of {of}",
            ),
        ),
    )


def site_feeds(site: Site, urls: dict[str, str]) -> FeedGroup:
    """The whole site's feed, linked from every page."""
    return feed_links(urls, site.title, "Whole site", "the whole site")


def tag_feeds(urls: dict[str, str], title: str, name: str) -> FeedGroup:
    """A tag's own feed, linked (before the site's) from its tag page."""
    return feed_links(urls, title, "This tag", f"the tag “{name}”")


def favicon_href(site: Site) -> str:
    """The page's ``<link rel="icon">``: the configured icon, else an empty ``data:`` URL.

    With no icon link at all every browser asks for ``/favicon.ico`` on every page, and the
    404 is a console error; ``data:,`` tells it there is no icon to fetch.
    """
    if not site.favicon:
        return "data:,"
    return site_path(site.favicon) if site.favicon.startswith(site.base_url) else site.favicon


def _page(
    template: str,
    site: Site,
    canonical: str,
    description: str,
    feeds: Sequence[FeedGroup],
    **extra: object,
) -> bytes:
    """Render one page with the context every page shares (base.html needs all of it)."""
    html = (
        templates("feeds")
        .get_template(template)
        .render(
            site=site,
            lang=site.language,
            root=site_path(site.base_url),
            canonical=canonical,
            description=description,
            feeds=feeds,
            favicon=favicon_href(site),
            **extra,
        )
    )
    return html.encode("utf-8")


def list_page(
    site: Site,
    heading: str,
    canonical: str,
    articles: Sequence[RenderedArticle],
    feeds: Sequence[FeedGroup],
    *,
    title: str = "",
    description: str | None = None,
) -> bytes:
    """The index or a tag page: articles newest first, with their feeds for autodiscovery.

    ``title`` is the ``<title>`` (the site's by default), ``description`` the meta
    description (the site's subtitle by default).
    """
    items = [_item(a, site) for a in articles]
    return _page(
        "index.html",
        site,
        canonical,
        site.subtitle if description is None else description,
        feeds,
        title=title or site.title,
        heading=heading,
        articles=items,
    )


def tag_page(
    site: Site,
    name: str,
    canonical: str,
    articles: Sequence[RenderedArticle],
    feeds: Sequence[FeedGroup],
) -> bytes:
    """A tag's page, with a ``<title>`` and description of its own: a search result or a
    browser tab that said only the site's name would not say which tag the page is about."""
    count = len(articles)
    return list_page(
        site,
        f"Tagged “{name}”",
        canonical,
        articles,
        feeds,
        title=f"Tagged “{name}” · {site.title}",
        description=f"{count} article{'' if count == 1 else 's'} tagged “{name}” on {site.title}.",
    )


def article_page(site: Site, rendered: RenderedArticle, feeds: Sequence[FeedGroup]) -> bytes:
    """One article's page, at the URL its feed entries link to."""
    item = _item(rendered, site)
    return _page(
        "article.html",
        site,
        rendered.url,
        rendered.summary_text,
        feeds,
        item=item,
        image=rendered.image,  # og:image: the picture link previews show (absolute)
    )
