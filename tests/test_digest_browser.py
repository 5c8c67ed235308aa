"""End to end, as a reader: the HTML digest opened in headless Debian chromium.

The digest is built with the public functions (``build_digest``, ``to_html``) from stored
items in several topics, one of them carrying ``<script>`` and ``onerror=`` payloads, and
written under ``tmp_path``. The test starts chromium itself (``tests/chromium.py``), with a
fresh profile (and HOME) under ``tmp_path``, no host name resolution and no background
networking, and drives it over the DevTools protocol (``tests/cdp.py``, standard library
only). For each page it checks:

* no console message, no uncaught exception, no browser log entry of level warning or error
  (a Content-Security-Policy violation, for one, is logged as an error);
* one network request, for the file itself: the page loads nothing else;
* no JavaScript dialog ever opened (the payloads' ``alert`` never ran);
* no ``<script>`` element, no ``on*`` attribute, no embedded content, every link http(s);
* the hostile title is shown as text, exactly, and every story and topic is there;
* the title, the ``<h1>`` and the description name the period in words;
* the chart is a table: each topic's name and count are text, on the page and in the
  accessibility tree (DevTools ``Accessibility.getFullAXTree``), the bars proportional and
  clear of the labels, the table no wider than its cap, its labels no larger than headings;
* in each story no two links read alike or go to the same article (the headline's source is
  text), each source link names its source and the item's title, every link is a 24 px target;
* every text is on a background the page sets, at >= 7:1 contrast (links >= 4.5:1), in the
  light and the dark scheme;
* nothing is wider than a phone's screen;

and saves a full-page screenshot under ``test-artifacts/`` (gitignored) for people to look at.
With chromium missing the test is skipped, or fails when ``CI`` is set: CI installs it.
"""

from __future__ import annotations

import re
import struct
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cdp import CDP
from chromium import Viewport, describe, open_tab

from sources.digest.build import Digest, build_digest, shown_title
from sources.digest.render import to_html
from sources.judge.relevance import build_taxonomy
from sources.types import StoredItem

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
ZONE = ZoneInfo("Europe/Brussels")
SINCE = datetime(2025, 6, 9, 22, 0, tzinfo=UTC)  # 10 June 2025, 00:00-24:00 in Brussels
UNTIL = datetime(2025, 6, 10, 22, 0, tzinfo=UTC)
TITLE = "EU foreign policy digest"
EEAS = "https://www.eeas.europa.eu/eeas/press-material_en/rss"
COUNCIL = "https://www.consilium.europa.eu/en/rss/pressreleases.ashx"
OFFICIAL = frozenset({EEAS, COUNCIL})

HOSTILE_TITLE = (
    "EU foreign ministers discuss Iran <script>alert(1)</script> and the Red Sea "
    '<img src=x onerror=alert(2)> after "Aspides" mission renewal — a long title that must '
    "wrap on a phone without widening the page"
)
HOSTILE_SUMMARY = (
    "Ministers met in Luxembourg. <script>alert(1)</script> The High Representative said "
    "<img src=x onerror=alert(2)> the EU would keep Aspides at sea & extend its mandate; "
    '<a href="javascript:alert(3)">more</a> R&D cooperation was also discussed.'
)
LONG_WORD_TITLE = (
    "Enlargement: Moldova and Ukraine open the fundamentals cluster as the Council signs the "
    "Stabilisierungsundassoziierungsabkommensdurchführungsverordnung for the Western Balkans"
)


def _item(
    ident: int,
    source: tuple[str, str],
    title: str,
    summary: str,
    topics: tuple[str, ...],
    hour: int,
    relevance: float,
    link: str | None,
) -> StoredItem:
    when = datetime(2025, 6, 10, hour, 15, tzinfo=UTC)
    return StoredItem(
        id=ident,
        key=f"item-{ident}",
        link=link,
        norm_link=link,
        title=title,
        author="",
        summary=summary,
        text="",
        published_at=when,
        updated_at=when,
        relevance=relevance,
        relevant=True,
        topics=topics,
        source_url=source[0],
        source_title=source[1],
    )


