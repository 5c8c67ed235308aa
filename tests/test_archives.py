"""RFC 5005 archived feeds (issue 13): a new subscriber can reach every article.

45 articles with 20 per feed: a follower written here with feedparser starts at the current
feed and walks ``prev-archive`` (Atom, RSS) or ``next_url`` (JSON Feed) to the end, and sees
all 45, each once; a new article changes the current feed and no archive; an archive page is
added when a page fills.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from feedserver import Route

from cli import main

BASE = "https://notes.example.org/"  # the test site's base_url (conftest.CONFIG)
SHARED = Path(__file__).resolve().parents[2] / "shared"


def write_articles(site, upto: int, start: int = 1) -> None:
    """Articles a01 … a{upto}, a day apart, the highest number the newest."""
    for number in range(start, upto + 1):
        day = date(2025, 1, 1) + timedelta(days=number)
        site.article(
            f"a{number:02d}.md",
            f"""
            ---
            title: Article {number}
            date: {day.isoformat()} 09:00
            tags: [policy]
            ---

            Body of article {number}.
            """,
        )


def follow(public: Path, start: str) -> tuple[dict[str, int], int]:
    """What an RFC 5005 reader sees: every entry (by the article it links to) reached from
    ``start`` through ``prev-archive`` links, and how many documents it read."""
    seen: dict[str, int] = {}
    path, documents = public / start, 0
    while True:
        parsed = feedparser.parse(path.read_bytes())
        documents += 1
        for entry in parsed.entries:
            slug = entry.link.rstrip("/").rsplit("/", 1)[-1]
            seen[slug] = seen.get(slug, 0) + 1
        older = [link.href for link in parsed.feed.get("links", []) if link.rel == "prev-archive"]
        if not older:
            return seen, documents
        assert older[0].startswith(BASE)
        path = public / older[0][len(BASE) :]


@pytest.fixture
def history(site):
    write_articles(site, 45)
    site.publish()
    return site


def test_a_follower_walks_the_archives_to_every_article_once(history):
    for start in ("atom.xml", "rss.xml"):
        seen, documents = follow(history.public, start)
        assert sorted(seen) == sorted(f"a{n:02d}" for n in range(1, 46)), start
        assert documents == 3  # the current feed and two full pages of 20
    current = (history.public / "atom.xml").read_bytes()
    assert b"fh:complete" not in current and b"fh:archive" not in current
    assert b'rel="prev-archive"' in current
    for page in ("archive/atom-1.xml", "archive/atom-2.xml", "archive/rss-2.xml"):
        data = (history.public / page).read_bytes()
        assert b"<fh:archive/>" in data and b'rel="current"' in data, page
    parsed = feedparser.parse((history.public / "archive" / "atom-2.xml").read_bytes())
    assert len(parsed.entries) == 20
    assert {link.rel for link in parsed.feed.links} >= {"self", "current", "prev-archive"}


@pytest.mark.skipif(
    not os.environ.get("FV_MIRROR") or not (SHARED / "tools" / "feedvalidate").exists(),
    reason="the W3C feed validator is not available (set FV_MIRROR)",
)
def test_current_and_archive_documents_pass_the_w3c_validator_without_warnings(history):
    for name in (
        "atom.xml", "rss.xml", "archive/atom-1.xml", "archive/atom-2.xml", "archive/rss-1.xml",
        "archive/rss-2.xml", "tags/policy/archive/atom-2.xml",
    ):  # fmt: skip
        result = subprocess.run(
            [SHARED / "tools" / "feedvalidate", history.public / name, BASE + name],
            env={**os.environ, "STRICT": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "errors=0 warnings=0" in result.stdout, name


def test_json_feed_pages_reach_every_article(history):
    seen: dict[str, int] = {}
    path = history.public / "feed.json"
    while True:
        document = json.loads(path.read_text(encoding="utf-8"))
        for item in document["items"]:
            seen[item["url"]] = seen.get(item["url"], 0) + 1
        if "next_url" not in document:
            break
        assert document["next_url"].startswith(BASE)
        path = history.public / document["next_url"][len(BASE) :]
    assert len(seen) == 45


def test_a_new_article_changes_the_current_feed_and_no_archive(history):
    before = history.snapshot()
    write_articles(history, 46, start=46)
    history.publish()
    after = history.snapshot()
    archives = {name for name in before if name.startswith("archive/")}
    assert archives == {name for name in after if name.startswith("archive/")}
    assert all(before[name] == after[name] for name in archives)
    assert before["atom.xml"] != after["atom.xml"]


def test_a_full_page_adds_one_archive_and_only_links_the_one_before(site):
    write_articles(site, 59)
    site.publish()
    before = site.snapshot()
    write_articles(site, 60, start=60)
    site.publish()
    after = site.snapshot()
    added = {n for n in after if n.startswith("archive/")} - {
        n for n in before if n.startswith("archive/")
    }
    assert added == {"archive/atom-3.xml", "archive/rss-3.xml", "archive/feed-3.json"}
    assert before["archive/atom-1.xml"] == after["archive/atom-1.xml"]
    old, new = before["archive/atom-2.xml"], after["archive/atom-2.xml"]
    assert old != new and b'rel="next-archive"' in new
    assert [e.id for e in feedparser.parse(old).entries] == [
        e.id for e in feedparser.parse(new).entries
    ]
    seen, documents = follow(site.public, "atom.xml")
    assert len(seen) == 60 and documents == 4


def test_a_site_with_fewer_articles_than_a_feed_has_no_archives(site):
    write_articles(site, 5)
    site.publish()
    assert not (site.public / "archive").exists()
    assert b"prev-archive" not in (site.public / "atom.xml").read_bytes()


# --- the aggregator follows archives --------------------------------------------------------


def test_sources_add_reads_a_served_sites_whole_history_once(history, tmp_path, server):
    """The published site, served on loopback: subscribing reads all 45 articles (the current
    feed and its two archive pages), and the next poll reads the current feed alone."""
    base = server.url("/")
    history.config.write_text(
        history.config.read_text(encoding="utf-8").replace(BASE, base), encoding="utf-8"
    )
    history.publish()
    for path in sorted(history.public.rglob("*")):
        if path.is_file():
            relative = path.relative_to(history.public).as_posix()
            server.route(
                "/" + relative, Route(body=path.read_bytes(), content_type="application/xml")
            )
    reader = tmp_path / "reader"
    reader.mkdir()
    (reader / "communique.toml").write_text(
        '[site]\nbase_url = "https://reader.example.org/"\n'
        '[aggregate]\nsources = "sources.opml"\ndatabase = "c.db"\n',
        encoding="utf-8",
    )
    (reader / "sources.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', encoding="utf-8"
    )

    def cli(*args: str) -> str:
        result = CliRunner().invoke(
            main, ["--config", str(reader / "communique.toml"), *args], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.output

    added = cli("sources", "add", server.url("/atom.xml"))
    assert "stored 45 items, 2 archive documents of its history" in added
    with contextlib.closing(sqlite3.connect(reader / "c.db")) as db:
        links = [row[0] for row in db.execute("SELECT link FROM entries")]
    assert len(links) == len(set(links)) == 45
    archive_requests = [s for s in server.seen if "/archive/" in s.path]
    assert len(archive_requests) == 2
    summary = json.loads(cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 0 and summary["items_new"] == 0
    assert len([s for s in server.seen if "/archive/" in s.path]) == 2  # not read again

    # 15 more articles fill a third page: the next poll reads that one archive document only
    write_articles(history, 60, start=46)
    history.publish()
    for path in sorted(history.public.rglob("*")):
        if path.is_file():
            relative = path.relative_to(history.public).as_posix()
            server.route(
                "/" + relative, Route(body=path.read_bytes(), content_type="application/xml")
            )
    before = len([s for s in server.seen if "/archive/" in s.path])
    summary = json.loads(cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 1 and summary["items_new"] == 15
    assert len([s for s in server.seen if "/archive/" in s.path]) == before + 1


# --- a history walk that stops is taken up again (issue 18) ----------------------------------

COMMUNIQUE = Path(sys.executable).parent / "communique"


def atom(numbers: range, prev: str | None) -> bytes:
    """An Atom document holding entries ``numbers`` and, if given, its ``prev-archive``."""
    entries = "".join(
        f"<entry><id>urn:e{n}</id><title>Entry {n}</title>"
        f'<link href="https://history.example/e{n}"/>'
        f"<updated>2025-01-{n:02d}T09:00:00Z</updated><summary>Item {n}.</summary></entry>"
        for n in numbers
    )
    older = f'<link rel="prev-archive" href="{prev}"/>' if prev else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:history</id><title>History</title><updated>2025-02-01T00:00:00Z</updated>"
        f'<link href="https://history.example/"/>{older}{entries}</feed>'
    ).encode()


def serve_history(server, archives: int, per: int = 3) -> dict[str, Route]:
    """The current feed ``/feed.xml`` and archive documents ``/a{archives}.xml`` (newest) …
    ``/a1.xml``, ``per`` entries each, every document linking the one before it."""
    routes = {}
    for number in range(1, archives + 2):
        first = (number - 1) * per + 1
        path = "/feed.xml" if number == archives + 1 else f"/a{number}.xml"
        prev = server.url(f"/a{number - 1}.xml") if number > 1 else None
        body = atom(range(first, first + per), prev)
        routes[path] = server.route(path, Route(body=body, content_type="application/atom+xml"))
    return routes


def held(body: bytes, release: threading.Event, *, every_time: bool = False) -> Route:
    """An archive document that answers only once the test sets ``release`` (at most 30 s)
    the first time it is asked (``every_time``: every time), at once after that."""
    asked: list[int] = []

    def answer(handler) -> None:
        asked.append(1)
        if every_time or len(asked) == 1:
            release.wait(timeout=30)
        with contextlib.suppress(OSError):  # the client gave up or was killed meanwhile
            handler.send_response(200)
            handler.send_header("Content-Type", "application/atom+xml")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

    return Route(handler=answer)


class Reader:
    """A reader's project in ``root``: communique.toml (with ``extra`` settings under
    ``[aggregate]``), an empty source list, and the database c.db."""

    def __init__(self, root: Path, extra: str = "") -> None:
        root.mkdir()
        self.root = root
        self.config = root / "communique.toml"
        self.config.write_text(
            '[site]\nbase_url = "https://reader.example.org/"\n'
            f'[aggregate]\nsources = "sources.opml"\ndatabase = "c.db"\n{extra}',
            encoding="utf-8",
        )
        (root / "sources.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', encoding="utf-8"
        )

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.output

    def history(self) -> dict:
        (source,) = json.loads(self.cli("sources", "list", "--json"))
        return source["history"]

    def guids(self) -> list[str]:
        with contextlib.closing(sqlite3.connect(self.root / "c.db")) as db:
            return sorted(row[0] for row in db.execute("SELECT guid FROM entries"))


def everything(upto: int) -> list[str]:
    return sorted(f"urn:e{n}" for n in range(1, upto + 1))


BROKEN = {  # how an archive document breaks, and what the history then says
    "HTTP 500": lambda route: setattr(route, "status", 500),
    "not a feed": lambda route: setattr(route, "body", b"<html><p>Down for maintenance</p>"),
    "response larger than 16384 bytes": lambda route: setattr(
        route, "body", route.body.replace(b"</feed>", b"<!--" + b"x" * 20_000 + b"--></feed>")
    ),
}


@pytest.mark.parametrize("problem", list(BROKEN))
def test_a_history_broken_once_is_complete_after_the_next_run(tmp_path, server, problem):
    """The second of three archive documents fails once (a 500, an HTML page, too large):
    `sources add` stores what it could, says the history is incomplete and exits 0; the next
    `aggregate`, with the feed itself not due, reads on from that document to the oldest,
    each item once."""
    routes = serve_history(server, 3)
    good = Route(**vars(routes["/a2.xml"]))
    BROKEN[problem](routes["/a2.xml"])
    # backoff 0.1 s: the failed document may be asked for again by the next run
    reader = Reader(tmp_path / "reader", 'backoff_base = "0.1s"\nmax_bytes = 16384\n')
    added = reader.cli("sources", "add", server.url("/feed.xml"))
    assert "stored 6 items, 1 archive document of its history" in added
    assert f"history incomplete: archive {server.url('/a2.xml')} failed ({problem}" in added
    assert "; a later run goes on from there" in added
    history = reader.history()
    assert history["next"] == server.url("/a2.xml") and history["problem"].startswith(problem)
    assert history["complete"] is False and history["archives_read"] == 1
    assert "history: incomplete (1 archive document read): archive" in reader.cli("sources", "list")

    server.route("/a2.xml", good)
    time.sleep(0.2)  # past the backoff (0.1 s at most)
    summary = json.loads(reader.cli("aggregate", "--json"))
    assert summary["sources"] == 0  # the feed was not due: its history went on all the same
    assert summary["archives"] == 2 and summary["items_new"] == 6
    assert reader.guids() == everything(12)
    assert reader.history() == {
        "complete": True, "archives_read": 3, "next": None, "problem": None, "retry_at": None,
    }  # fmt: skip
    assert "history: complete (3 archive documents read)" in reader.cli("sources", "list")
    asked = len([s for s in server.seen if s.path.startswith("/a")])
    summary = json.loads(reader.cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 0 and summary["items_new"] == 0
    assert len([s for s in server.seen if s.path.startswith("/a")]) == asked  # read once


def test_a_new_archive_while_the_history_is_incomplete_is_read_with_the_rest(tmp_path, server):
    """A walk stopped at a2 (a 500); then the site fills a new archive page, a4, which links
    a3, read already: the next run reads a4, and goes on from a2 to a1 all the same."""
    routes = serve_history(server, 3)
    routes["/a2.xml"].status = 500
    reader = Reader(tmp_path / "reader", 'backoff_base = "0.1s"\n')
    reader.cli("sources", "add", server.url("/feed.xml"))
    routes["/a2.xml"].status = 200
    server.route("/a4.xml", Route(body=routes["/feed.xml"].body))  # the old current page
    routes["/feed.xml"].body = atom(range(13, 16), server.url("/a4.xml"))
    time.sleep(0.2)  # past the backoff (0.1 s at most)
    summary = json.loads(reader.cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 3 and summary["items_new"] == 9
    assert reader.guids() == everything(15)
    assert reader.history()["complete"] is True and reader.history()["archives_read"] == 4


def test_a_failed_archive_document_waits_before_it_is_asked_again(tmp_path, server):
    """With the default backoff (5 minutes), the runs right after a failure leave the
    document alone, and say when it is tried again."""
    routes = serve_history(server, 2)
    routes["/a1.xml"].status = 503
    reader = Reader(tmp_path / "reader")
    reader.cli("sources", "add", server.url("/feed.xml"))
    reader.cli("aggregate", "--json")
    reader.cli("aggregate", "--all", "--json")
    assert len(server.requests_for("/a1.xml")) == 1
    history = reader.history()
    assert history["next"] == server.url("/a1.xml") and history["problem"] == "HTTP 503"
    retry = datetime.fromisoformat(history["retry_at"])
    assert timedelta(minutes=2) < retry - datetime.now(UTC) <= timedelta(minutes=5)


def test_a_walk_out_of_time_stops_and_the_next_run_goes_on(tmp_path, server):
    """A server slow on an archive document (held 30 s the first time) and history_time
    1 s: the walk stops after a second, `sources add` ends at once and says why, and the
    next run reads on from that document."""
    routes = serve_history(server, 3)
    release = threading.Event()
    server.route("/a2.xml", held(routes["/a2.xml"].body, release))
    reader = Reader(tmp_path / "reader", 'history_time = "1s"\n')
    try:
        started = time.monotonic()
        added = reader.cli("sources", "add", server.url("/feed.xml"))
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < 8, elapsed  # not the 30 s the document was held
    assert "stored 6 items, 1 archive document of its history" in added
    assert (
        "history incomplete: [aggregate] history_time (1 s) ran out before archive "
        f"{server.url('/a2.xml')}; the next run goes on from there"
    ) in added
    assert reader.history()["next"] == server.url("/a2.xml")

    summary = json.loads(reader.cli("aggregate", "--json"))
    assert summary["archives"] == 2 and summary["items_new"] == 6
    assert reader.guids() == everything(12)
    assert reader.history()["complete"] is True


def test_the_walks_first_document_has_the_whole_deadline(tmp_path, server):
    """A document slower than history_time (0.8 s, with history_time 0.3 s) is still read,
    one a run: a history of slow documents is read in the end, not cut short for ever."""
    routes = serve_history(server, 2)
    for path in ("/a1.xml", "/a2.xml"):
        routes[path].delay = 0.8
    reader = Reader(tmp_path / "reader", 'history_time = "0.3s"\n')
    reader.cli("sources", "add", server.url("/feed.xml"))
    assert reader.guids() == sorted(f"urn:e{n}" for n in range(4, 10))
    assert reader.history()["next"] == server.url("/a1.xml")
    reader.cli("aggregate")
    assert reader.guids() == everything(9)
    assert reader.history()["complete"] is True


def test_a_walk_killed_during_a_document_is_completed_by_the_next_run(tmp_path, server):
    """`sources add` killed with SIGKILL while an archive document is being fetched: what
    was committed stays, and the next `aggregate` reads the rest, each item once."""
    routes = serve_history(server, 3)
    release = threading.Event()
    server.route("/a2.xml", held(routes["/a2.xml"].body, release))
    reader = Reader(tmp_path / "reader")
    process = subprocess.Popen(
        [str(COMMUNIQUE), "--config", str(reader.config), "sources", "add",
         server.url("/feed.xml")],
        cwd=reader.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: its parser workers go with it
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not server.requests_for("/a2.xml"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the walk never reached /a2.xml"
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
    finally:
        release.set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
    assert reader.guids() == sorted(f"urn:e{n}" for n in range(7, 13))  # the feed and a3
    history = reader.history()
    assert history["complete"] is False and history["next"] == server.url("/a2.xml")

    summary = json.loads(reader.cli("aggregate", "--json"))
    assert summary["archives"] == 2 and summary["items_new"] == 6
    assert reader.guids() == everything(12)
    assert reader.history()["complete"] is True


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('history_time = "0s"', "[aggregate] history_time '0s' must be longer than zero"),
        ('history_time = "soon"', "[aggregate] history_time 'soon' is not a duration"),
    ],
)
def test_a_bad_history_time_is_one_line_naming_the_line(tmp_path, setting, message):
    reader = Reader(tmp_path / "reader", setting + "\n")
    result = CliRunner().invoke(main, ["--config", str(reader.config), "aggregate"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "communique.toml:6:" in lines[0] and message in lines[0], lines
