"""Accessibility, as tools and screen readers see it: axe-core, and chromium's own tree.

A small site is published (``sample_site``) and a digest written into it, at ``/digest/``
where ``communique digest`` puts a site's digests. The site is served by a real loopback HTTP
server (``feeds.serve``, what ``communique serve`` runs), so what a browser asks for and does
not get (``/favicon.ico``, say) is a failed request, as on the web; from ``file://`` it would
go unseen. Headless chromium (``tests/chromium.py``) opens the home page, an article, a tag
page and the digest, in the light and the dark colour scheme (``prefers-color-scheme``
emulated over DevTools), and:

* axe-core finds no WCAG 2.0 or 2.1 level A or AA violation. It is injected by DevTools
  ``Runtime.evaluate``: the pages forbid scripts (the digest by its CSP), but a page's CSP
  does not apply to DevTools' own evaluation; the test checks that axe loaded and ran;
* nothing is logged to the console, nothing throws, no request fails, and the page's icon
  (declared, else ``/favicon.ico``) is a ``data:`` URL or answers 200;
* the digest's chart tells every topic's name and story count in the accessibility tree
  (``Accessibility.getFullAXTree``, read as a screen reader gets it: nothing inside an image);
* within one digest story, no two links share an accessible name but not a target, and no
  target is linked twice.

axe-core comes from the npm registry as a test dependency (``tests/axe/package.json`` and its
lock file; ``npm ci --prefix tests/axe`` in ``.ci/run``); ``node_modules/`` is never committed.
Without it, or without chromium, these tests are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cdp import CDP
from chromium import Tab, Viewport, describe, in_ci, open_tab
from conftest import Site
from test_digest_browser import fixture_items, make_digest

from feeds.serve import make_server
from sources.digest.build import Digest
from sources.digest.render import to_html
from sources.types import StoredItem

pytestmark = pytest.mark.e2e

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}

LIGHT = Viewport("light", 1280, 900, 1, mobile=False)
DARK = Viewport("dark", 1280, 900, 1, mobile=False, dark=True)
SCHEMES = [LIGHT, DARK]
SITE_PAGES = {  # on the published sample site
    "index": "/",
    "article": "/ukraine-talks/",
    "tag": "/tags/security-and-defence/",
}
PAGES = [*SITE_PAGES, "digest"]

# Roles whose children are presentational (WAI-ARIA 1.2): assistive technology gets the
# node's name and description, never its descendants, though chromium's tree still lists them.
PRESENTATIONAL_CHILDREN = frozenset(
    {
        "image", "img", "button", "checkbox", "menuitemcheckbox", "menuitemradio", "meter",
        "option", "ListBoxOption", "progressbar", "radio", "scrollbar", "separator", "slider",
        "switch", "tab",
    }
)  # fmt: skip
NEAR = 80  # characters: how far after a topic's name its count must follow in the chart


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's browser build, as ``npm ci --prefix tests/axe`` installs it."""
    if not AXE_JS.is_file():
        reason = f"axe-core is not installed ({AXE_JS} is missing; run: npm ci --prefix {AXE_DIR})"
        if in_ci():
            pytest.fail(f"{reason}, and CI is set", pytrace=False)
        pytest.skip(reason)
    return AXE_JS.read_text(encoding="utf-8")


def digest_items() -> list[StoredItem]:
    """The browser test's items and one more from a source already in the first story: one
    story told twice by one source is where links named after the source meet."""
    items = fixture_items()
    paper = next(i for i in items if i.source_title == "Example News" and i.id == 2)
    link = "https://news.example.org/world/eu-japan-pact-analysis"
    later = paper.published_at + timedelta(hours=2)
    analysis = replace(
        paper,
        id=12,
        key="item-12",
        link=link,
        norm_link=link,
        title="What the EU and Japan security and defence partnership signed in Tokyo covers",
        summary="The security and defence partnership Japan and the EU signed in Tokyo covers "
        "maritime security, cyber and space, as with Norway and South Korea.",
        published_at=later,
        updated_at=later,
    )
    return [*items, analysis]


@dataclass
class Served:
    """The published site with its digest, on loopback, and every response the server gave."""

    digest: Digest
    port: int
    responses: list[tuple[str, int]] = field(default_factory=list)  # (request path, status)

    def path(self, page: str) -> str:
        return SITE_PAGES.get(page) or f"/digest/digest-{self.digest.day}.html"

    def url(self, page: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.path(page)}"


