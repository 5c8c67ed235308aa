"""Markdown -> safe HTML with absolute URLs, plus the summary and reading time readers show.

Every fragment goes through the one sanitiser (``feeds.sanitise``), which also makes every
URL absolute against the article's own URL: feed readers render entry HTML out of context.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from markdown_it import MarkdownIt

from feeds.article import Article
from feeds.config import Site
from feeds.errors import InputError
from feeds.picture import first_image, image_url
from feeds.sanitise import sanitise
from feeds.text import cut_at_word, html_to_text, reading_minutes

SUMMARY_CHARS = 300
MORE_MARKER = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)
_FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
# A whole tag of sanitised HTML (quoted attribute values consumed, so nothing inside one is
# read as a tag); group 1 is "/" for an end tag, group 2 a heading's level.
_TAG = re.compile(r'<(/?)(?:h([1-6])(?=[\s/>])|[A-Za-z])(?:[^">]|"[^"]*")*>')


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML allowed (it is sanitised afterwards), tables and strikethrough."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def heading_shift(fragment: str) -> int:
    """How many levels a body's headings move down so none is an ``h1``: 1 if it has one.

    The article page's one ``<h1>`` is the article title, so a ``#`` heading in the body (or
    a raw ``<h1>``) must not be a second: screen readers list a page's headings, and two at
    the top level hide which is the page's subject. A body whose top headings are already
    ``##`` is left alone, so no level is skipped (h1 title, then h3) and articles written
    that way publish exactly as before.
    """
    opened = (int(m.group(2)) for m in _TAG.finditer(fragment) if m.group(2) and not m.group(1))
    return 1 if min(opened, default=2) == 1 else 0


def shift_headings(fragment: str, levels: int) -> str:
    """Sanitised HTML with every heading ``levels`` down (``h1`` -> ``h2``), ``h6`` at most.

    Feed entries get the same HTML as the page: readers show the entry title above the
    content, so a body heading at the title's level is as wrong there.
    """

    def shifted(match: re.Match[str]) -> str:
        level = match.group(2)
        if level is None:
            return match.group(0)
        tag = match.group(0)
        start = 1 + len(match.group(1))  # after "<" or "</": the "h"
        return f"{tag[:start]}h{min(int(level) + levels, 6)}{tag[start + 2 :]}"

    return _TAG.sub(shifted, fragment) if levels else fragment


def markdown_to_html(source: str) -> str:
    """Unsanitised HTML from CommonMark; only :func:`sanitise` output may leave this module."""
    return _markdown().render(source)


@dataclass(frozen=True)
class RenderedArticle:
    """An article ready to publish: its id and URL fixed, its HTML safe, its summary chosen."""

    article: Article
    id: str
    url: str
    content_html: str
    summary_html: str | None
    summary_text: str
    reading_minutes: int
    image: str | None = None  # the article's picture, an absolute URL

    @property
    def updated(self) -> datetime:
        """When it last changed: ``updated`` if the author set it, else its publication date."""
        return self.article.updated or self.article.date


def article_url(site: Site, slug: str) -> str:
    """Where an article's page lives; its feed entries link here."""
    return f"{site.base_url}{slug}/"


def render_article(article: Article, site: Site, article_id: str) -> RenderedArticle:
    """Render one article: content, summary (never identical to the content) and reading time."""
    url = article_url(site, article.slug)
    # Split the rendered HTML, not the Markdown: a marker inside a code block is escaped there,
    # so only a real comment cuts the summary, and the Markdown is rendered once.
    raw_html = markdown_to_html(article.body)
    parts = MORE_MARKER.split(raw_html, maxsplit=1)
    content_html = sanitise(raw_html, url)
    shift = heading_shift(content_html)  # the summary is part of the body: the same shift
    content_html = shift_headings(content_html, shift)
    if not content_html.strip():
        raise InputError(
            article.path,
            article.body_line,
            "the article has no body (or only unsafe HTML); write its text below the front matter",
        )
    content_text = html_to_text(content_html)

    if article.summary:
        summary_text = article.summary
        summary_html: str | None = f"<p>{html.escape(summary_text, quote=False)}</p>"
    elif len(parts) == 2 and html_to_text(sanitise(parts[0], url)):
        summary_html = shift_headings(sanitise(parts[0], url), shift)
        summary_text = html_to_text(summary_html)
    else:  # no marker, or nothing before it: the first paragraph
        first = _FIRST_PARAGRAPH.search(content_html)
        summary_text = cut_at_word(
            html_to_text(first.group(1)) if first else content_text, SUMMARY_CHARS
        )
        summary_html = f"<p>{html.escape(summary_text, quote=False)}</p>"
    if summary_text == content_text:
        summary_html = None  # a summary that repeats the content makes readers show it twice

    return RenderedArticle(
        article=article,
        id=article_id,
        url=url,
        content_html=content_html,
        summary_html=summary_html,
        summary_text=summary_text,
        reading_minutes=reading_minutes(content_text),
        image=image_url(article.image, url) if article.image else first_image(content_html),
    )
