"""Article pages for summary-only feeds (issue 11), end to end through the CLI against a real
loopback server: robots.txt obeyed before any page is requested, the per-host limit and the
per-run cap held, a page read once across runs, walls and hostile pages never stored as the
article, and the page's text used by relevance, stories, search and the digest.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss
from stored_items import readable

from cli import main
from sources.follow.opml import parse_opml
from sources.judge.stories import group_stories
from sources.store.database import Store

CONFIG = """\
[site]
base_url = "https://example.org/"
timezone = "UTC"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""
NAV = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(12))
COOKIE_BANNER = (
    '<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your '
    "experience.</p><button>Accept</button></div>"
)
FOOTER = (
    "<footer><p>Copyright 2026 Example Media Ltd. All rights reserved.</p>"
    '<ul><li><a href="/privacy">Privacy</a></li><li><a href="/terms">Terms</a></li></ul></footer>'
)


def page(title: str, paragraphs: list[str], extra: str = "") -> bytes:
    """An article page shaped like a news site's: navigation, banner, article, footer."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body>{COOKIE_BANNER}<header><nav><ul>{NAV}</ul></nav></header>"
        f"<main><article><h1>{title}</h1>{body}{extra}</article>"
        '<aside><h2>Most read</h2><ul><li><a href="/x">Weather turns cold</a></li></ul></aside>'
        f"</main>{FOOTER}</body></html>"
    ).encode()


EU_ARTICLE = [
    "The European Union's High Representative Kaja Kallas said on Tuesday that the Council "
    "had adopted a new package of restrictive measures against Russia over its war of "
    "aggression against Ukraine.",
    "The package lists 45 individuals and 12 entities and tightens the ban on exports of "
    "dual-use goods, EU foreign ministers said after their meeting in Brussels.",
    "Kallas told reporters that the European Peace Facility would fund a further 500 million "
    "euros of military assistance to Ukraine, and that accession negotiations with Kyiv and "
    "Chisinau would open their first cluster before the summer.",
    "Hungary had held up the decision for weeks before agreeing on Monday evening, diplomats said.",
    "The Commission will present proposals on the use of immobilised Russian assets next month.",
]
CONSENT_WALL = (
    b'<!DOCTYPE html><html lang="en"><head><title>Before you continue</title></head><body>'
    b'<div class="consent-wall"><h1>We value your privacy</h1>'
    b"<p>We and our 842 partners store and/or access information on a device, such as cookies, "
    b"and process personal data for personalised advertising and content.</p>"
    b"<p>With your permission we and our partners may use precise geolocation data and "
    b"identification through device scanning.</p>"
    b"<p>Some partners process your data on the basis of legitimate interest, which you can "
    b"object to by clicking Manage options.</p>"
    b"<p>You can change your choices at any time in our privacy policy and cookie settings.</p>"
    b"<button>Accept all</button><button>Reject all</button><button>Manage options</button>"
    b"</div></body></html>"
)


class Project:
    """A tmp project with communique.toml, a source list of server feeds, and c.db."""

    def __init__(self, root: Path, server: FeedServer, extra: str = "") -> None:
        self.root, self.server = root, server
        self.config = root / "communique.toml"
        self.config.write_text(CONFIG + extra, encoding="utf-8")
        self.db_path = root / "c.db"

    def subscribe(self, *paths: str, full_text: str = "") -> None:
        attribute = f' communique:fullText="{full_text}"' if full_text else ""
        outlines = "".join(
            f'<outline type="rss" text="feed {i}" xmlUrl="{self.server.url(p)}"{attribute}/>'
            for i, p in enumerate(paths)
        )
        (self.root / "sources.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0" xmlns:communique="urn:communique:opml">'
            f"<head/><body>{outlines}</body></opml>",
            encoding="utf-8",
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def aggregate(self, *args: str) -> dict:
        result = self.run("aggregate", "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return db.execute(sql, params).fetchall()

    def entry(self, guid: str) -> dict:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            db.row_factory = sqlite3.Row
            return readable(db.execute("SELECT * FROM entries WHERE guid = ?", (guid,)).fetchone())


def feed_item(server: FeedServer, guid: str, path: str, title: str, summary: str) -> dict:
    return {
        "title": title,
        "link": server.url(path),
        "guid": guid,
        "description": summary,
        "pubDate": "Tue, 10 Mar 2026 09:00:00 +0000",
    }


@pytest.fixture
def project(tmp_path: Path, server: FeedServer) -> Project:
    return Project(tmp_path, server, 'full_text = "on"\n')


def test_robots_txt_disallow_is_obeyed_without_requesting_the_page(project, server):
    server.route(
        "/robots.txt",
        Route(body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
    )
    server.route("/private/a", Route(body=page("Secret", EU_ARTICLE), content_type="text/html"))
    server.route("/news/b", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    server.route(
        "/feed.xml",
        Route(
            body=rss(
                [
                    feed_item(server, "a", "/private/a", "A closed page", "One sentence."),
                    feed_item(server, "b", "/news/b", "An open page", "One sentence."),
                ]
            )
        ),
    )
    project.subscribe("/feed.xml")
    summary = project.aggregate()
    assert summary["pages"]["disallowed"] == 1 and summary["pages"]["read"] == 1
    assert server.requests_for("/private/a") == []  # not even once
    assert len(server.requests_for("/news/b")) == 1
    assert "robots.txt disallows" in project.entry("a")["page_note"]
    assert project.entry("a")["page_text"] == ""
    assert "Kaja Kallas" in project.entry("b")["page_text"]
    robots = server.requests_for("/robots.txt")
    assert len(robots) == 1 and robots[0].headers["user-agent"].startswith("communique/")
    project.aggregate("--all")
    assert len(server.requests_for("/robots.txt")) == 1  # read once a day, not once a run


def counting(delay: float, body: bytes) -> tuple[Callable[[BaseHTTPRequestHandler], None], dict]:
    """A page handler that records how many requests it served at once, at most."""
    state = {"now": 0, "most": 0, "served": 0}
    lock = threading.Lock()

    def handle(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            state["now"] += 1
            state["served"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            time.sleep(delay)
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        finally:
            with lock:
                state["now"] -= 1

    return handle, state


def test_per_host_limit_and_per_run_cap_are_held_and_the_rest_waits(tmp_path, server):
    project = Project(tmp_path, server, 'full_text = "on"\npages_per_host = 3\nper_host = 2\n')
    handle, state = counting(0.3, page("Sanctions", EU_ARTICLE))
    feed = []
    for i in range(8):
        server.route(f"/news/{i}", Route(handler=handle))
        feed.append(feed_item(server, f"g{i}", f"/news/{i}", f"Item {i}", "One sentence."))
    server.route("/feed.xml", Route(body=rss(feed)))
    project.subscribe("/feed.xml")
    first = project.aggregate()
    assert state["served"] == 3 and state["most"] == 2, state  # the cap, two at a time
    assert first["pages"]["read"] == 3 and first["pages"]["waiting"] == 5
    second = project.aggregate("--all")
    assert state["served"] == 6 and state["most"] == 2
    assert second["pages"]["read"] == 3 and second["pages"]["waiting"] == 2
    project.aggregate("--all")
    assert state["served"] == 8
    assert project.query("SELECT COUNT(*) FROM entries WHERE page_text != ''") == [(8,)]
    project.aggregate("--all")
    assert state["served"] == 8  # nothing is wanted any more


def test_a_page_is_fetched_once_across_runs_and_items(project, server):
    server.route("/news/1", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    route = server.route(
        "/feed.xml", Route(body=rss([feed_item(server, "one", "/news/1", "First", "A sentence.")]))
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    assert len(server.requests_for("/news/1")) == 1
    project.aggregate("--all")  # unchanged feed: nothing wanted
    # another item (another guid) linking to the same page: read from the store, not fetched
    route.body = rss(
        [
            feed_item(server, "one", "/news/1", "First", "A sentence."),
            feed_item(server, "two", "/news/1", "Second", "Another sentence."),
        ]
    )
    summary = project.aggregate("--all")
    assert summary["pages"]["reused"] == 1
    assert len(server.requests_for("/news/1")) == 1
    assert project.entry("two")["page_text"] == project.entry("one")["page_text"] != ""


def test_a_failed_page_is_tried_again_after_its_backoff_only(project, server):
    article = server.route("/news/1", Route(status=500, content_type="text/html"))
    server.route(
        "/feed.xml", Route(body=rss([feed_item(server, "one", "/news/1", "First", "A sentence.")]))
    )
    project.subscribe("/feed.xml")
    assert project.aggregate()["pages"]["failed"] == 1
    assert project.entry("one")["page_wanted"] == 1  # it waits for its backoff
    assert project.aggregate("--all")["pages"]["waiting"] == 1
    assert len(server.requests_for("/news/1")) == 1  # not before the backoff has passed
    # the backoff (minutes by default) passes
    with contextlib.closing(sqlite3.connect(project.db_path)) as db, db:
        db.execute("UPDATE pages SET retry_at = '2000-01-01T00:00:00+00:00'")
    article.status, article.body = 200, page("Sanctions", EU_ARTICLE)
    assert project.aggregate("--all")["pages"]["read"] == 1
    assert len(server.requests_for("/news/1")) == 2
    assert "Kallas" in project.entry("one")["page_text"]


def test_a_consent_wall_is_not_stored_and_the_feed_text_stays(project, server):
    server.route("/news/1", Route(body=CONSENT_WALL, content_type="text/html"))
    server.route(
        "/feed.xml",
        Route(
            body=rss(
                [
                    feed_item(
                        server,
                        "one",
                        "/news/1",
                        "EU adopts sanctions",
                        "The Council adopted restrictive measures against Russia today.",
                    )
                ]
            )
        ),
    )
    project.subscribe("/feed.xml")
    summary = project.aggregate()
    assert summary["pages"]["kept_feed_text"] == 1
    entry = project.entry("one")
    assert entry["page_text"] == "" and entry["page_note"] == "a consent wall, not the article"
    assert "restrictive measures" in entry["text"]
    explained = project.run("explain", str(entry["id"]))
    assert "the article page was not used: a consent wall" in explained.output
    listed = json.loads(project.run("sources", "list", "--json").stdout)
    assert listed[0]["last_page_problem"] == "a consent wall, not the article"
    assert listed[0]["entries_with_page_text"] == 0


HOSTILE = page(
    "Sanctions",
    [
        *EU_ARTICLE,
        '<img src="x" onerror="stealCookies()">Ministers <b onclick="evilHandler()">agreed</b>.',
    ],
    extra='<script>alert("owned")</script><a href="javascript:evilLink()">more</a>'
    '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>',
)


def test_a_hostile_pages_scripts_and_handlers_never_reach_the_store_or_any_output(
    project, server, tmp_path
):
    server.route("/news/1", Route(body=HOSTILE, content_type="text/html"))
    server.route(
        "/feed.xml",
        Route(body=rss([feed_item(server, "one", "/news/1", "EU sanctions Russia", "")])),
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    stored = project.entry("one")
    assert "Kallas" in stored["page_text"]
    digest = project.run(
        "digest", "--since", "2026-03-09", "--until", "2026-03-12", "--out", str(tmp_path / "d")
    )
    assert digest.exit_code == 0, digest.output
    outputs = [stored["page_text"], *(p.read_text() for p in (tmp_path / "d").rglob("*.*"))]
    assert any("Kallas" in text for text in outputs[1:])  # the excerpt comes from the page
    for text in outputs:
        for bad in (
            "alert(",
            "stealCookies",
            "evilHandler",
            "evilLink",
            "onerror",
            "<iframe",
            "display:none",
        ):
            assert bad not in text


SHORT_FEED = [("chisinau", "/news/md1", "Talks in Chisinau conclude", "Officials met on Tuesday.")]


def test_relevance_search_and_stories_use_the_page_text(tmp_path, server):
    other = "Two delegations held meetings on Tuesday."
    project = Project(tmp_path, server)
    server.route("/a/1", Route(body=page("Moldova", EU_ARTICLE), content_type="text/html"))
    retold = [EU_ARTICLE[1], EU_ARTICLE[0], *EU_ARTICLE[3:]]  # another outlet's order
    server.route("/b/1", Route(body=page("Moldova", retold), content_type="text/html"))
    server.route(
        "/a.xml",
        Route(
            body=rss(
                [feed_item(server, "a1", "/a/1", "Talks conclude", "Officials met on Tuesday.")]
            )
        ),
    )
    server.route(
        "/b.xml",
        Route(body=rss([feed_item(server, "b1", "/b/1", "Delegations meet", other)])),
    )
    project.subscribe("/a.xml", "/b.xml", full_text="auto")  # one-sentence feeds: read
    project.aggregate()
    a, b = project.entry("a1"), project.entry("b1")
    assert a["relevant"] == 1 and b["relevant"] == 1  # the feeds alone say nothing of the EU
    with Store(project.db_path) as store:
        assert {hit.id for hit in store.search("immobilised")} == {a["id"], b["id"]}
        items = [store.item(a["id"]), store.item(b["id"])]
    assert [len(s.items) for s in group_stories(items, is_official=lambda i: False)] == [2]
    # the same feeds without their pages: neither relevant, and two stories
    (tmp_path / "plain").mkdir()
    plain = Project(tmp_path / "plain", server)
    plain.subscribe("/a.xml", "/b.xml", full_text="off")
    plain.aggregate()
    assert plain.entry("a1")["relevant"] == 0 and plain.entry("a1")["page_text"] == ""


def test_auto_reads_only_items_whose_feed_text_is_short(tmp_path, server):
    project = Project(tmp_path, server, 'full_text = "auto"\nfull_text_below = 100\n')
    server.route("/news/1", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    server.route("/news/2", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    long_text = " ".join(EU_ARTICLE[:2])
    server.route(
        "/feed.xml",
        Route(
            body=rss(
                [
                    feed_item(server, "short", "/news/1", "Short", "One sentence."),
                    feed_item(server, "long", "/news/2", "Long", long_text),
                ]
            )
        ),
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    assert len(server.requests_for("/news/1")) == 1
    assert server.requests_for("/news/2") == []


def test_a_host_that_answers_429_is_left_alone(tmp_path, server):
    project = Project(tmp_path, server, 'full_text = "on"\nper_host = 1\n')
    # the newest item's page is asked for first
    server.route(
        "/news/3", Route(status=429, headers={"Retry-After": "3600"}, content_type="text/html")
    )
    feed = [feed_item(server, f"g{i}", f"/news/{i}", f"Item {i}", "One.") for i in range(4)]
    for i in range(3):
        server.route(f"/news/{i}", Route(body=page("S", EU_ARTICLE), content_type="text/html"))
    server.route("/feed.xml", Route(body=rss(feed)))
    project.subscribe("/feed.xml")
    project.aggregate()
    asked = sum(len(server.requests_for(f"/news/{i}")) for i in range(4))
    project.aggregate("--all")
    assert sum(len(server.requests_for(f"/news/{i}")) for i in range(4)) == asked  # resting
    assert asked == 1  # the host said stop: no other page was asked for
    assert project.query("SELECT COUNT(*) FROM entries WHERE page_wanted = 1") == [(4,)]


def test_sources_add_full_text_sets_the_list_attribute(tmp_path, server):
    project = Project(tmp_path, server)
    server.route("/feed.xml", Route(body=rss([])))
    project.subscribe()
    url = server.url("/feed.xml")
    added = project.run("sources", "add", url, "--full-text")
    assert added.exit_code == 0, added.output
    listed = parse_opml((tmp_path / "sources.opml").read_bytes(), "sources.opml")
    assert [(s.url, s.full_text) for s in listed] == [(url, "on")]
    again = project.run("sources", "add", url, "--no-full-text")
    assert "article pages now off" in again.output
    listed = parse_opml((tmp_path / "sources.opml").read_bytes(), "sources.opml")
    assert listed[0].full_text == "off"


def test_an_item_whose_link_changes_reads_its_new_page(project, server):
    server.route("/news/old", Route(body=page("Old", EU_ARTICLE), content_type="text/html"))
    moved = [*EU_ARTICLE[:2], "The new page adds that Montenegro closed three more chapters."]
    server.route("/news/new", Route(body=page("New", moved), content_type="text/html"))
    route = server.route(
        "/feed.xml", Route(body=rss([feed_item(server, "one", "/news/old", "First", "One.")]))
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    assert "Montenegro" not in project.entry("one")["page_text"]
    route.body = rss([feed_item(server, "one", "/news/new", "First", "One.")])
    project.aggregate("--all")
    assert len(server.requests_for("/news/new")) == 1
    assert "Montenegro closed three more chapters" in project.entry("one")["page_text"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('full_text = "always"', "[aggregate] full_text is 'always'"),
        ("pages_per_host = 0", "[aggregate] pages_per_host must be at least 1"),
    ],
)
def test_a_bad_full_text_setting_is_one_line_naming_the_line(tmp_path, server, setting, message):
    project = Project(tmp_path, server, setting + "\n")
    project.subscribe()
    result = project.run("aggregate")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "communique.toml:7:" in lines[0] and message in lines[0], lines