@pytest.fixture
def served(sample_site: Site) -> Iterator[Served]:
    """The sample site published for the loopback address it is served on (as a preview is),
    so even its absolute links stay on this machine, and a digest written into it."""
    httpd = make_server(sample_site.public, "127.0.0.1", 0, verbose=False)
    port = httpd.server_address[1]
    sample_site.publish("--base-url", f"http://127.0.0.1:{port}/")
    digest = make_digest(digest_items())
    repeated = [
        s
        for t in digest.topics
        for s in t.stories
        if len({n for n, _ in s.sources}) < len(s.sources)
    ]
    assert repeated, "a story with one source twice"
    folder = sample_site.public / "digest"
    folder.mkdir()
    (folder / f"digest-{digest.day}.html").write_text(to_html(digest), encoding="utf-8")
    result = Served(digest, port)
    lock = threading.Lock()

    class Recording(httpd.RequestHandlerClass):  # type: ignore[name-defined,misc]
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            with lock:
                result.responses.append((self.path, int(code)))

    httpd.RequestHandlerClass = Recording
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield result
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- axe-core ----------------------------------------------------------------------------------


def run_axe(tab: Tab, source: str) -> dict[str, Any]:
    """axe-core's results for the page: injected, run on the whole document, serialised."""
    tab.evaluate(source)
    assert tab.evaluate("typeof axe === 'object' && typeof axe.run === 'function'"), "no axe"
    results = tab.evaluate(
        f"axe.run(document, {json.dumps(AXE_OPTIONS)})"
        ".then((results) => JSON.parse(JSON.stringify(results)))",
        await_promise=True,
    )
    assert results["testEngine"]["name"] == "axe-core" and results["passes"], "axe did not run"
    return results


def report(violations: list[dict[str, Any]]) -> str:
    """Each violation's rule, impact and help, then each element: its selector and summary."""
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])} elements): "
            f"{violation['help']} {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"  {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name)
@pytest.mark.parametrize("page", PAGES)
def test_axe_finds_no_wcag_a_or_aa_violations(
    browser: CDP, served: Served, axe_source: str, page: str, scheme: Viewport
) -> None:
    with open_tab(browser, served.url(page), scheme) as tab:
        results = run_axe(tab, axe_source)
    violations = results["violations"]
    incomplete = sorted(i["id"] for i in results["incomplete"])
    assert violations == [], (
        f"axe-core {results['testEngine']['version']} on the {page} page, {scheme.name} scheme "
        f"(to review by hand: {incomplete}):\n{report(violations)}"
    )


# --- console, requests, icon -------------------------------------------------------------------


def icon_href(tab: Tab) -> str:
    """The icon a browser shows for the page: the last declared, else /favicon.ico."""
    return tab.evaluate(
        "([...document.querySelectorAll('link[rel~=\"icon\" i]')].pop()?.href)"
        " ?? new URL('/favicon.ico', location.href).href"
    )


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name)
@pytest.mark.parametrize("page", PAGES)
def test_no_console_errors_and_no_failed_requests(
    browser: CDP, served: Served, page: str, scheme: Viewport
) -> None:
    with open_tab(browser, served.url(page), scheme) as tab:
        icon = icon_href(tab)
        events = tab.events()
    findings = [p for p in map(describe, events) if p is not None]
    findings += [
        f"request failed: {e['params'].get('errorText')}"
        for e in events
        if e.get("method") == "Network.loadingFailed"
    ]
    findings += [f"{path} answered {status}" for path, status in served.responses if status >= 400]
    # chromium asks for a site's icon after the load (or not at all: once per origin, never
    # under the digest's CSP), so ask for a site page's icon here, as a browser would.
    if page in SITE_PAGES and (status := icon_status(icon, served.port)) != 200:
        findings.append(f"the page's icon {icon} answered {status}")
    assert findings == [], f"the {page} page, {scheme.name} scheme: {findings}"


def icon_status(icon: str, port: int) -> int:
    """200 for a ``data:`` icon, else what the loopback server answers for it."""
    parts = urlsplit(icon)
    if parts.scheme == "data":
        return 200
    assert (parts.hostname, parts.port) == ("127.0.0.1", port), f"the icon is not local: {icon}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status
    finally:
        connection.close()


# --- the accessibility tree --------------------------------------------------------------------


def ax_tree(tab: Tab) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Chromium's full accessibility tree: nodes by id, and the root."""
    nodes = tab.call("Accessibility.getFullAXTree")["nodes"]
    by_id = {node["nodeId"]: node for node in nodes}
    (root,) = [node for node in nodes if not node.get("parentId")]
    return by_id, root