def fixture_items() -> list[StoredItem]:
    eeas, council = (EEAS, "EEAS"), (COUNCIL, "Council of the EU")
    paper = ("https://news.example.org/world/rss", "Example News")
    hostile = ("https://hostile.example/feed", "Hostile <b>Feed</b> & Co")
    javascript = ("https://hostile.example/js", "Hostile links")
    return [
        _item(1, eeas, "EU and Japan sign a Security and Defence Partnership",
              "The EU and Japan signed a Security and Defence Partnership in Tokyo, the third "
              "after Norway and South Korea, covering maritime security, cyber and space.",
              ("security-defence", "indo-pacific-china"), 8, 9.0,
              "https://www.eeas.europa.eu/eeas/eu-japan-security-defence-partnership_en"),
        _item(2, paper, "Japan and the EU sign security and defence partnership in Tokyo",
              "Japan and the European Union signed a security and defence partnership in Tokyo "
              "on Tuesday, their third such pact after Norway and South Korea.",
              ("security-defence",), 9, 6.0, "https://news.example.org/world/eu-japan-pact"),
        _item(3, council, "Russia's war against Ukraine: Council adopts 18th sanctions package",
              "The Council adopted an 18th package of restrictive measures against Russia, "
              "including a lower oil price cap and 105 more shadow-fleet vessels.",
              ("ukraine-russia",), 10, 8.5,
              "https://www.consilium.europa.eu/en/press/press-releases/2025/06/10/russia-18th/"),
        _item(4, hostile, HOSTILE_TITLE, HOSTILE_SUMMARY, ("middle-east-africa",), 11, 7.0,
              "https://hostile.example/iran?utm=1&x=<y>"),
        _item(5, council, LONG_WORD_TITLE,
              "Intergovernmental conferences opened the first cluster with Moldova and Ukraine; "
              "the Western Balkans agreement enters into force on 1 July.",
              ("enlargement-neighbourhood",), 12, 7.5,
              "https://www.consilium.europa.eu/en/press/press-releases/2025/06/10/enlargement/"),
        _item(6, paper, "EU and US trade talks stall over steel tariffs and NATO spending",
              "Transatlantic talks on steel tariffs stalled as allies argued over NATO's 5% "
              "spending target.",
              ("transatlantic-nato", "trade-economic-security"), 13, 5.5,
              "https://news.example.org/world/eu-us-steel"),
        _item(7, eeas, "Cyber Diplomacy Toolbox: EU sanctions three actors over hybrid attacks",
              "The EU listed three actors under the cyber sanctions regime for attacks on "
              "critical infrastructure and satellite ground stations.",
              ("cyber-hybrid-space",), 14, 6.5, None),
        _item(8, paper, "EU appoints a new Special Representative for the Sahel",
              "Kallas named a new EU Special Representative « pour le Sahel », effective July.",
              ("other",), 15, 4.0, "https://news.example.org/world/eusr-sahel"),
        _item(10, ("https://long.example/feed", "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft-Nachrichten"),
              "Rechtsstaatlichkeitsüberprüfungsverfahrensbeschleunigungsgesetzgebungsinitiative: EU-Kommission legt Bericht vor",
              "Unverhältnismäßigkeitsgrundsatzanwendungsschwierigkeitenüberwindungsstrategiepapier veröffentlicht.",
              ("human-rights-democracy",), 17, 4.5, None),
        _item(11, javascript, "A stored javascript: link must never become a live link",
              "Stored by an older version or another tool: the digest guards itself.",
              ("multilateral",), 18, 4.2, "javascript:alert(3)"),
        _item(9, eeas, "Ukraine Facility: fourth tranche of €3.5 billion paid for Kyiv's power grid",
              "The Commission paid the fourth tranche under the Ukraine Facility, to repair "
              "substations and the electricity grid before winter.",
              ("ukraine-russia",), 16, 5.0,
              "https://www.eeas.europa.eu/delegations/ukraine/ukraine-facility-tranche_en"),
    ]  # fmt: skip


