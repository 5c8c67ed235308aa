"""The published pages for people who do not see them the way their author does (issue 14).

Screen readers list a page's headings and links out of context, browser tabs and search
results show only ``<title>``, and a reader app may apply a dark palette to a page it still
shows on white. Everything is checked on what ``publish`` writes, parsed with html.parser.
"""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser

import pytest

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


# --- titles and descriptions ----------------------------------------------------------------


def test_a_tag_page_has_a_title_and_description_of_its_own(published):
    home = page(published, "index.html")
    security = page(published, "tags/security-and-defence/index.html")
    enlargement = page(published, "tags/enlargement/index.html")
    assert home.title == "EU Notes"
    assert home.meta["description"] == "Test site"
    assert security.title == "Tagged “security and defence” · EU Notes"
    assert security.meta["description"] == "2 articles tagged “security and defence” on EU Notes."
    assert enlargement.title == "Tagged “enlargement” · EU Notes"
    assert enlargement.meta["description"] == "1 article tagged “enlargement” on EU Notes."
    titles = [page(published, name).title for name in html_pages(published)]
    assert len(titles) == len(set(titles)), titles


# --- feed links -----------------------------------------------------------------------------


def test_no_two_links_on_a_page_share_a_name_but_not_a_target(published):
    for name in html_pages(published):
        targets: dict[str, set[str]] = defaultdict(set)
        for text, href in page(published, name).links:
            assert text, f"{name}: a link to {href} has no name"
            targets[text].add(href)
        clashes = {text: hrefs for text, hrefs in targets.items() if len(hrefs) > 1}
        assert not clashes, f"{name}: {clashes}"


def test_a_tag_pages_feed_links_are_grouped_and_labelled(published):
    tag = page(published, "tags/enlargement/index.html")
    groups = {text.split(":", 1)[0]: hrefs for text, hrefs in tag.paragraphs if ":" in text}
    assert groups["This tag"] == [
        "/tags/enlargement/atom.xml",
        "/tags/enlargement/rss.xml",
        "/tags/enlargement/feed.json",
    ]
    assert groups["Whole site"] == ["/atom.xml", "/rss.xml", "/feed.json"]
    names = {href: text for text, href in tag.links}
    # the visible label ("Atom") starts each name, as WCAG 2.5.3 asks
    assert names["/tags/enlargement/atom.xml"] == "Atom feed of the tag “enlargement”"
    assert names["/tags/enlargement/feed.json"] == "JSON Feed of the tag “enlargement”"
    assert names["/rss.xml"] == "RSS feed of the whole site"
    assert names["/feed.json"] == "JSON Feed of the whole site"


def test_autodiscovery_titles_are_distinct_where_two_feeds_are_offered(published):
    for name in ["index.html", "tags/enlargement/index.html", "norway/index.html"]:
        alternates = [
            link for link in page(published, name).head_links if link.get("rel") == "alternate"
        ]
        titles = [link["title"] for link in alternates]
        assert len(titles) == len(set(titles)) == len({link["href"] for link in alternates})
    tag = page(published, "tags/enlargement/index.html")
    assert len([link for link in tag.head_links if link.get("rel") == "alternate"]) == 6


def test_a_page_with_only_the_site_feed_invites_to_subscribe(published):
    home = page(published, "index.html")
    subscribe = [hrefs for text, hrefs in home.paragraphs if text.startswith("Subscribe:")]
    assert subscribe == [["/atom.xml", "/rss.xml", "/feed.json"]]


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


# --- the favicon ----------------------------------------------------------------------------


def test_every_page_says_it_has_no_icon_so_browsers_do_not_fetch_favicon_ico(published):
    for name in html_pages(published):
        icons = [link for link in page(published, name).head_links if link.get("rel") == "icon"]
        assert [icon["href"] for icon in icons] == ["data:,"], name
    assert not (published.public / "favicon.ico").exists()


def set_favicon(site, value: str) -> int:
    """Write ``[site] favicon = value``; returns its line number."""
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(
        text.replace('rights = "CC BY 4.0"\n', f'rights = "CC BY 4.0"\nfavicon = "{value}"\n'),
        encoding="utf-8",
    )
    lines = site.config.read_text(encoding="utf-8").splitlines()
    return lines.index(f'favicon = "{value}"') + 1


@pytest.mark.parametrize(
    ("value", "base_url", "href"),
    [
        ("icons/mark.svg", "https://notes.example.org/", "/icons/mark.svg"),
        ("/icons/mark.svg", "https://notes.example.org/blog/", "/blog/icons/mark.svg"),
        ("https://cdn.example.net/mark.png", "https://notes.example.org/", None),
    ],
)
def test_a_configured_favicon_is_linked_from_every_page(sample_site, value, base_url, href):
    (sample_site.root / "static" / "icons").mkdir(parents=True)
    (sample_site.root / "static" / "icons" / "mark.svg").write_text("<svg/>", encoding="utf-8")
    set_favicon(sample_site, value)
    text = sample_site.config.read_text(encoding="utf-8")
    sample_site.config.write_text(text.replace("https://notes.example.org/", base_url))
    sample_site.publish()
    for name in html_pages(sample_site):
        links = page(sample_site, name).head_links
        icons = [link["href"] for link in links if link.get("rel") == "icon"]
        assert icons == [href or value], name
    assert (sample_site.public / "icons" / "mark.svg").is_file()


