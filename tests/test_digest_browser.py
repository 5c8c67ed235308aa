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
* the SVG chart has one bar per topic, with the topic's name and count, labels clear of bars;
* nothing is wider than a phone's screen;

and saves a full-page screenshot under ``test-artifacts/`` (gitignored) for people to look at.
With chromium missing the test is skipped, or fails when ``CI`` is set: CI installs it.
"""

from __future__ import annotations

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

from sources.digest import Digest, build_digest, to_html
from sources.relevance import build_taxonomy
from sources.store import StoredItem

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
  const svg = document.querySelector('svg');
  const bars = [...document.querySelectorAll('svg rect')].map((rect) => ({
    label: rect.previousElementSibling.textContent,
    count: rect.nextElementSibling.textContent,
    labelBottom: box(rect.previousElementSibling).bottom,
    barTop: box(rect).top,
    countLeft: box(rect.nextElementSibling).left,
    barRight: box(rect).right,
    barWidth: box(rect).width,
  }));
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => box(el).right > screenWidth + 0.5
      || (el instanceof HTMLElement && el.scrollWidth > el.clientWidth + 1))  // text overflowing
    .map((el) => `${el.localName}: ${el.textContent.slice(0, 60)}`);
  return {
    title: document.title,
    scripts: document.querySelectorAll('script').length,
    embedded: document.querySelectorAll(
      'img, iframe, frame, object, embed, video, audio, link, base, form, meta[http-equiv=refresh]'
    ).length,
    handlers,
    urls,
    headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
    stories: [...document.querySelectorAll('article.story')].map((a) => ({
      title: a.querySelector('h3').textContent,
      sources: [...a.querySelectorAll('.sources li')].map((li) => li.textContent),
    })),
    text: document.body.innerText,
    bars,
    chartScale: svg ? box(svg).width / svg.viewBox.baseVal.width : null,
    scrollWidth: document.documentElement.scrollWidth,
    wide,
  };
})"""


@dataclass
class Rendered:
    """What chromium made of one page."""

    dom: dict[str, Any]
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


def assert_clean(rendered: Rendered, page: Path, viewport: Viewport) -> None:
    """What every digest page must be, whatever it says."""
    dom = rendered.dom
    assert rendered.problems == [], "console messages, exceptions or log warnings/errors"
    assert rendered.dialogs == [], "a JavaScript dialog opened: a payload ran"
    assert rendered.requests == [page.as_uri()], "the page must request nothing but itself"
    assert dom["scripts"] == 0
    assert dom["handlers"] == []
    assert dom["embedded"] == 0
    assert all(url.startswith(("https://", "http://")) for url in dom["urls"]), dom["urls"]
    assert dom["scrollWidth"] <= viewport.width, f"wider than the screen: {dom['wide']}"
    assert dom["wide"] == []


@pytest.fixture(scope="module")
def digest_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Digest, Path]:
    digest = make_digest(fixture_items())
    page = tmp_path_factory.mktemp("digest") / f"digest-{digest.day}.html"
    page.write_text(to_html(digest), encoding="utf-8")
    return digest, page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP, PHONE_DARK], ids=lambda v: v.name)
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

    assert dom["title"] == f"{TITLE} · {digest.day}"
    assert dom["headings"] == ["At a glance", *(t.name for t in digest.topics)]
    expected = [
        {"title": s.title, "sources": [name for name, _ in s.sources]}
        for t in digest.topics
        for s in t.stories
    ]
    assert dom["stories"] == expected  # every story, titles and source names shown verbatim
    assert HOSTILE_TITLE in [s["title"] for s in dom["stories"]]  # escaped: shown, not run
    assert "<script>alert(1)</script>" in dom["text"]
    assert "Hostile <b>Feed</b> & Co" in dom["text"]

    # The chart: one bar per topic, in the digest's order, with its name and story count,
    # and no label running into its bar.
    assert [(b["label"], int(b["count"])) for b in dom["bars"]] == [
        (t.name, len(t.stories)) for t in digest.topics
    ]
    overlapping = [
        b["label"]
        for b in dom["bars"]
        if b["labelBottom"] > b["barTop"] or b["countLeft"] < b["barRight"]
    ]
    assert overlapping == [], "chart labels or counts overlap their bars"
    longest = max(dom["bars"], key=lambda b: b["barWidth"])
    for bar in dom["bars"]:  # bar lengths proportional to story counts
        expected_width = longest["barWidth"] * int(bar["count"]) / int(longest["count"])
        assert bar["barWidth"] == pytest.approx(expected_width, abs=1), bar


def test_empty_digest_renders_cleanly_in_chromium(browser: CDP, tmp_path: Path) -> None:
    digest = make_digest([])
    assert digest.items == 0 and digest.topics == ()
    page = tmp_path / f"digest-{digest.day}.html"
    page.write_text(to_html(digest), encoding="utf-8")
    rendered = render(browser, page, PHONE, "digest-empty-phone.png")
    assert_clean(rendered, page, PHONE)
    dom = rendered.dom
    assert dom["title"] == f"{TITLE} · 2025-06-10"
    assert "No items about EU foreign policy in this period." in dom["text"]
    assert dom["bars"] == [] and dom["chartScale"] is None and dom["stories"] == []
    assert digest.period in dom["text"]