def make_digest(items: list[StoredItem]) -> Digest:
    return build_digest(
        items,
        since=SINCE,
        until=UNTIL,
        taxonomy=build_taxonomy(),
        zone=ZONE,
        title=TITLE,
        is_official=lambda item: item.source_url in OFFICIAL,
    )


PHONE = Viewport("phone", 390, 844, 2, mobile=True)
DESKTOP = Viewport("desktop", 1280, 900, 1, mobile=False)
PHONE_DARK = Viewport("phone-dark", 390, 844, 2, mobile=True, dark=True)
DESKTOP_DARK = Viewport("desktop-dark", 1280, 900, 1, mobile=False, dark=True)

# What the page is, as the DOM says: run in the page by DevTools (the page's CSP, which forbids
# scripts, does not apply to DevTools' own evaluation). ``screenWidth`` is the emulated screen's
# width: on a mobile viewport chromium widens the layout viewport (``innerWidth``) to fit content
# that overflows, so overflow must be measured against the screen, not ``innerWidth``.
PROBE = """((screenWidth) => {
  const box = (el) => el.getBoundingClientRect();
  const handlers = [], urls = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) handlers.push(`${el.localName}[${attr.name}]`);
      if (['href', 'src', 'srcset', 'action', 'formaction', 'poster', 'data', 'xlink:href',
           'background', 'ping'].includes(name)) urls.push(attr.value);
    }
  }
  const chart = document.querySelector('table.chart');
  const rows = [...document.querySelectorAll('table.chart tbody tr')].map((tr) => ({
    label: tr.querySelector('th').textContent,
    count: tr.querySelector('.count').textContent,
    labelRight: box(tr.querySelector('th')).right,
    countLeft: box(tr.querySelector('.count')).left,
    countRight: box(tr.querySelector('.count')).right,
    barLeft: box(tr.querySelector('.bar')).left,
    barWidth: box(tr.querySelector('.bar')).width,
    labelSize: parseFloat(getComputedStyle(tr.querySelector('th')).fontSize),
  }));
  const background = (el) => {  // the colour the text is drawn on: the nearest one set
    for (let e = el; e; e = e.parentElement) {
      const colour = getComputedStyle(e).backgroundColor;
      if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour;
    }
    return null;
  };
  const grey = '.period, .when, .sources li, .counts, .chart thead th';
  const colours = [...document.querySelectorAll(
    `a, h1, h2, h3, p, li, caption, th, .count`
  )].filter((el) => el.closest('body') && !el.closest('.visually-hidden')).map((el) => ({
    what: `${el.localName}.${el.className}: ${el.textContent.slice(0, 30)}`,
    kind: el.closest('a') ? 'link' : el.matches(grey) ? 'grey' : 'text',
    colour: getComputedStyle(el).color,
    background: background(el),
  }));
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => !el.closest('.visually-hidden'))  // clipped to 1 px on purpose
    .filter((el) => box(el).right > screenWidth + 0.5
      || (el instanceof HTMLElement && el.scrollWidth > el.clientWidth + 1))  // text overflowing
    .map((el) => `${el.localName}: ${el.textContent.slice(0, 60)}`);
  const description = document.querySelector('meta[name=description]');
  return {
    title: document.title,
    description: description ? description.content : null,
    h1: [...document.querySelectorAll('h1')].map((h) => h.textContent),
    scripts: document.querySelectorAll('script').length,
    embedded: document.querySelectorAll(
      'img, iframe, frame, object, embed, video, audio, base, form, meta[http-equiv=refresh], '
      + 'link:not([rel=icon][href="data:,"])'  // an empty icon: no /favicon.ico request
    ).length,
    handlers,
    urls,
    headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
    stories: [...document.querySelectorAll('article.story')].map((a) => ({
      title: a.querySelector('h3').textContent,
      sources: [...a.querySelectorAll('.sources li')]  // the name, without hidden words
        .map((li) => (li.querySelector('a') || li).childNodes[0].textContent),
      links: [...a.querySelectorAll('a')].map((link) => link.getAttribute('href')),
    })),
    links: [...document.querySelectorAll('a')].map((a) => ({
      href: a.getAttribute('href'), url: a.href, height: box(a).height, width: box(a).width,
    })),
    text: document.body.innerText,
    chart: chart ? {
      caption: chart.caption.textContent,
      width: box(chart).width,
      headingSize: Math.min(...[...document.querySelectorAll('h2, h3')]
        .map((h) => parseFloat(getComputedStyle(h).fontSize))),
      rows,
    } : null,
    colours,
    scrollWidth: document.documentElement.scrollWidth,
    wide,
  };
})"""


