"""The published pages for people who do not see them the way their author does (issue 14).

Screen readers list a page's headings and links out of context, browser tabs and search
results show only ``<title>``, and a reader app may apply a dark palette to a page it still
shows on white. Everything is checked on what ``publish`` writes, parsed with html.parser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# --- reading the pages ----------------------------------------------------------------------


class Page(HTMLParser):
    """What a page says to assistive technology: title, description, links, headings."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.meta: dict[str, str] = {}
        self.head_links: list[dict[str, str]] = []
        self.links: list[tuple[str, str]] = []  # (accessible name, href)
        self.headings: list[tuple[str, str]] = []  # (tag, text)
        self.paragraphs: list[tuple[str, list[str]]] = []  # (text, hrefs of its links)
        self._in_title = False
        self._link: tuple[str, list[str], str | None] | None = None
        self._heading: tuple[str, list[str]] | None = None
        self._paragraph: tuple[list[str], list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta" and "name" in values:
            self.meta[values["name"]] = values.get("content", "")
        elif tag == "link":
            self.head_links.append(values)
        elif tag == "a" and "href" in values:
            self._link = (values["href"], [], values.get("aria-label"))
            if self._paragraph is not None:
                self._paragraph[1].append(values["href"])
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = (tag, [])
        elif tag == "p":
            self._paragraph = ([], [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._link is not None:
            href, text, label = self._link
            self.links.append((label or " ".join("".join(text).split()), href))
            self._link = None
        elif self._heading is not None and tag == self._heading[0]:
            self.headings.append((tag, " ".join("".join(self._heading[1]).split())))
            self._heading = None
        elif tag == "p" and self._paragraph is not None:
            text, hrefs = self._paragraph
            self.paragraphs.append((" ".join("".join(text).split()), hrefs))
            self._paragraph = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._link is not None:
            self._link[1].append(data)
        if self._heading is not None:
            self._heading[1].append(data)
        if self._paragraph is not None:
            self._paragraph[0].append(data)


def page(site, path: str) -> Page:
    return Page((site.public / path).read_text(encoding="utf-8"))


def html_pages(site) -> list[str]:
    return sorted(p.relative_to(site.public).as_posix() for p in site.public.rglob("*.html"))


# --- headings -------------------------------------------------------------------------------

BODY_WITH_HEADINGS = """\
---
title: Headings everywhere
date: 2025-04-01
---
Intro paragraph.

<!-- more -->

# Background

## The talks

Setext heading
==============

###### Deepest

<h1 lang="fr">Contexte</h1>

```
# a comment in code, not a heading
```
"""


def test_an_article_page_has_one_h1_whatever_headings_its_body_uses(site):
    site.article("2025-04-01-headings.md", BODY_WITH_HEADINGS)
    site.publish()
    article = page(site, "headings/index.html")
    assert [tag for tag, _ in article.headings].count("h1") == 1
    assert article.headings == [
        ("h1", "Headings everywhere"),
        ("h2", "Background"),
        ("h3", "The talks"),
        ("h2", "Setext heading"),
        ("h6", "Deepest"),
        ("h2", "Contexte"),
    ]
    html = (site.public / "headings/index.html").read_text(encoding="utf-8")
    assert '<h2 lang="fr">Contexte</h2>' in html
    assert "# a comment in code, not a heading" in html


def test_a_body_whose_top_headings_are_h2_keeps_them_so_no_level_is_skipped(site):
    site.article(
        "2025-04-02-level.md",
        "---\ntitle: Already nested\ndate: 2025-04-02\n---\nText.\n\n## Part\n\n### Detail\n",
    )
    site.article(
        "2025-04-03-raw.md",
        "---\ntitle: Raw\ndate: 2025-04-03\n---\nText.\n\n## Part\n\n<h1>Late top</h1>\n",
    )
    site.publish()
    assert page(site, "level/index.html").headings == [
        ("h1", "Already nested"),
        ("h2", "Part"),
        ("h3", "Detail"),
    ]
    assert page(site, "raw/index.html").headings == [
        ("h1", "Raw"),
        ("h3", "Part"),
        ("h2", "Late top"),
    ]


def test_feed_content_gets_the_same_shifted_headings(site):
    site.article("2025-04-01-headings.md", BODY_WITH_HEADINGS)
    site.publish()
    atom = (site.public / "atom.xml").read_text(encoding="utf-8")
    json_feed = (site.public / "feed.json").read_text(encoding="utf-8")
    assert "&lt;h2&gt;Background&lt;/h2&gt;" in atom and "<h2>Background</h2>" in json_feed
    assert "&lt;h1" not in atom and "<h1" not in json_feed


def test_a_summary_cut_before_a_heading_is_shifted_like_the_content(site):
    site.article(
        "2025-04-04-lead.md",
        "---\ntitle: Lead\ndate: 2025-04-04\n---\n# Lead heading\n\nLead text.\n\n"
        "<!-- more -->\n\n# Rest\n\nMore text.\n",
    )
    site.publish()
    atom = (site.public / "atom.xml").read_text(encoding="utf-8")
    summary = atom.split("<summary", 1)[1].split("</summary>", 1)[0]
    assert "&lt;h2&gt;Lead heading&lt;/h2&gt;" in summary
    assert "&lt;h1" not in atom
