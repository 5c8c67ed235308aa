"""What a run holds between fetching and storing, and what a poll that changed nothing costs.

A run over many sources whose parsing is slower than their fetching (the parser slowed by
the ``COMMUNIQUE_TEST_PARSE_DELAY`` test hook) holds no more bodies than its limits allow,
measured from outside: the loopback server counts the responses it has sent, the database
(read beside the run) the sources stored. The order in which sources are fetched and the
places and bytes a run hands out are pinned on the parts themselves (``Turns``,
``InFlight``), without network or database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from click.testing import CliRunner
from feedserver import FeedServer, Route, rss

from cli import main
from sources.follow.inflight import Bounds, InFlight, bounds
from sources.follow.turns import Turns

COMMUNIQUE = Path(sys.executable).parent / "communique"
CONFIG = """\
[site]
base_url = "https://example.org/"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""


def opml(urls: list[str]) -> str:
    outlines = "".join(
        f'<outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'


def feed(prefix: str, n: int) -> bytes:
    return rss(
        [
            {
                "title": f"{prefix} item {i}",
                "link": f"https://news.example/{prefix}/{i}",
                "guid": f"urn:{prefix}:{i}",
                "description": f"<p>Text of {prefix} item {i}.</p>",
            }
            for i in range(n)
        ]
    )


class Sent:
    """Responses the server has finished sending, counted as they go."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def route(self, server: FeedServer, body: bytes) -> Route:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            server._answer(handler, Route(body=body))
            with self._lock:
                self.count += 1

        return Route(handler=answer)


def stored(db: Path) -> int | None:
    """Documents whose fetch is committed: sources fetched, and archive documents read (a
    read-only connection beside the run's); None while there is nothing to read yet."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
            return c.execute(
                "SELECT (SELECT COUNT(*) FROM sources WHERE last_fetch_at IS NOT NULL)"
                " + (SELECT COUNT(*) FROM archives)"
            ).fetchone()[0]
    except sqlite3.Error:  # the schema is being made
        return None


def run_measuring_bodies(
    root: Path, urls: list[str], sent: Sent, settings: str, delay: float
) -> tuple[dict, int]:
    """``aggregate --json`` over the feeds ``urls``, its parser slowed by ``delay`` seconds a
    document; the summary, and the most bodies it held at once: responses ``sent`` whose
    document was not stored yet. (The sent count is read before the stored one, so the
    measure can only fall short of what the run held, never exceed it.)"""
    (root / "communique.toml").write_text(CONFIG + settings, encoding="utf-8")
    (root / "sources.opml").write_text(opml(urls), encoding="utf-8")
    environment = dict(os.environ, COMMUNIQUE_TEST_PARSE_DELAY=str(delay))
    process = subprocess.Popen(
        [str(COMMUNIQUE), "--config", str(root / "communique.toml"), "aggregate", "--json"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    most = 0
    while process.poll() is None:
        answered = sent.count
        done = stored(root / "c.db")
        if done is not None:
            most = max(most, answered - done)
        time.sleep(0.005)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    return json.loads(out), most


LIMITS = "concurrency = 4\nper_host = 4\nworkers = 1\n"  # 2 x (4 + 1) = 10 in flight


def test_a_run_whose_parsing_is_behind_holds_no_more_bodies_than_its_limits(tmp_path, server):
    """60 feeds fetched in a blink, parsed at 30 ms each by one parser: the run holds at
    most 2 x (concurrency + workers) bodies at once (it held 44 of them before)."""
    sent, urls = Sent(), []
    for i in range(60):
        server.route(f"/f{i}.xml", sent.route(server, feed(f"f{i}", 3)))
        urls.append(server.url(f"/f{i}.xml"))
    summary, most = run_measuring_bodies(tmp_path, urls, sent, LIMITS, delay=0.03)
    assert (summary["sources"], summary["ok"], summary["items_new"]) == (60, 60, 180)
    assert 2 <= most <= 2 * (4 + 1)


def test_archive_documents_count_with_the_feeds(tmp_path, server):
    """30 feeds, each linking one archive document (RFC 5005) its history walk reads: the
    feeds and the archive documents together stay within the same bound."""
    sent, urls = Sent(), []
    for i in range(30):
        archive = server.url(f"/h{i}-1.xml")
        server.route(f"/h{i}.xml", sent.route(server, history(f"h{i}", 0, archive)))
        server.route(f"/h{i}-1.xml", sent.route(server, history(f"h{i}", 1, None)))
        urls.append(server.url(f"/h{i}.xml"))
    summary, most = run_measuring_bodies(tmp_path, urls, sent, LIMITS, delay=0.03)
    assert (summary["ok"], summary["archives"], summary["items_new"]) == (30, 30, 120)
    assert 2 <= most <= 2 * (4 + 1)


def history(prefix: str, page: int, prev: str | None) -> bytes:
    """Page ``page`` of a feed's history (Atom, two entries), linking the one before."""
    entries = "".join(
        f"<entry><id>urn:{prefix}:{page}:{n}</id><title>{prefix} {page} {n}</title>"
        f'<link href="https://history.example/{prefix}/{page}/{n}"/>'
        f"<updated>2025-01-0{n + 1}T09:00:00Z</updated><summary>Item.</summary></entry>"
        for n in range(2)
    )
    older = f'<link rel="prev-archive" href="{prev}"/>' if prev else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:{prefix}</id><title>{prefix}</title><updated>2025-02-01T00:00:00Z</updated>"
        f'<link href="https://history.example/{prefix}/"/>{older}{entries}</feed>'
    ).encode()


def test_a_run_of_304s_writes_the_sources_states_many_to_a_transaction(tmp_path, server):
    """A 304 changes its source's state alone, so a run of them writes those states many to
    a transaction, not one each: seen in the write-ahead log, which holds every page each
    transaction wrote (kept after the run while another connection has the database open).
    One transaction per source wrote a page, or more, each: 300 and up."""
    urls = []
    for i in range(300):
        server.route(f"/q{i}.xml", Route(body=feed(f"q{i}", 1)))
        urls.append(server.url(f"/q{i}.xml"))
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG + "concurrency = 16\nper_host = 16\nworkers = 1\n", "utf-8")
    (tmp_path / "sources.opml").write_text(opml(urls), encoding="utf-8")
    runner, command = CliRunner(), ["--config", str(config), "aggregate", "--json"]
    first = runner.invoke(main, command, catch_exceptions=False)
    assert json.loads(first.stdout)["ok"] == 300, first.output
    db = tmp_path / "c.db"
    with contextlib.closing(sqlite3.connect(db)) as watcher:
        page = watcher.execute("PRAGMA page_size").fetchone()[0]
        watcher.execute("SELECT COUNT(*) FROM sources").fetchone()  # it reads the log too
        second = runner.invoke(main, [*command, "--all"], catch_exceptions=False)
        summary = json.loads(second.stdout)
        log = db.with_name("c.db-wal").stat().st_size
    assert (summary["not_modified"], summary["failed"]) == (300, 0), second.output
    frames = (log - 32) // (page + 24)
    assert frames < 100, f"{frames} pages written for 300 sources' states"
    listed = runner.invoke(main, ["--config", str(config), "sources", "list", "--json"])
    assert {row["status"] for row in json.loads(listed.stdout)} == {"304"}


def test_a_run_killed_while_304s_wait_for_their_batch_loses_nothing_stored(tmp_path, server):
    """304s wait for their batch, and a run killed meanwhile loses them: what was stored
    stays whole, and the next run polls every source as if the killed run never had."""
    gate = threading.Event()
    answered = Sent()
    urls = []
    for i in range(40):
        body = feed(f"k{i}", 2)
        server.route(f"/k{i}.xml", Route(body=body))
        urls.append(server.url(f"/k{i}.xml"))
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG + "concurrency = 16\nper_host = 16\nworkers = 1\n", "utf-8")
    (tmp_path / "sources.opml").write_text(opml(urls), encoding="utf-8")
    command = [str(COMMUNIQUE), "--config", str(config), "aggregate", "--json", "--all"]
    assert json.loads(subprocess.run(command, capture_output=True, check=True).stdout)["ok"] == 40
    db = tmp_path / "c.db"
    before = query(db, "SELECT * FROM entries ORDER BY id")
    for i in range(40):  # a few sources hold the run open; the others answer 304 at once
        if i % 8 == 0:
            server.route(f"/k{i}.xml", gated(server, feed(f"k{i}", 2), gate))
        else:
            server.route(f"/k{i}.xml", answered.route(server, feed(f"k{i}", 2)))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while answered.count < 35 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert answered.count == 35
        time.sleep(0.3)  # judged on the storing thread, waiting for their batch
    finally:
        process.kill()
        process.communicate(timeout=10)
        gate.set()
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT * FROM entries ORDER BY id") == before
    assert {status for (status,) in query(db, "SELECT last_status FROM sources")} <= {"200", "304"}
    again = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    assert (again["not_modified"], again["failed"], again["items_new"]) == (40, 0, 0)
    assert query(db, "SELECT * FROM entries ORDER BY id") == before


def gated(server: FeedServer, body: bytes, gate: threading.Event) -> Route:
    """A feed that answers once the test opens ``gate``."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        gate.wait(timeout=30)
        with contextlib.suppress(OSError):  # the run may have been killed meanwhile
            server._answer(handler, Route(body=body))

    return Route(handler=answer)


def query(db: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql).fetchall()


# --- the parts ----------------------------------------------------------------------------------


def test_sources_go_in_list_order_each_host_as_its_turns_allow():
    hosts = ["a", "a", "a", "b", "a", "c", "b"]
    turns = Turns(hosts, per_host=2)
    assert [turns.next(), turns.next(), turns.next(), turns.next(), turns.next()] == [0, 1, 3, 5, 6]
    assert turns.next() is None and turns.left == 2  # a's third and fourth wait for a turn
    turns.done(3)  # b's turn frees nothing waiting
    assert turns.next() is None
    turns.done(0)
    assert turns.next() == 2
    turns.done(1)
    assert turns.next() == 4
    assert turns.next() is None and turns.left == 0


def test_every_host_waits_for_its_own_turns_only():
    turns = Turns(["a"] * 50 + ["b", "c"], per_host=2)
    assert [turns.next() for _ in range(4)] == [0, 1, 50, 51]


def test_the_bounds_are_the_limits_multiples():
    assert bounds(concurrency=16, workers=2, max_bytes=10 << 20) == Bounds(
        places=36, budget=10 << 20, pollers=20
    )


def test_places_are_given_in_order_and_no_more_than_the_bound():
    async def scenario() -> list[str]:
        in_flight = InFlight(Bounds(places=2, budget=100, pollers=2))
        seen: list[str] = []
        first, second, third = (in_flight.place() for _ in range(3))
        await first.take()
        await second.take()
        waiting = asyncio.create_task(third.take())
        await asyncio.sleep(0)
        seen.append(f"waiting={not waiting.done()} documents={in_flight.documents}")
        second.give_back()
        second.give_back()  # twice: nothing more
        await waiting
        seen.append(f"given documents={in_flight.documents}")
        return seen

    assert asyncio.run(scenario()) == ["waiting=True documents=2", "given documents=2"]


def test_bodies_take_their_size_a_large_one_alone_and_fetching_waits_meanwhile():
    async def scenario() -> list[str]:
        in_flight = InFlight(Bounds(places=10, budget=100, pollers=4))
        seen: list[str] = []
        small, large, later = (in_flight.place() for _ in range(3))
        await small.take()
        await large.take()
        await small.hold(b"x" * 60)
        holding = asyncio.create_task(large.hold(b"y" * 500))  # more than the whole budget
        fetching = asyncio.create_task(later.take())
        await asyncio.sleep(0)
        seen.append(f"large waits={not holding.done()}, fetch waits={not fetching.done()}")
        small.give_back()
        await holding
        await fetching
        seen.append(f"bytes={in_flight.bytes} documents={in_flight.documents}")
        large.give_back()
        later.give_back()
        seen.append(f"bytes={in_flight.bytes} documents={in_flight.documents}")
        return seen

    assert asyncio.run(scenario()) == [
        "large waits=True, fetch waits=True",
        "bytes=100 documents=2",
        "bytes=0 documents=0",
    ]


def test_a_place_whose_taker_gives_up_goes_to_the_next():
    async def scenario() -> tuple[int, int]:
        in_flight = InFlight(Bounds(places=1, budget=100, pollers=1))
        first, quitter, next_one = (in_flight.place() for _ in range(3))
        await first.take()
        quitting = asyncio.create_task(quitter.take())
        waiting = asyncio.create_task(next_one.take())
        await asyncio.sleep(0)
        quitting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await quitting
        first.give_back()
        await waiting
        return in_flight.documents, len(in_flight._for_places)

    assert asyncio.run(scenario()) == (1, 0)