@dataclass
class Rendered:
    """What chromium made of one page."""

    dom: dict[str, Any]
    ax: list[dict[str, Any]] = field(default_factory=list)  # Accessibility.getFullAXTree nodes
    problems: list[str] = field(default_factory=list)  # console, exceptions, log entries
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def render(cdp: CDP, page: Path, viewport: Viewport, screenshot: str) -> Rendered:
    """Open ``page`` in a new tab at ``viewport``, probe it, save a full-page screenshot."""
    with open_tab(cdp, page.as_uri(), viewport) as tab:
        result = Rendered(dom=tab.evaluate(f"({PROBE})({viewport.width})"))

        result.ax = tab.call("Accessibility.getFullAXTree")["nodes"]

        size = tab.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = tab.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        data = b64decode(shot["data"])
        width, height = _png_size(data)
        assert width == round(size["width"] * viewport.scale), (width, size, viewport)
        assert height >= viewport.height * viewport.scale * 0.5, (height, size, viewport)
        ARTIFACTS.mkdir(exist_ok=True)
        result.screenshot = ARTIFACTS / screenshot
        result.screenshot.write_bytes(data)

        for event in tab.events():
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                result.requests.append(params["request"]["url"])
            elif method == "Page.javascriptDialogOpening":
                result.dialogs.append(f"{params['type']}: {params['message']}")
            elif (problem := describe(event)) is not None:
                result.problems.append(problem)
        return result


ICON = "data:,"  # the page's empty icon: the browser asks for no /favicon.ico
TARGET = 24  # CSS px: WCAG 2.2 target size (minimum), 2.5.8
CHART_WIDTH = 480  # CSS px: the chart's cap (30rem), whatever the screen


def assert_clean(rendered: Rendered, page: Path, viewport: Viewport) -> None:
    """What every digest page must be, whatever it says."""
    dom = rendered.dom
    assert rendered.problems == [], "console messages, exceptions or log warnings/errors"
    assert rendered.dialogs == [], "a JavaScript dialog opened: a payload ran"
    assert rendered.requests == [page.as_uri()], "the page must request nothing but itself"
    assert dom["scripts"] == 0
    assert dom["handlers"] == []
    assert dom["embedded"] == 0
    assert dom["urls"].count(ICON) == 1, dom["urls"]
    urls = [url for url in dom["urls"] if url != ICON]
    assert all(url.startswith(("https://", "http://")) for url in urls), urls
    assert dom["scrollWidth"] <= viewport.width, f"wider than the screen: {dom['wide']}"
    assert dom["wide"] == []
    assert_readable(dom["colours"])


def _rgb(colour: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)", colour)
    assert match and float(match[4] or 1) == 1, f"not an opaque colour: {colour}"
    return int(match[1]), int(match[2]), int(match[3])


