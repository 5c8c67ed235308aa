"""A changed feed costs what changed: unchanged items are recognised by the hash of their bytes.

Observed through ``aggregate -v``, which logs per source how many entries were parsed and how
many items were recognised unchanged, and through the store: identity and update in place
behave exactly as when every item is parsed.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Route, rss

from cli import main
from sources.follow.opml import Source, save_source_list

ITEMS = [
    {
        "title": f"Item {n}",
        "link": f"https://news.example/{n}",
        "guid": f"urn:item:{n}",
        "description": f"<p>Body of item {n}, with <a href='/rel/{n}'>a relative link</a>.</p>",
        "pubDate": f"Mon, 0{n} Sep 2025 10:00:00 +0000",
    }
    for n in range(1, 6)
]


class Project:
    def __init__(self, root: Path, url: str) -> None:
        self.config = root / "communique.toml"
        self.db = root / "c.db"
        self.config.write_text(
            '[aggregate]\nsources = "s.opml"\ndatabase = "c.db"\nworkers = 1\n', encoding="utf-8"
        )
        save_source_list(root / "s.opml", [Source(url, "News")])

    def aggregate(self) -> tuple[int, int]:
        """One run; ``(entries parsed, items recognised unchanged)`` from the log."""
        result = CliRunner().invoke(
            main, ["--config", str(self.config), "aggregate", "--all", "-v"]
        )
        assert result.exit_code == 0, result.output
        found = re.search(r"(\d+) parsed, (\d+) unchanged by hash", result.stderr)
        assert found, result.stderr
        return int(found[1]), int(found[2])

    def rows(self) -> dict[str, tuple[int, str, str]]:
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            rows = db.execute("SELECT guid, id, title, summary FROM entries").fetchall()
        return {guid: (entry_id, title, summary) for guid, entry_id, title, summary in rows}


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[tuple[Route, Project]]:
    with FeedServer() as server:
        route = server.route("/feed.xml", Route(body=rss(ITEMS), etag=False, last_modified=False))
        yield route, Project(tmp_path, server.url("/feed.xml"))


def test_a_feed_that_gains_one_item_parses_only_that_item(feed):
    route, project = feed
    assert project.aggregate() == (5, 0)
    before = project.rows()
    extra = {"title": "Item 6", "link": "https://news.example/6", "guid": "urn:item:6"}
    route.body = rss([extra, *ITEMS])
    assert project.aggregate() == (1, 5)
    after = project.rows()
    assert set(after) == {*before, "urn:item:6"}
    assert all(after[guid] == row for guid, row in before.items())


def test_an_edited_item_is_parsed_again_and_updated_in_place(feed):
    route, project = feed
    project.aggregate()
    before = project.rows()
    edited = [dict(ITEMS[0], title="Item 1, corrected"), *ITEMS[1:]]
    route.body = rss(edited)
    assert project.aggregate() == (1, 4)
    after = project.rows()
    assert after["urn:item:1"][0] == before["urn:item:1"][0]  # the same row
    assert after["urn:item:1"][1] == "Item 1, corrected"
    assert len(after) == len(before)


def test_reordered_items_and_a_rewritten_header_cost_nothing(feed):
    route, project = feed
    project.aggregate()
    before = project.rows()
    reordered = rss(list(reversed(ITEMS))).replace(
        b"<description>test</description>",
        b"<description>test</description><lastBuildDate>Tue, 09 Sep 2025</lastBuildDate>",
    )
    route.body = reordered
    assert project.aggregate() == (0, 5)
    assert project.rows() == before


def test_a_new_feed_link_parses_every_item_again(feed):
    # Relative links in items resolve against the feed's link: if it changes, so may they.
    route, project = feed
    project.aggregate()
    route.body = rss(ITEMS, link="https://elsewhere.example/")
    assert project.aggregate() == (5, 0)


def test_a_malformed_feed_still_yields_its_recoverable_entries(feed):
    route, project = feed
    project.aggregate()
    broken = rss([{"title": "Item 7 & more", "guid": "urn:item:7"}, *ITEMS])  # a bare "&"
    route.body = broken
    parsed, unchanged = project.aggregate()
    assert (parsed, unchanged) == (6, 0)  # not strict XML: read whole by feedparser, as before
    rows = project.rows()
    assert rows["urn:item:7"][1] == "Item 7 & more"
    assert len(rows) == 6


def test_a_new_item_sharing_the_link_of_an_unchanged_one_is_a_new_item(feed):
    # Live blogs: every update links to one page. The unchanged item is still in the feed,
    # so the newcomer cannot be it with a changed guid.
    route, project = feed
    live = {"title": "Live: day 1", "link": "https://news.example/live", "guid": "urn:live:1"}
    route.body = rss([live, *ITEMS])
    project.aggregate()
    update = {"title": "Live: day 2", "link": "https://news.example/live", "guid": "urn:live:2"}
    route.body = rss([update, live, *ITEMS])
    assert project.aggregate() == (1, 6)
    rows = project.rows()
    assert rows["urn:live:1"][1] == "Live: day 1" and rows["urn:live:2"][1] == "Live: day 2"


def test_an_item_listed_twice_keeps_the_first_as_stored_run_after_run(feed):
    route, project = feed
    first = {"title": "First", "guid": "urn:same", "link": "https://news.example/same"}
    second = {"title": "Second", "guid": "urn:same", "link": "https://news.example/same"}
    for run in range(3):  # the header changes every run; the two items do not
        route.body = rss([first, second, *ITEMS], title=f"Feed, edition {run}")
        project.aggregate()
        assert project.rows()["urn:same"][1] == "First", run
    route.body = rss([first, second, *ITEMS], title="Feed, edition 3")
    assert project.aggregate() == (0, 7)  # both listings recognised by now


def test_an_rdf_feed_whose_items_are_all_unchanged_is_still_a_feed(tmp_path):
    def rdf(channel_title: str) -> bytes:
        return (
            '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f"<channel><title>{channel_title}</title><link>https://r.example/</link></channel>"
            "<item><title>One</title><link>https://r.example/1</link></item>"
            "<item><title>Two</title><link>https://r.example/2</link></item></rdf:RDF>"
        ).encode()

    with FeedServer() as server:
        route = server.route("/rdf.xml", Route(body=rdf("a"), etag=False, last_modified=False))
        project = Project(tmp_path, server.url("/rdf.xml"))
        assert project.aggregate() == (2, 0)
        route.body = rdf("b")  # a changed header, no changed item
        assert project.aggregate() == (0, 2)


def test_a_warning_about_the_whole_feed_survives_a_run_that_parses_only_some_items(feed):
    route, project = feed
    route.content_type = "text/html"  # not a feed's media type: feedparser warns
    project.aggregate()

    def warning() -> str | None:
        with contextlib.closing(sqlite3.connect(project.db)) as db:
            return db.execute("SELECT warning FROM sources").fetchone()[0]

    first = warning()
    assert first and "NonXMLContentType" in first
    route.body = rss(ITEMS, title="A new edition")
    assert project.aggregate() == (0, 5)
    assert warning() == first
