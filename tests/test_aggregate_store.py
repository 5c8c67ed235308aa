"""The aggregator end to end through the CLI: real SQLite files, a real loopback HTTP server.

What issue 3 promises about the store: re-running changes nothing that did not change
upstream; each item is stored once (guid changes and decorated links included) and updated
in place; dates are UTC, first-seen or clamped; a run killed with SIGKILL at any moment is
completed by the next without loss or duplicates; a second concurrent run waits or stops
cleanly; the OPML source list round-trips; search, pruning and the summary work.
HTTP behaviours (304, redirects, 410, 429, timeouts, encodings) are in test_aggregate_http.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import stored_items
from click.testing import CliRunner, Result
from feedserver import FIXTURES, FeedServer, Route, rss

from cli import main
from sources.follow.opml import default_sources, parse_opml
from sources.store.database import Store

COMMUNIQUE = Path(sys.executable).parent / "communique"
CONFIG = """\
[site]
base_url = "https://example.org/"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""
SUMMARY_KEYS = {
    "sources", "ok", "not_modified", "unchanged", "failed", "gone", "items_new",
    "items_updated", "moved", "failures", "items_pruned", "pages", "archives",
}  # fmt: skip


def opml(urls: list[str]) -> str:
    outlines = "".join(
        f'<outline type="rss" text="feed {i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'


class Project:
    """A tmp directory with communique.toml, a source list and the database c.db."""

    def __init__(self, root: Path, server: FeedServer, extra: str = "") -> None:
        self.root = root
        self.server = server
        self.config = root / "communique.toml"
        self.config.write_text(CONFIG + extra, encoding="utf-8")
        self.db_path = root / "c.db"
        self.opml = root / "sources.opml"

    def subscribe(self, *paths: str) -> list[str]:
        """Make the source list exactly these paths of the test server."""
        urls = [self.server.url(p) for p in paths]
        self.opml.write_text(opml(urls), encoding="utf-8")
        return urls

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def aggregate(self, *args: str, code: int = 0) -> dict:
        result = self.run("aggregate", "--json", *args)
        assert result.exit_code == code, result.output
        summary = json.loads(result.stdout)
        assert set(summary) == SUMMARY_KEYS
        return summary

    def query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(stored_items.connect(self.db_path)) as db, db:
            return db.execute(sql, params).fetchall()

    def entries(self) -> list[tuple]:
        """Every stored item, every column, in row order."""
        return self.query("SELECT * FROM entries ORDER BY id")

    def item(self, guid: str) -> dict:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM entries WHERE guid = ?", (guid,)).fetchall()
        assert len(rows) == 1, [dict(r) for r in rows]
        return stored_items.readable(rows[0])

    def fts(self, words: str) -> list[str]:
        with Store(self.db_path) as store:
            return sorted(hit.title for hit in store.search(words))


@pytest.fixture
def project(tmp_path: Path, server: FeedServer) -> Project:
    return Project(tmp_path, server)


def items(prefix: str, n: int, **extra: str) -> list[dict[str, str]]:
    return [
        {
            "title": f"{prefix} item {i}",
            "link": f"https://news.example/{prefix}/{i}",
            "guid": f"urn:{prefix}:{i}",
            "description": f"<p>Text of {prefix} item {i}.</p>",
            "pubDate": f"{10 + i % 15:02d} Jun 2025 09:00:00 +0000",
            **extra,
        }
        for i in range(n)
    ]


def isoparse(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- idempotence --------------------------------------------------------------------------------


def test_two_runs_over_unchanged_feeds_change_nothing(project, server):
    server.route("/validators.xml", Route(body=rss(items("v", 5))))
    server.route("/etag-only.xml", Route(body=rss(items("e", 4)), last_modified=False))
    server.route("/none.xml", Route(body=rss(items("n", 3)), etag=False, last_modified=False))
    project.subscribe("/validators.xml", "/etag-only.xml", "/none.xml")
    first = project.aggregate("--all")
    assert (first["ok"], first["items_new"], first["items_updated"]) == (3, 12, 0)
    before = project.entries()
    fts_before = project.query("SELECT rowid, title, summary, text FROM entries_fts ORDER BY rowid")

    second = project.aggregate("--all")
    assert second["sources"] == 3
    assert (second["not_modified"], second["unchanged"], second["ok"]) == (2, 1, 0)
    assert (second["items_new"], second["items_updated"], second["failed"]) == (0, 0, 0)
    assert project.entries() == before
    assert project.query("SELECT rowid, title, summary, text FROM entries_fts ORDER BY rowid") == (
        fts_before
    )
    assert "if-none-match" in server.requests_for("/validators.xml")[-1].headers
    assert "if-none-match" not in server.requests_for("/none.xml")[-1].headers


def test_a_body_with_the_same_items_reordered_changes_nothing(project, server):
    feed = items("r", 6)
    route = server.route("/feed.xml", Route(body=rss(feed), etag=False, last_modified=False))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    before = project.entries()
    route.body = rss(list(reversed(feed)))
    second = project.aggregate("--all")
    assert (second["ok"], second["items_new"], second["items_updated"]) == (1, 0, 0)
    assert project.entries() == before
    route.body = rss(feed[3:] + feed[:3], title="Renamed feed title")
    third = project.aggregate("--all")
    assert (third["items_new"], third["items_updated"]) == (0, 0)
    assert project.entries() == before


def test_without_all_nothing_is_polled_before_it_is_due(project, server):
    server.route("/feed.xml", Route(body=rss(items("d", 2))))
    project.subscribe("/feed.xml")
    assert project.aggregate()["sources"] == 1
    pages = dict.fromkeys(
        ["read", "kept_feed_text", "reused", "failed", "disallowed", "waiting"], 0
    )
    assert project.aggregate() == {
        **dict.fromkeys(SUMMARY_KEYS, 0),
        "moved": [],
        "failures": [],
        "pages": pages,
        "archives": 0,
    }
    assert len(server.requests_for("/feed.xml")) == 1


def touched(body: bytes) -> bytes:
    """The same feed with different bytes (so it is parsed again): a comment after the root."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if body.startswith(bom):
            return body + "\n<!-- again -->\n".encode(encoding)
    return body + b"\n<!-- again -->\n"


def test_every_fixture_feed_reparsed_unchanged_gives_no_new_or_updated_item(project, server):
    fixtures = sorted(FIXTURES.glob("*.xml"))
    if not fixtures:
        pytest.skip("shared fixtures not present")
    routes = {}
    for path in fixtures:
        routes[path.name] = server.route(
            f"/{path.name}",
            Route(body=path.read_bytes(), etag=False, last_modified=False, content_type="text/xml"),
        )
    project.subscribe(*(f"/{name}" for name in routes))
    first = project.aggregate("--all")
    assert first["failed"] == 0, first["failures"]
    assert first["items_new"] > 100
    before = project.entries()
    for route in routes.values():
        route.body = touched(route.body)
    second = project.aggregate("--all")
    assert second["ok"] == len(routes)
    assert (second["items_new"], second["items_updated"]) == (0, 0)
    assert project.entries() == before


# --- identity: guid changes, shared links -------------------------------------------------------


@pytest.mark.parametrize(
    "new_link",
    [
        "https://news.example/eu/sanctions-package",
        "https://news.example/eu/sanctions-package?utm_source=rss&amp;utm_medium=feed",
        "https://news.example/eu/sanctions-package#comments",
        "http://news.example/eu/sanctions-package",
        "https://WWW.News.Example/eu/sanctions-package?fbclid=abc",
    ],
)
def test_an_item_whose_guid_changes_but_not_its_link_is_updated_in_place(project, server, new_link):
    old = {
        "title": "Council adopts a sanctions package",
        "link": "https://news.example/eu/sanctions-package",
        "guid": "urn:cms-v1:4711",
        "description": "The Council adopted its 14th package.",
        "pubDate": "Tue, 10 Jun 2025 09:00:00 +0000",
    }
    others = items("o", 2)
    route = server.route("/feed.xml", Route(body=rss([old, *others])))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    row = project.item("urn:cms-v1:4711")

    route.body = rss([{**old, "guid": "https://news.example/?p=4711", "link": new_link}, *others])
    second = project.aggregate("--all")
    assert (second["items_new"], second["items_updated"]) == (0, 1)
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 3
    moved = project.item("https://news.example/?p=4711")
    assert moved["id"] == row["id"]
    assert moved["first_seen_at"] == row["first_seen_at"]
    assert moved["published_at"] == row["published_at"]

    route.body = rss([{**old, "guid": "https://news.example/?p=4711", "link": new_link}, *others])
    route.body += b"\n"  # new bytes, same items: stable under the new guid
    third = project.aggregate("--all")
    assert (third["items_new"], third["items_updated"]) == (0, 0)


def test_items_sharing_one_link_with_distinct_guids_are_all_kept(project, server):
    """A feed whose every item links to the home page: a new item never replaces an old one."""
    shared = [
        {"title": f"Statement {i}", "link": "https://agency.example/", "guid": f"urn:st:{i}",
         "description": f"Statement number {i}."}
        for i in range(4)
    ]  # fmt: skip
    route = server.route("/feed.xml", Route(body=rss(shared[:3])))
    project.subscribe("/feed.xml")
    assert project.aggregate("--all")["items_new"] == 3
    route.body = rss([shared[3], *shared[:3]])  # newest first, as feeds list them
    second = project.aggregate("--all")
    assert (second["items_new"], second["items_updated"]) == (1, 0)
    titles = [r[0] for r in project.query("SELECT title FROM entries ORDER BY title")]
    assert titles == [f"Statement {i}" for i in range(4)]


def test_items_without_guid_are_identified_by_their_normalised_link(project, server):
    plain = [
        {"title": "A", "link": "https://news.example/a?utm_source=rss", "description": "a"},
        {"title": "B", "link": "https://news.example/b", "description": "b"},
    ]
    route = server.route("/feed.xml", Route(body=rss(plain)))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    route.body = rss(
        [{**plain[0], "link": "http://news.example/a#x"}, {**plain[1], "description": "b2"}]
    )
    second = project.aggregate("--all")
    assert (second["items_new"], second["items_updated"]) == (0, 2)
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 2


def test_plain_guids_survive_the_feed_being_served_from_another_url(project, server):
    feed = [
        {"title": "A", "guid": "4711", "description": "no link"},
        {"title": "B", "guid": "4712", "link": "https://news.example/b", "description": "b"},
    ]
    old = server.route("/old/rss.xml", Route(body=rss(feed)))
    project.subscribe("/old/rss.xml")
    project.aggregate("--all")
    b_before = project.query("SELECT * FROM entries WHERE title = 'B'")
    server.route("/v2/feed/rss.xml", Route(body=rss([*feed, {"title": "C", "guid": "4713"}])))
    old.status, old.location = 302, server.url("/v2/feed/rss.xml")
    assert project.aggregate("--all")["items_new"] == 1
    guids = sorted(r[0] for r in project.query("SELECT guid FROM entries"))
    assert guids == ["4711", "4712", "4713"]
    assert project.query("SELECT * FROM entries WHERE title = 'B'") == b_before


# --- updates in place ---------------------------------------------------------------------------


def test_an_item_whose_content_changes_is_updated_in_place_and_searchable(project, server):
    item = {
        "title": "Council adopts conclusions on Ukraine",
        "link": "https://news.example/ukraine",
        "guid": "urn:council:ukraine",
        "description": "<p>Ministers discussed the reconstruction conference in Vilnius.</p>",
        "pubDate": "Tue, 10 Jun 2025 09:00:00 +0000",
    }
    route = server.route("/feed.xml", Route(body=rss([item, *items("x", 2)])))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    before = project.item("urn:council:ukraine")
    assert project.fts("Vilnius") == ["Council adopts conclusions on Ukraine"]

    changed = {
        **item,
        "title": "Council adopts conclusions on Moldova",
        "description": "<p>Ministers welcomed the accession talks with Chisinau.</p>",
    }
    route.body = rss([changed, *items("x", 2)])
    second = project.aggregate("--all")
    assert (second["items_new"], second["items_updated"]) == (0, 1)
    after = project.item("urn:council:ukraine")
    assert after["id"] == before["id"]
    assert after["title"] == "Council adopts conclusions on Moldova"
    assert "Chisinau" in after["text"] and "Vilnius" not in after["text"]
    assert after["content_hash"] != before["content_hash"]
    assert after["first_seen_at"] == before["first_seen_at"]
    assert after["published_at"] == before["published_at"]
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 3
    assert project.fts("Chisinau") == ["Council adopts conclusions on Moldova"]
    assert project.fts("Moldova") == ["Council adopts conclusions on Moldova"]
    assert project.fts("Vilnius") == []
    assert project.fts("Ukraine") == []
    assert project.query("SELECT COUNT(*) FROM entries_fts")[0][0] == 3


def test_an_updated_atom_entry_takes_its_new_updated_time(project, server):
    def atom(updated: str, text: str) -> bytes:
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>EEAS</title><id>urn:eeas</id>
<updated>{updated}</updated><link href="https://eeas.example/"/>
<entry><title>Statement</title><id>urn:eeas:1</id><link href="https://eeas.example/1"/>
<published>2025-06-01T08:00:00+02:00</published><updated>{updated}</updated>
<content type="html">&lt;p&gt;{text}&lt;/p&gt;</content></entry></feed>""".encode()

    route = server.route(
        "/atom.xml",
        Route(body=atom("2025-06-01T08:00:00+02:00", "first"), content_type="application/atom+xml"),
    )
    project.subscribe("/atom.xml")
    project.aggregate("--all")
    before = project.item("urn:eeas:1")
    assert before["published_at"] == "2025-06-01T06:00:00+00:00"
    assert before["updated_at"] == "2025-06-01T06:00:00+00:00"
    route.body = atom("2025-06-02T10:30:00+02:00", "second")
    assert project.aggregate("--all")["items_updated"] == 1
    after = project.item("urn:eeas:1")
    assert after["updated_at"] == "2025-06-02T08:30:00+00:00"
    assert after["published_at"] == "2025-06-01T06:00:00+00:00"


def test_an_rss_item_whose_content_changes_gets_a_later_updated_at(project, server):
    """RSS has no update time: a changed item is updated when the change was seen (feedparser's
    deprecated updated_parsed -> published_parsed alias once kept the old pubDate)."""
    item = {
        "title": "Statement",
        "guid": "urn:s:1",
        "link": "https://news.example/s/1",
        "description": "first",
        "pubDate": "Tue, 10 Jun 2025 09:00:00 +0000",
    }
    route = server.route("/feed.xml", Route(body=rss([item])))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    before = project.item("urn:s:1")
    route.body = rss([{**item, "description": "corrected"}])
    assert project.aggregate("--all")["items_updated"] == 1
    after = project.item("urn:s:1")
    assert after["text"] == "corrected"
    assert isoparse(after["updated_at"]) > isoparse(before["updated_at"])
    assert after["updated_at"] == after["last_seen_at"]  # the fetch that saw the change
    assert after["published_at"] == before["published_at"] == "2025-06-10T09:00:00+00:00"


# --- dates --------------------------------------------------------------------------------------


def test_dates_are_utc_first_seen_or_clamped(project, server):
    feed = [
        {"title": "No date", "guid": "urn:d:none", "description": "x"},
        {"title": "Future", "guid": "urn:d:future", "pubDate": "Tue, 10 Jun 2031 14:00:00 +0200"},
        {"title": "Day first", "guid": "urn:d:dayfirst", "pubDate": "10/06/2025 14:00"},
        {"title": "Offset", "guid": "urn:d:offset", "pubDate": "Tue, 10 Jun 2025 14:00:00 +0200"},
        {"title": "Western", "guid": "urn:d:west", "pubDate": "Mon, 09 Jun 2025 22:30:00 -0500"},
    ]
    route = server.route("/feed.xml", Route(body=rss(feed)))
    project.subscribe("/feed.xml")
    started = datetime.now(UTC).replace(microsecond=0)
    project.aggregate("--all")
    ended = datetime.now(UTC)
    (fetched_at,) = project.query("SELECT last_fetch_at FROM sources")[0]

    none = project.item("urn:d:none")
    assert none["published_at"] == none["first_seen_at"] == fetched_at
    assert started <= isoparse(none["published_at"]) <= ended
    future = project.item("urn:d:future")
    assert started <= isoparse(future["published_at"]) <= ended
    assert project.item("urn:d:dayfirst")["published_at"] == "2025-06-10T14:00:00+00:00"
    assert project.item("urn:d:offset")["published_at"] == "2025-06-10T12:00:00+00:00"
    assert project.item("urn:d:west")["published_at"] == "2025-06-10T03:30:00+00:00"
    for published, updated, first_seen in project.query(
        "SELECT published_at, updated_at, first_seen_at FROM entries"
    ):
        for text in (published, updated, first_seen):
            assert isoparse(text).utcoffset() == timedelta(0), text

    # A later change to the undated item keeps the time it was first seen.
    time.sleep(1.05)
    route.body = rss([{**feed[0], "description": "changed"}, *feed[1:]])
    project.aggregate("--all")
    assert project.item("urn:d:none")["published_at"] == none["published_at"]


def test_a_future_dated_item_without_guid_or_link_is_stored_once(project, server):
    feed = [{"title": "Embargoed statement", "description": "x",
             "pubDate": "Tue, 10 Jun 2031 14:00:00 +0200"}]  # fmt: skip
    route = server.route("/feed.xml", Route(body=rss(feed), etag=False, last_modified=False))
    project.subscribe("/feed.xml")
    project.aggregate("--all")
    route.body = rss([*feed, {"title": "Another", "guid": "urn:another"}])
    second = project.aggregate("--all")
    assert second["items_new"] == 1
    assert project.query("SELECT COUNT(*) FROM entries WHERE title = 'Embargoed statement'") == [
        (1,)
    ]


# --- SIGKILL mid-run ----------------------------------------------------------------------------

FEEDS = 30
PER_FEED = 15


def spawn(project: Project, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(COMMUNIQUE), "--config", str(project.config), "aggregate", *args],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so its parser workers can be reaped
    )


def reap(process: subprocess.Popen) -> None:
    """Kill what is left of a process group we started (orphaned parser workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()


def committed(project: Project) -> int:
    """Sources whose fetch has been committed (read with a plain sqlite3 connection)."""
    if not project.db_path.exists():
        return 0
    uri = f"file:{project.db_path}?mode=ro"  # never create the file the run is about to
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            return db.execute(
                "SELECT COUNT(*) FROM sources WHERE last_fetch_at IS NOT NULL"
            ).fetchone()[0]
    except sqlite3.Error:  # empty, or the schema is being created
        return 0


def kill_when(process: subprocess.Popen, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    reap(process)


def assert_consistent(project: Project) -> None:
    assert project.query("PRAGMA integrity_check") == [("ok",)]
    assert project.query("PRAGMA foreign_key_check") == []
    assert (
        project.query(
            "SELECT source_id, key, COUNT(*) FROM entries GROUP BY source_id, key HAVING COUNT(*) > 1"
        )
        == []
    )
    assert (
        project.query(
            "SELECT source_id, norm_link, COUNT(*) FROM entries GROUP BY source_id, norm_link "
            "HAVING COUNT(*) > 1"
        )
        == []
    )
    (entries,) = project.query("SELECT COUNT(*) FROM entries")[0]
    (indexed,) = project.query("SELECT COUNT(*) FROM entries_fts_docsize")[0]
    assert indexed == entries
    # the search index holds exactly the words of every item's texts as derived (with 1,
    # FTS5 compares it with the texts its view gives): removing an item removes its words
    project.query("INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', 1)")
    assert project.query("PRAGMA user_version")[0][0] >= 1


def assert_everything_once(project: Project, urls: list[str]) -> None:
    rows = project.query("SELECT s.url, e.guid FROM entries e JOIN sources s ON s.id = e.source_id")
    expected = sorted((url, f"urn:f{i}:{j}") for i, url in enumerate(urls) for j in range(PER_FEED))
    assert sorted(rows) == expected


def gated(body: bytes, gate: threading.Event) -> Route:
    """A feed that answers only once the test opens ``gate``: a source still in flight."""

    def answer(handler) -> None:
        gate.wait(timeout=60)
        with contextlib.suppress(OSError):  # the client may have been killed meanwhile
            handler.send_response(200)
            handler.send_header("Content-Type", "application/rss+xml")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

    return Route(handler=answer)


SLOW = range(0, FEEDS, 5)  # six sources that answer only when the gate opens


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()  # never leave a server thread waiting


@pytest.fixture
def many_feeds(tmp_path, server, gate):
    # per_host: every route shares 127.0.0.1, and the default of 2 would serialise the run.
    project = Project(tmp_path, server, extra="concurrency = 32\nper_host = 32\n")
    paths = []
    for i in range(FEEDS):
        body = rss(items(f"f{i}", PER_FEED))
        server.route(f"/f{i}.xml", gated(body, gate) if i in SLOW else Route(body=body))
        paths.append(f"/f{i}.xml")
    return project, project.subscribe(*paths)


def test_sigkill_mid_run_then_rerun_completes_without_loss_or_duplicates(many_feeds, gate):
    project, urls = many_feeds
    # 1. killed right after the first few sources committed (the gated ones in flight)
    kill_when(spawn(project), lambda: committed(project) >= 3)
    first = committed(project)
    assert 3 <= first <= FEEDS - len(SLOW)
    assert_consistent(project)
    # 2. the re-run (only what is still due) is killed once every answering source committed
    kill_when(spawn(project), lambda: committed(project) == FEEDS - len(SLOW))
    assert committed(project) == FEEDS - len(SLOW)
    assert_consistent(project)
    # 3. killed as soon as it starts (opening the database, starting parsers)
    process = spawn(project)
    time.sleep(0.3)
    kill_when(process, lambda: True)
    assert_consistent(project)
    # 4. a plain re-run completes the work (and the killed runs left no lock behind)
    gate.set()
    completed = subprocess.run(
        [str(COMMUNIQUE), "--config", str(project.config), "aggregate", "--json", "--wait", "10"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert (summary["sources"], summary["ok"], summary["failed"]) == (len(SLOW), len(SLOW), 0)
    assert committed(project) == FEEDS
    assert_consistent(project)
    assert_everything_once(project, urls)
    # 5. and a forced run afterwards finds nothing to add
    again = project.aggregate("--all")
    assert (again["items_new"], again["items_updated"], again["failed"]) == (0, 0, 0)
    assert_everything_once(project, urls)


def test_sigkill_during_a_large_commit(tmp_path, server):
    """Killed while a big source's transaction spills into the WAL: all of it or none."""
    project = Project(tmp_path, server)
    # words of their own in each item: the store keeps a text compressed, once
    big = [
        {**item, "description": " ".join(f"minister{i}met{k}" for k in range(150))}
        for i, item in enumerate(items("big", 1000))
    ]
    server.route("/big.xml", Route(body=rss(big)))
    server.route("/small.xml", Route(body=rss(items("small", 3))))
    project.subscribe("/big.xml", "/small.xml")
    wal = project.root / "c.db-wal"
    kill_when(spawn(project), lambda: wal.exists() and wal.stat().st_size > 1_500_000)
    assert_consistent(project)
    counts = dict(
        project.query(
            "SELECT s.url, COUNT(e.id) FROM sources s LEFT JOIN entries e ON e.source_id = s.id "
            "GROUP BY s.url"
        )
    )
    assert counts.get(server.url("/big.xml"), 0) in (0, 1000)
    project.aggregate()
    assert_consistent(project)
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 1003


# --- concurrent runs ----------------------------------------------------------------------------


def holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux /proc)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if Path(os.readlink(fd)) == path:
                return True
    return False


def wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_a_second_concurrent_run_waits_or_exits_2(tmp_path, server, gate):
    project = Project(tmp_path, server)
    server.route("/slow.xml", gated(rss(items("slow", 5)), gate))
    server.route("/fast.xml", Route(body=rss(items("fast", 5))))
    project.subscribe("/slow.xml", "/fast.xml")
    lock = (project.root / "c.db.lock").resolve()
    first = spawn(project, "--all", "--json")
    waiting = None
    try:
        # The first run is fetching: it holds the lock until the gate opens.
        wait_for(lambda: server.requests_for("/slow.xml") or first.poll() is not None, "run 1")
        assert first.poll() is None
        refused = subprocess.run(
            [str(COMMUNIQUE), "--config", str(project.config), "aggregate", "--all", "--wait", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode == 2
        assert "another `communique aggregate` is using" in refused.stderr
        assert "try again" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert refused.stdout == ""

        waiting = spawn(project, "--all", "--json")  # default --wait: 600 s
        wait_for(lambda: holds_open(waiting.pid, lock), "run 2 to reach the lock")
        time.sleep(0.3)
        assert waiting.poll() is None
        assert len(server.requests_for("/fast.xml")) == 1  # run 2 has fetched nothing yet
        gate.set()
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0, err
        assert json.loads(out)["items_new"] == 10
        out, err = waiting.communicate(timeout=30)
        assert waiting.returncode == 0, err
        second = json.loads(out)
        # it ran after the first committed: the ETag and the body hash are the first run's
        assert (second["not_modified"], second["unchanged"]) == (1, 1)
        assert (second["items_new"], second["items_updated"]) == (0, 0)
    finally:
        gate.set()
        for process in (first, waiting):
            if process is not None:
                reap(process)
    assert [len(server.requests_for(p)) for p in ("/slow.xml", "/fast.xml")] == [2, 2]
    assert "if-none-match" in server.requests_for("/fast.xml")[1].headers
    assert_consistent(project)
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 10


def test_wait_gives_up_with_exit_2_after_the_given_time(project, server):
    server.route("/feed.xml", Route(body=rss(items("w", 1))))
    project.subscribe("/feed.xml")
    lock = os.open(project.root / "c.db.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        result = project.run("aggregate", "--wait", "0.5")
        assert result.exit_code == 2
        assert 0.4 <= time.monotonic() - started < 10
        assert "another `communique aggregate`" in result.stderr
    finally:
        os.close(lock)
    assert project.run("aggregate", "--wait", "0").exit_code == 0


# --- OPML source lists --------------------------------------------------------------------------


def test_first_use_creates_the_source_list_from_the_shipped_default(tmp_path):
    (tmp_path / "communique.toml").write_text(CONFIG, encoding="utf-8")
    config = ["--config", str(tmp_path / "communique.toml")]
    result = CliRunner().invoke(main, [*config, "sources", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    shipped = default_sources()
    assert len(shipped) == 10
    assert [row["url"] for row in listed] == [s.url for s in shipped]
    assert not (tmp_path / "sources.opml").exists()  # listing writes nothing (issue 18)
    assert not (tmp_path / "c.db").exists()  # listing never creates a database
    url = "https://feeds.example/eu.xml"
    added = CliRunner().invoke(main, [*config, "sources", "add", url, "--no-check"])
    assert added.exit_code == 0, added.output  # the first change writes the shipped list too
    written = parse_opml((tmp_path / "sources.opml").read_bytes(), "sources.opml")
    assert written[:-1] == shipped and written[-1].url == url
    for row in listed:
        assert set(row) == {
            "title", "url", "category", "status", "last_success", "next_due", "entries",
            "last_error", "warning", "full_text", "entries_with_page_text", "last_page_problem",
            "history", "network",
        }  # fmt: skip
        assert (row["status"], row["next_due"], row["entries"]) == ("never fetched", "now", 0)
        assert (row["last_success"], row["last_error"], row["history"]) == ("-", None, None)
        assert row["warning"] is None


def test_export_is_valid_opml_2_that_round_trips_the_shipped_list(tmp_path):
    (tmp_path / "communique.toml").write_text(CONFIG, encoding="utf-8")
    runner = CliRunner()
    config = ["--config", str(tmp_path / "communique.toml")]
    exported = runner.invoke(main, [*config, "sources", "export"])
    assert exported.exit_code == 0, exported.output
    data = exported.stdout_bytes
    root = ET.fromstring(data)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("head/title") is not None and root.find("head/title").text
    body = root.find("body")
    assert body is not None
    feeds = body.findall(".//outline[@xmlUrl]")
    assert len(feeds) == 10
    for outline in feeds:
        assert outline.get("type") == "rss"
        assert outline.get("text")  # OPML 2.0: every outline has text
        assert outline.get("xmlUrl").startswith("https://")
    for group in body.findall("outline"):
        assert group.get("text")
    assert parse_opml(data, "exported") == default_sources()
    shipped_file = (
        Path(__file__).resolve().parents[1] / "sources" / "follow" / "default-sources.opml"
    )
    assert parse_opml(data, "exported") == parse_opml(shipped_file.read_bytes(), "shipped")

    (tmp_path / "exported.opml").write_bytes(data)
    again = runner.invoke(main, [*config, "sources", "import", str(tmp_path / "exported.opml")])
    assert again.exit_code == 0, again.output
    assert "imported 0 new source(s) of 10" in again.stdout
    assert runner.invoke(main, [*config, "sources", "export"]).stdout_bytes == data


def test_import_merges_without_duplicates(project, server):
    project.subscribe("/mine.xml")
    other = project.root / "other.opml"
    other.write_text(
        """<?xml version="1.0"?><opml version="1.0"><head><title>reader</title></head><body>
        <outline text="Think tanks">
          <outline type="rss" text="ECFR" xmlUrl="https://ecfr.eu/feed/"/>
          <outline text="Nested"><outline text="EUISS" xmlUrl="https://www.iss.europa.eu/rss.xml"/></outline>
        </outline>
        <outline type="rss" text="mine again" xmlUrl="{mine}"/>
        <outline type="rss" text="ECFR twice" xmlUrl="https://ecfr.eu/feed/"/>
        <outline type="link" text="a web link, not a feed" url="https://example.org/"/>
        </body></opml>""".replace("{mine}", server.url("/mine.xml")),
        encoding="utf-8",
    )
    first = project.run("sources", "import", str(other))
    assert first.exit_code == 0, first.output
    assert "imported 2 new source(s) of 3" in first.stdout
    second = project.run("sources", "import", str(other))
    assert "imported 0 new source(s) of 3" in second.stdout
    urls = [s.url for s in parse_opml(project.opml.read_bytes(), "sources.opml")]
    assert urls == [
        server.url("/mine.xml"),
        "https://ecfr.eu/feed/",
        "https://www.iss.europa.eu/rss.xml",
    ]
    listed = json.loads(project.run("sources", "list", "--json").stdout)
    assert [row["url"] for row in listed] == urls
    assert listed[0]["title"] == "feed 0"  # the existing entry wins


def test_import_of_a_broken_opml_file_fails_cleanly(project):
    project.subscribe("/mine.xml")
    before = project.opml.read_bytes()
    bad = project.root / "bad.opml"
    bad.write_text("<opml><body><outline xmlUrl='x'", encoding="utf-8")
    result = project.run("sources", "import", str(bad))
    assert result.exit_code == 2
    assert "bad.opml" in result.stderr and "Traceback" not in result.output
    relative = project.root / "relative.opml"
    relative.write_text('<opml version="2.0"><body><outline xmlUrl="/feed.xml"/></body></opml>')
    result = project.run("sources", "import", str(relative))
    assert result.exit_code == 2
    assert "not an absolute http(s) URL" in result.stderr
    assert project.opml.read_bytes() == before


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>EU Watch</title><id>urn:euwatch</id>
<updated>2025-06-01T00:00:00Z</updated><entry><title>One</title><id>urn:euwatch:1</id>
<updated>2025-06-01T00:00:00Z</updated></entry></feed>"""


def test_sources_add_finds_the_feed_behind_a_web_page(project, server):
    project.subscribe("/mine.xml")
    server.route(
        "/blog/",
        Route(
            body=b"""<!doctype html><html><head><title>EU Watch</title>
            <link rel="alternate" type="application/rss+xml" href="/rss.xml">
            <link rel="alternate" type="application/atom+xml" href="/feed.xml">
            </head><body>Blog</body></html>""",
            content_type="text/html; charset=utf-8",
        ),
    )
    server.route("/feed.xml", Route(body=ATOM, content_type="application/atom+xml"))
    result = project.run("sources", "add", server.url("/blog/"), "--category", "news,think-tank")
    assert result.exit_code == 0, result.output
    feed_url = server.url("/feed.xml")
    assert f"chose its application/atom+xml feed {feed_url}" in result.stdout
    assert server.url("/rss.xml") in result.stdout  # the other offer is named
    assert f"added {feed_url} (EU Watch)" in result.stdout
    added = parse_opml(project.opml.read_bytes(), "sources.opml")[-1]
    assert (added.url, added.title, added.category) == (feed_url, "EU Watch", "news,think-tank")
    assert server.url("/blog/") not in project.opml.read_text()

    again = project.run("sources", "add", server.url("/feed.xml"))
    assert again.exit_code == 0
    assert f"already subscribed: {feed_url}" in again.stdout
    assert len(parse_opml(project.opml.read_bytes(), "sources.opml")) == 2


def test_sources_add_a_feed_url_directly_with_a_title(project, server):
    project.subscribe("/mine.xml")
    server.route("/feed.xml", Route(body=ATOM, content_type="application/atom+xml"))
    result = project.run("sources", "add", server.url("/feed.xml"), "--title", "Watch")
    assert result.exit_code == 0, result.output
    assert f"{server.url('/feed.xml')} is a feed" in result.stdout
    assert parse_opml(project.opml.read_bytes(), "x")[-1].title == "Watch"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route(body=b"hello, not a feed", content_type="text/plain"), ": not a feed ("),
        (
            Route(body=b"<html><head><title>x</title></head></html>", content_type="text/html"),
            "links to no feed",
        ),
        (Route(status=404), "cannot fetch"),
    ],
)
def test_sources_add_of_a_non_feed_fails_with_exit_2(project, server, route, message):
    project.subscribe("/mine.xml")
    before = project.opml.read_bytes()
    server.route("/page", route)
    result = project.run("sources", "add", server.url("/page"))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "--no-check" in result.stderr
    assert "Traceback" not in result.output
    assert project.opml.read_bytes() == before


def test_sources_add_no_check_and_bad_urls(project, server):
    project.subscribe("/mine.xml")
    result = project.run("sources", "add", "--no-check", server.url("/later.xml"))
    assert result.exit_code == 0, result.output
    assert f"added {server.url('/later.xml')}" in result.stdout
    assert server.requests_for("/later.xml") == []
    assert server.url("/later.xml") in [s.url for s in parse_opml(project.opml.read_bytes(), "x")]
    for bad in ("feed.xml", "ftp://files.example/feed.xml", "javascript:alert(1)"):
        refused = project.run("sources", "add", "--no-check", bad)
        assert refused.exit_code == 2, bad
        assert "not an absolute http(s) URL" in refused.stderr


def test_sources_remove(project, server):
    urls = project.subscribe("/a.xml", "/b.xml")
    server.route("/a.xml", Route(body=rss(items("a", 2))))
    server.route("/b.xml", Route(body=rss(items("b", 2))))
    project.aggregate()
    result = project.run("sources", "remove", urls[0])
    assert result.exit_code == 0, result.output
    assert f"removed {urls[0]}" in result.stdout
    assert [s.url for s in parse_opml(project.opml.read_bytes(), "x")] == [urls[1]]
    assert project.query("SELECT COUNT(*) FROM entries")[0][0] == 4  # items are kept
    assert project.aggregate("--all")["sources"] == 1
    unknown = project.run("sources", "remove", server.url("/never.xml"))
    assert unknown.exit_code == 2
    assert "not subscribed" in unknown.stderr
    assert [s.url for s in parse_opml(project.opml.read_bytes(), "x")] == [urls[1]]


def test_sources_list_json_after_runs(project, server):
    ok_url, missing_url = project.subscribe("/ok.xml", "/missing.xml")
    server.route("/ok.xml", Route(body=rss(items("ok", 3))))
    project.aggregate(code=1)
    listed = {
        row["url"]: row for row in json.loads(project.run("sources", "list", "--json").stdout)
    }
    ok, missing = listed[ok_url], listed[missing_url]
    assert (ok["status"], ok["entries"], ok["last_error"]) == ("200", 3, None)
    assert ok["last_success"] != "-"
    assert datetime.strptime(ok["next_due"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC) > (
        datetime.now(UTC) + timedelta(minutes=50)
    )
    assert (missing["status"], missing["entries"], missing["last_success"]) == ("404", 0, "-")
    assert missing["last_error"] == "HTTP 404"
    table = project.run("sources", "list")
    assert table.exit_code == 0
    assert "status: 200" in table.stdout and "last error: HTTP 404" in table.stdout


def test_re_adding_a_gone_source_polls_it_again(project, server):
    (url,) = project.subscribe("/feed.xml")
    route = server.route("/feed.xml", Route(status=410))
    assert project.aggregate(code=1)["gone"] == 1
    assert project.aggregate("--all")["sources"] == 0  # gone: not even --all polls it
    assert project.run("sources", "remove", url).exit_code == 0
    route.status = 200
    route.body = rss(items("back", 2))
    assert project.run("sources", "add", "--no-check", url).exit_code == 0
    summary = project.aggregate()
    assert (summary["ok"], summary["items_new"]) == (1, 2)


# --- search, pruning, summary, quiet ------------------------------------------------------------


def test_search_finds_stored_items(project, server):
    server.route(
        "/feed.xml",
        Route(
            body=rss(
                [
                    {
                        "title": "Sanctions against Russia extended",
                        "guid": "urn:1",
                        "link": "https://news.example/1",
                        "description": "The Council extended sectoral measures.",
                    },
                    {
                        "title": "EU–Japan partnership",
                        "guid": "urn:2",
                        "link": "https://news.example/2",
                        "description": "A security and defence partnership with Japan.",
                    },
                    {
                        "title": "Développement durable",
                        "guid": "urn:3",
                        "link": "https://news.example/3",
                        "description": "Coopération énergétique.",
                    },
                ]
            )
        ),
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    result = project.run("search", "sanctions", "Russia")
    assert result.exit_code == 0, result.output
    assert "Sanctions against Russia extended" in result.stdout
    assert "https://news.example/1" in result.stdout
    assert "Japan" not in result.stdout
    hits = json.loads(project.run("search", "--json", "partnership").stdout)
    assert [h["title"] for h in hits] == ["EU–Japan partnership"]
    assert set(hits[0]) == {"id", "source", "title", "link", "published_at", "snippet"}
    assert "[partnership]" in hits[0]["snippet"]
    assert hits[0]["source"] == "feed 0"  # the title in the source list
    assert json.loads(project.run("search", "--json", "cooperation").stdout)[0]["title"] == (
        "Développement durable"
    )  # diacritics folded
    assert json.loads(project.run("search", "--json", '"sectoral measures"').stdout)
    none = project.run("search", "nothingmatches")
    assert none.exit_code == 0
    assert "no matches" in none.stderr


@pytest.mark.parametrize("query", ['"unterminated', "AND", "sanctions AND", "title:x:y", "(a"])
def test_a_bad_search_query_exits_2_with_a_message(project, server, query):
    server.route("/feed.xml", Route(body=rss(items("q", 1))))
    project.subscribe("/feed.xml")
    project.aggregate()
    result = project.run("search", "--fts", query)  # without --fts a query is words (issue 18)
    assert result.exit_code == 2, result.output
    assert "FTS5 cannot read" in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_keep_days_prunes_old_items(project, server):
    server.route(
        "/feed.xml",
        Route(
            body=rss(
                [
                    {
                        "title": "Old",
                        "guid": "urn:old",
                        "pubDate": "Mon, 06 Jan 2020 10:00:00 +0000",
                    },
                    {
                        "title": "Old but new here",
                        "guid": "urn:old-new",
                        "pubDate": "Mon, 06 Jan 2020 10:00:00 +0000",
                    },
                    {"title": "Recent", "guid": "urn:recent"},
                ]
            )
        ),
    )
    project.subscribe("/feed.xml")
    project.aggregate()
    long_ago = (datetime.now(UTC) - timedelta(days=100)).replace(microsecond=0).isoformat()
    # as if "Old" had been first seen long ago
    project.query("UPDATE entries SET first_seen_at = ? WHERE guid = 'urn:old'", long_ago)
    summary = project.aggregate("--keep-days", "30")
    assert summary["items_pruned"] == 1
    titles = sorted(r[0] for r in project.query("SELECT title FROM entries"))
    assert titles == ["Old but new here", "Recent"]
    assert project.query("SELECT COUNT(*) FROM entries_fts")[0][0] == 2
    assert project.fts("Old") == ["Old but new here"]
    refused = project.run("aggregate", "--keep-days", "0")
    assert refused.exit_code == 2


def test_a_pruned_item_still_in_its_feed_does_not_come_back_as_new(project, server):
    old = {"title": "Old", "guid": "urn:old", "pubDate": "Mon, 06 Jan 2020 10:00:00 +0000"}
    route = server.route("/feed.xml", Route(body=rss([old])))
    project.subscribe("/feed.xml")
    project.aggregate()
    long_ago = (datetime.now(UTC) - timedelta(days=100)).replace(microsecond=0).isoformat()
    project.query("UPDATE entries SET first_seen_at = ?", long_ago)
    assert project.aggregate("--keep-days", "30")["items_pruned"] == 1
    route.body = rss([{"title": "Fresh", "guid": "urn:fresh"}, old])
    assert project.aggregate("--all", "--keep-days", "30")["items_new"] == 1


def test_json_summary_fields(project, server):
    server.route("/a.xml", Route(body=rss(items("a", 3))))
    server.route(
        "/b.xml", Route(body=b"<html><body>not a feed</body></html>", content_type="text/html")
    )
    project.subscribe("/a.xml", "/b.xml", "/c.xml")
    summary = project.aggregate(code=1)
    assert summary == {
        "sources": 3, "ok": 1, "not_modified": 0, "unchanged": 0, "failed": 2, "gone": 0,
        "items_new": 3, "items_updated": 0, "moved": [], "items_pruned": 0,
        "failures": summary["failures"],
        "pages": {"read": 0, "kept_feed_text": 0, "reused": 0, "failed": 0, "disallowed": 0,
                  "waiting": 0},
        "archives": 0,
    }  # fmt: skip
    failures = {f["url"]: f["error"] for f in summary["failures"]}
    assert set(failures) == {server.url("/b.xml"), server.url("/c.xml")}
    assert failures[server.url("/c.xml")] == "HTTP 404"
    assert "not a feed" in failures[server.url("/b.xml")]


def test_human_summary_and_quiet(project, server):
    route = server.route("/a.xml", Route(body=rss(items("a", 2))))
    project.subscribe("/a.xml")
    result = project.run("aggregate")
    assert result.exit_code == 0
    assert "1 source(s): 1 ok" in result.stdout and "items: 2 new, 0 updated" in result.stdout
    quiet = project.run("aggregate", "--all", "-q")
    assert quiet.exit_code == 0
    assert (quiet.stdout, quiet.stderr) == ("", "")
    route.status = 500
    failed = project.run("aggregate", "--all", "-q")
    assert failed.exit_code == 1
    assert failed.stdout == ""
    assert f"failed: {server.url('/a.xml')}: HTTP 500" in failed.stderr


def test_a_database_that_is_not_communique_s_is_refused(project, server):
    project.subscribe("/a.xml")
    project.db_path.write_bytes(b"this is not sqlite" * 100)
    result = project.run("aggregate")
    assert result.exit_code == 2
    assert "not a usable communique database" in result.stderr
    assert project.db_path.read_bytes() == b"this is not sqlite" * 100


def test_processes_opening_one_new_database_at_once_all_get_it(tmp_path):
    """Two commands from cron may open a database that does not exist yet at the same moment:
    each must find it usable (the schema made once), none "locked" or half-made."""
    script = (
        "import sys, time; from pathlib import Path; from sources.store.database import Store\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "with Store(Path(sys.argv[1])) as store: print(len(store.source_rows()))\n"
    )
    for attempt in range(5):
        database = tmp_path / f"new-{attempt}.db"
        start = f"{time.time() + 0.5:.3f}"
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(database), start],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            for _ in range(4)
        ]  # fmt: skip
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0 and out.strip() == "0", err