def test_a_favicon_ico_in_static_is_used_when_none_is_configured(sample_site):
    (sample_site.root / "static").mkdir()
    (sample_site.root / "static" / "favicon.ico").write_bytes(b"\x00\x00\x01\x00")
    sample_site.publish()
    for name in html_pages(sample_site):
        links = page(sample_site, name).head_links
        icons = [link["href"] for link in links if link.get("rel") == "icon"]
        assert icons == ["/favicon.ico"], name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mark.svg", "[site] favicon 'mark.svg' is not a file in the static folder"),
        ("../communique.toml", "is not a file in the static folder"),
        (".hidden.ico", "is not a file in the static folder"),
        ("javascript:alert(1)", "must be a file in the static folder (such as favicon.svg) or"),
        ("//cdn.example.net/x.png", "must be a file in the static folder"),
    ],
)
def test_a_favicon_that_would_not_be_published_is_refused_with_its_line(site, value, message):
    (site.root / "static").mkdir()
    (site.root / "static" / ".hidden.ico").write_bytes(b"\x00")
    line = set_favicon(site, value)
    site.article("2025-01-01-fine.md", "---\ntitle: Fine\n---\nBody.\n")
    result = site.run("publish")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{site.config}:{line}: "), lines[0]
    assert message in lines[0], lines[0]
    assert not site.public.exists()


# --- colours --------------------------------------------------------------------------------


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of ``#rgb`` or ``#rrggbb``."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, two: str) -> float:
    lighter, darker = sorted((relative_luminance(one), relative_luminance(two)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_formula_matches_known_wcag_values():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#6b7280", "#ffffff") == pytest.approx(4.83, abs=0.01)  # the old grey
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)


def declarations(block: str) -> dict[str, str]:
    return {
        name.strip(): value.strip()
        for name, value in (d.split(":", 1) for d in block.split(";") if ":" in d)
    }


def schemes(css: str) -> dict[str, dict[str, str]]:
    """Each scheme's resolved ``html``/``body``/``a``/muted colours, read from the stylesheet."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    dark_block = re.search(r"@media \(prefers-color-scheme: dark\)\s*\{(.*?\})\s*\}", css, re.S)
    assert dark_block, "no dark-scheme block"
    outside = css.replace(dark_block.group(0), "")
    outside = re.sub(r"@media print\s*\{.*?\}\s*\}", "", outside, flags=re.DOTALL)
    rules: dict[str, dict[str, str]] = defaultdict(dict)
    for selectors, block in re.findall(r"([^{}]+)\{([^{}]*)\}", outside):
        for selector in selectors.split(","):
            rules[selector.strip()].update(declarations(block))
    light_vars = {k: v for k, v in rules[":root"].items() if k.startswith("--")}
    dark_root = re.search(r":root\s*\{([^}]*)\}", dark_block.group(1))
    assert dark_root, "the dark scheme sets no colours"
    dark_vars = {**light_vars, **declarations(dark_root.group(1))}

    def resolve(selector: str, property_name: str, variables: dict[str, str]) -> str:
        value = rules[selector].get(property_name)
        assert value, f"the stylesheet sets no {property_name} on {selector}"
        match = re.fullmatch(r"var\((--[\w-]+)\)", value)
        return variables[match.group(1)] if match else value

    return {
        scheme: {
            "background": resolve("body", "background", variables),
            "text": resolve("body", "color", variables),
            "html background": resolve("html", "background", variables),
            "link": resolve("a", "color", variables),
            "muted": resolve(".meta", "color", variables),
        }
        for scheme, variables in (("light", light_vars), ("dark", dark_vars))
    }


def test_both_schemes_set_their_own_background_and_text_colours(published):
    css = (published.public / "style.css").read_text(encoding="utf-8")
    colours = schemes(css)
    for scheme in ("light", "dark"):
        for key, value in colours[scheme].items():
            assert re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", value), (scheme, key, value)
        assert colours[scheme]["html background"] == colours[scheme]["background"]
    assert colours["light"]["background"] != colours["dark"]["background"]
    assert contrast(colours["light"]["background"], "#000000") > 15  # light is light
    assert contrast(colours["dark"]["background"], "#ffffff") > 15  # dark is dark


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_muted_text_is_7_to_1_and_links_4_5_to_1_in_each_scheme(published, scheme):
    colours = schemes((published.public / "style.css").read_text(encoding="utf-8"))[scheme]
    background = colours["background"]
    assert contrast(colours["text"], background) >= 7, colours
    assert contrast(colours["muted"], background) >= 7, colours
    assert contrast(colours["link"], background) >= 4.5, colours