def contrast(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two CSS ``rgb()`` colours."""

    def luminance(colour: str) -> float:
        channels = [c / 255 for c in _rgb(colour)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


MINIMUM_CONTRAST = {"text": 7.0, "grey": 7.0, "link": 4.5}  # WCAG AAA for text, AA for links


def assert_readable(colours: list[dict[str, Any]]) -> None:
    """Every text is drawn on a background the page sets itself (not the browser's, which a
    reader may have made dark while the text stayed dark), at the contrast it needs."""
    assert colours, "no text measured"
    unset = [c["what"] for c in colours if c["background"] is None]
    assert unset == [], f"text on no background of the page's own: {unset[:5]}"
    faint = [
        (c["what"], round(contrast(c["colour"], c["background"]), 2))
        for c in colours
        if contrast(c["colour"], c["background"]) < MINIMUM_CONTRAST[c["kind"]]
    ]
    assert faint == [], f"too little contrast: {faint[:5]}"


def ax_name(node: dict[str, Any]) -> str:
    return str(node.get("name", {}).get("value", ""))


def ax_role(node: dict[str, Any]) -> str:
    return "" if node.get("ignored") else str(node.get("role", {}).get("value", ""))


def ax_descendants(nodes: list[dict[str, Any]], root: dict[str, Any]) -> list[dict[str, Any]]:
    """``root``'s descendants in the accessibility tree, in document order."""
    by_id = {node["nodeId"]: node for node in nodes}
    found, stack = [], list(reversed(root.get("childIds", [])))
    while stack:
        node = by_id.get(stack.pop())
        if node is not None:
            found.append(node)
            stack.extend(reversed(node.get("childIds", [])))
    return found


def ax_chart(nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(row header, cell) of the table named "Stories per topic", as assistive technology
    reads it."""
    tables = [n for n in nodes if ax_role(n) == "table" and ax_name(n) == "Stories per topic"]
    assert len(tables) == 1, [ax_name(n) for n in nodes if ax_role(n) == "table"]
    rows = []
    for row in ax_descendants(nodes, tables[0]):
        if ax_role(row) == "row":
            cells = [n for n in ax_descendants(nodes, row) if ax_role(n) in ("rowheader", "cell")]
            if cells:  # the header row has column headers only
                rows.append((ax_name(cells[0]), ax_name(cells[1])))
    return rows


def ax_links_by_story(nodes: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """(accessible name, URL) of each link, article by article, from the accessibility tree."""
    stories = []
    for article in (n for n in nodes if ax_role(n) == "article"):
        links = [n for n in ax_descendants(nodes, article) if ax_role(n) == "link"]
        urls = [
            next(p["value"]["value"] for p in link.get("properties", []) if p["name"] == "url")
            for link in links
        ]
        names = [" ".join(ax_name(link).split()) for link in links]
        stories.append(list(zip(names, urls, strict=True)))
    return stories


@pytest.fixture(scope="module")
def digest_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Digest, Path]:
    digest = make_digest(fixture_items())
    page = tmp_path_factory.mktemp("digest") / f"digest-{digest.day}.html"
    page.write_text(to_html(digest), encoding="utf-8")
    return digest, page


@pytest.mark.parametrize(
    "viewport", [PHONE, DESKTOP, PHONE_DARK, DESKTOP_DARK], ids=lambda v: v.name
)
def test_digest_renders_cleanly_in_chromium(
    browser: CDP, digest_page: tuple[Digest, Path], viewport: Viewport
) -> None:
    digest, page = digest_page
    # several topics, several stories, and bars of more than one length
    assert len(digest.topics) >= 6 and digest.stories >= 6
    assert len({len(t.stories) for t in digest.topics}) > 1
    rendered = render(browser, page, viewport, f"digest-{viewport.name}.png")
    assert_clean(rendered, page, viewport)
    dom = rendered.dom
    assert rendered.screenshot is not None and rendered.screenshot.stat().st_size > 10_000

    # what the page is, in words
    assert dom["title"] == dom["h1"][0] == f"{TITLE}, 10 June 2025"
    assert dom["h1"] == [dom["title"]]
    assert dom["description"] == (
        f"{TITLE}, 10 June 2025: {digest.stories} stories from {digest.items} items "
        f"in {len(digest.topics)} topics."
    )
    assert dom["headings"] == ["At a glance", *(t.name for t in digest.topics)]
    expected = [
        {
            "title": s.title,
            "sources": [name for name, _ in s.sources],
            "links": [link for link in dict.fromkeys((s.link, *(x for _, x in s.sources))) if link],
        }
        for t in digest.topics
        for s in t.stories
    ]
    assert [{**s, "links": sorted(s["links"])} for s in dom["stories"]] == [
        {**s, "links": sorted(s["links"])} for s in expected
    ]  # every story, titles and source names verbatim, every article linked once
    # escaped: shown, not run (its 203 characters cut at a word, as every long title is)
    assert shown_title(HOSTILE_TITLE) in [s["title"] for s in dom["stories"]]
    assert shown_title(HOSTILE_TITLE).endswith("without widening the…")
    assert "<script>alert(1)</script>" in dom["text"]
    assert "Hostile <b>Feed</b> & Co" in dom["text"]

    # The chart is a table: every topic and its story count are text, in the digest's order,
    # for the page and for assistive technology; no label runs into a count or a bar.
    counts = [(t.name, str(len(t.stories))) for t in digest.topics]
    chart = dom["chart"]
    assert chart["caption"] == "Stories per topic"
    assert [(row["label"], row["count"]) for row in chart["rows"]] == counts
    assert ax_chart(rendered.ax) == counts
    crowded = [
        row["label"]
        for row in chart["rows"]
        if row["labelRight"] > row["countLeft"] or row["countRight"] > row["barLeft"]
    ]
    assert crowded == [], "chart labels, counts and bars overlap"
    longest = max(chart["rows"], key=lambda row: row["barWidth"])
    for row in chart["rows"]:  # bar lengths proportional to story counts
        expected_width = longest["barWidth"] * int(row["count"]) / int(longest["count"])
        assert row["barWidth"] == pytest.approx(expected_width, abs=1), row
    assert chart["width"] <= min(CHART_WIDTH, viewport.width), chart["width"]
    assert max(row["labelSize"] for row in chart["rows"]) <= chart["headingSize"]

    # Links say where they go: in a story, no two links read alike, no article is linked
    # twice (the headline's source is text), and each source link names its source and the
    # item's title. Every link is a target at least 24 px tall and wide.
    by_story = ax_links_by_story(rendered.ax)
    stories = [s for t in digest.topics for s in t.stories]
    assert len(by_story) == len(stories)
    resolved = {link["href"]: link["url"] for link in dom["links"]}  # as the browser reads it
    for story, links in zip(stories, by_story, strict=True):
        names, urls = [name for name, _ in links], [url for _, url in links]
        assert len(set(names)) == len(names) and len(set(urls)) == len(urls), links
        if story.link:
            assert links[0] == (" ".join(story.title.split()), resolved[story.link])
        for source in story.told_by[1:]:
            if source.link and source.link != story.link:
                name = f"{source.name} : {source.title}"  # chromium spaces the hidden text
                assert (" ".join(name.split()), resolved[source.link]) in links, (name, links)
    japan = by_story[0]
    assert [name.split(":")[0].strip() for name, _ in japan[1:]] == ["Example News"]
    small = [link for link in dom["links"] if min(link["height"], link["width"]) < TARGET]
    assert small == [], f"link targets smaller than {TARGET} px"


def test_empty_digest_renders_cleanly_in_chromium(browser: CDP, tmp_path: Path) -> None:
    digest = make_digest([])
    assert digest.items == 0 and digest.topics == ()
    page = tmp_path / f"digest-{digest.day}.html"
    page.write_text(to_html(digest), encoding="utf-8")
    rendered = render(browser, page, PHONE, "digest-empty-phone.png")
    assert_clean(rendered, page, PHONE)
    dom = rendered.dom
    assert dom["title"] == f"{TITLE}, 10 June 2025"
    assert dom["description"] == f"{TITLE}, 10 June 2025: no items about EU foreign policy."
    assert "No items about EU foreign policy in this period." in dom["text"]
    assert dom["chart"] is None and dom["stories"] == [] and dom["links"] == []
    assert digest.period in dom["text"]