def role(node: dict[str, Any]) -> str:
    return node.get("role", {}).get("value", "")


def name(node: dict[str, Any]) -> str:
    return str(node.get("name", {}).get("value", ""))


def exposed(by_id: dict[str, dict[str, Any]], start: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``start``'s subtree in document order as a screen reader gets it: no ignored node, no
    inline text box (its static text says it), nothing inside a node whose children are
    presentational (an image: its name and description are all there is)."""
    stack = [start]
    while stack:
        node = stack.pop()
        if not node.get("ignored") and role(node) != "InlineTextBox":
            yield node
            if role(node) in PRESENTATIONAL_CHILDREN:
                continue
        stack.extend(by_id[child] for child in reversed(node.get("childIds", [])) if child in by_id)


def texts(node: dict[str, Any]) -> list[str]:
    return [
        str(node[key]["value"])
        for key in ("name", "description", "value")
        if str(node.get(key, {}).get("value", "")).strip()
    ]


def chart_says(text: str, topic: str, count: int, others: list[str]) -> bool:
    """Whether ``text`` names ``topic`` with ``count`` the first number after it, within
    :data:`NEAR` characters and before any other topic's name."""
    for found in re.finditer(re.escape(topic), text):
        after = text[found.end() : found.end() + NEAR]
        for other in others:
            after = after.split(other, 1)[0]
        number = re.search(r"\d+", after)
        if number and int(number.group()) == count:
            return True
    return False


def test_the_digest_chart_names_every_topic_and_count_in_the_accessibility_tree(
    browser: CDP, served: Served
) -> None:
    digest = served.digest
    assert len(digest.topics) >= 6 and len({len(t.stories) for t in digest.topics}) > 1
    with open_tab(browser, served.url("digest"), LIGHT) as tab:
        by_id, root = ax_tree(tab)
    # What comes before the first topic's section: the title, the period, the chart.
    first = digest.topics[0].name
    before: list[str] = []
    for node in exposed(by_id, root):
        if role(node) == "heading" and name(node) == first:
            break
        before.extend(texts(node))
    else:
        pytest.fail(f"no heading {first!r} in the digest's accessibility tree")
    glance = " | ".join(before)
    names = [t.name for t in digest.topics]
    missing = [
        (topic.name, len(topic.stories))
        for topic in digest.topics
        if not chart_says(
            glance, topic.name, len(topic.stories), [n for n in names if n != topic.name]
        )
    ]
    assert missing == [], (
        f"topics and counts the chart does not tell a screen reader: {missing}; "
        f"what it tells before the first topic section: {glance!r}"
    )


def story_links(tab: Tab) -> list[list[tuple[str, str]]]:
    """Each story's links (accessible name, URL), stories being the tree's articles."""
    by_id, root = ax_tree(tab)
    stories = []
    for node in exposed(by_id, root):
        if role(node) == "article":
            links = []
            for inner in exposed(by_id, node):
                if role(inner) == "link":
                    url = next(
                        (
                            p["value"]["value"]
                            for p in inner.get("properties", [])
                            if p["name"] == "url"
                        ),
                        "",
                    )
                    links.append((" ".join(name(inner).split()), url))
            stories.append(links)
    return stories


def test_links_in_a_digest_story_say_where_they_go(browser: CDP, served: Served) -> None:
    digest = served.digest
    with open_tab(browser, served.url("digest"), LIGHT) as tab:
        stories = story_links(tab)
    assert len(stories) == digest.stories, "each story is an <article> in the tree"
    assert any(len(links) > 2 for links in stories), "a story with several links"
    ambiguous = []
    for links in stories:
        targets: dict[str, set[str]] = {}
        for link_name, url in links:
            targets.setdefault(link_name, set()).add(url)
        ambiguous += [(n, sorted(urls)) for n, urls in targets.items() if len(urls) > 1]
    assert ambiguous == [], f"one story, one link name, several targets: {ambiguous}"


def test_a_digest_story_links_each_target_once(browser: CDP, served: Served) -> None:
    digest = served.digest
    with open_tab(browser, served.url("digest"), LIGHT) as tab:
        stories = story_links(tab)
    assert len(stories) == digest.stories, "each story is an <article> in the tree"
    repeated = []
    for links in stories:
        names: dict[str, list[str]] = {}
        for link_name, url in links:
            names.setdefault(url, []).append(link_name)
        repeated += [(url, found) for url, found in names.items() if len(found) > 1]
    assert repeated == [], f"one story links one target twice (twice the tab stops): {repeated}"
